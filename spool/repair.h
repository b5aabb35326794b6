// Repair: rebuilds a damaged spool database with leveldb::RepairDB and
// reports what the repair could and could not account for.
//
// Contract. RepairDatabase must be called with the database closed and its
// LOCK held by the caller (RepairDB takes no lock). Before RepairDB archives
// the write-ahead logs, it scans them for the e/ keys they put and delete
// (LevelDB's log records are WriteBatches, whose keys appear verbatim), so
// the caller can count, after the repair, exactly which of the events the
// logs held are gone: a record whose header or payload was damaged drops the
// rest of its 32 KiB block in RepairDB, silently but for LevelDB's info log.
// It also watches RepairDB's info log for tables it dropped or could read
// only in part: what those held cannot be counted (tables are compressed),
// so the report says the loss is unknown.
//
// HasDatabaseFiles tells a directory that still holds tables or logs (so a
// missing CURRENT must be repaired, never replaced by a fresh database,
// which would delete the old tables) from an empty one.
//
// Thread-compatible: one call at a time per database (the caller's lock).
// Fails only with RepairDB's own error; a log that cannot be scanned makes
// the report's loss unknown instead.

#ifndef ZENML_SPOOL_REPAIR_H_
#define ZENML_SPOOL_REPAIR_H_

#include <leveldb/options.h>
#include <leveldb/status.h>

#include <cstdint>
#include <set>
#include <string>

namespace leveldb {
class Env;
}

namespace zenml::spool {

struct RepairReport {
  // Sequences of events the logs put and did not delete afterwards: each one
  // must exist (as e/ or, dead-lettered, as d/) after the repair, or it was
  // lost to the damage.
  std::set<uint64_t> log_live_events;
  // RepairDB dropped a table, or kept only part of one.
  bool tables_damaged = false;
  // RepairDB dropped bytes of a log (damaged records).
  bool logs_damaged = false;
  // A log could not be scanned: its losses cannot be counted.
  bool scan_failed = false;
  // A log older than the newest was cut short (LogTailGuardEnv::
  // OlderLogCut): what the cut took is gone from disk, so only a lower
  // bound of the loss is known.
  bool older_log_cut = false;
  // Not a repair: more than one log was replayed, and an older one cut at
  // a record boundary would look whole, so the counters are checked
  // against the events. Counts as a repair only if events are missing.
  bool check_only = false;
  // The last event's AppendTotals did not add up (or it was unreadable), so
  // the counters the open found lag by an unknown number: only a lower
  // bound of the loss is known.
  bool totals_mismatch = false;
};

// True if `db_path` holds a table (.ldb, .sst), a log (.log) or a MANIFEST.
bool HasDatabaseFiles(leveldb::Env* env, const std::string& db_path);

// Scans the logs, then runs leveldb::RepairDB(db_path, options) with an info
// log that also feeds `report`.
leveldb::Status RepairDatabase(const std::string& db_path,
                               leveldb::Options options, RepairReport* report);

// Exposed for tests: adds to `live` the e/ sequences put, and removes the
// ones deleted, by the log bytes `data` (a .log file's contents). A put
// counts only when what follows its key looks like its value (a length that
// fits, then an intact value or a header of the right shape): a lower
// bound, as an entry whose key a block header or the damage splits is
// missed.
void ScanLogBytesForEvents(const std::string& data, std::set<uint64_t>* live);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_REPAIR_H_
