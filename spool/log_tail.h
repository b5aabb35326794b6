// LogTailIsComplete: whether a LevelDB log file (a write-ahead .log or a
// MANIFEST) ends with a complete record.
//
// Why: with Options::reuse_logs, LevelDB appends new records after whatever
// the previous writer left. If that writer was killed in the middle of a
// record (a SIGKILL can cut a write() at a page boundary), the reader drops
// the partial record silently on recovery but then appends after it, so the
// next recovery sees garbage followed by good records and drops the rest of
// the 32 KiB block: acknowledged writes lost (google/leveldb#1287). The spool
// checks the tails before opening and turns reuse_logs off for that one open
// when a tail is incomplete, so LevelDB starts a fresh log instead.
//
// Only the last 32 KiB block is parsed (records never straddle a block
// header), so the check reads at most 32 KiB per file. Thread-safe.

#ifndef ZENML_SPOOL_LOG_TAIL_H_
#define ZENML_SPOOL_LOG_TAIL_H_

#include <cstdint>
#include <set>
#include <string>

namespace leveldb {
class Env;
}

namespace zenml::spool {

// True if `fname` is empty or its last block parses into whole records ending
// with a FULL or LAST fragment. False if the tail is incomplete or the file
// cannot be read (the caller then takes the safe path).
bool LogTailIsComplete(leveldb::Env* env, const std::string& fname);

// True if the newest write-ahead log and the current MANIFEST of the database
// at `db_path` both end with complete records (or do not exist).
bool DatabaseLogTailsComplete(leveldb::Env* env, const std::string& db_path);

// A log whose last block does not parse is either torn by a crash (the
// writer died inside its last record: nothing follows it) or damaged (a
// record header in the middle was changed: valid records, whose CRC-32C
// matches, follow it). LevelDB cannot tell them apart in the last block and
// silently drops everything from the bad record on, including synced
// events. For a damaged tail this returns the sequences of the e/ events the
// dropped bytes put (scanned as repair.h does), so the spool can count the
// ones that are gone after the open; for a complete or torn tail, nothing.
struct LogTailDamage {
  bool damaged = false;
  std::set<uint64_t> events;
};
LogTailDamage FindLogTailDamage(leveldb::Env* env, const std::string& fname);

// The newest write-ahead log of the database at `db_path`; empty if none.
std::string NewestLogFile(leveldb::Env* env, const std::string& db_path);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_LOG_TAIL_H_
