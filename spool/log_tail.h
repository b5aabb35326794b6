// LogTailIsComplete: whether a LevelDB log file (a write-ahead .log or a
// MANIFEST) ends with a complete record.
//
// Why: with Options::reuse_logs, LevelDB appends new records after whatever
// the previous writer left. If that writer was killed in the middle of a
// record (a SIGKILL can cut a write() at a page boundary), the reader drops
// the partial record silently on recovery but then appends after it, so the
// next recovery sees garbage followed by good records and drops the rest of
// the 32 KiB block: acknowledged writes lost (google/leveldb#1287). The spool
// opens the database through LogTailGuardEnv (below), which lets LevelDB
// reuse a log or MANIFEST only when the bytes LevelDB itself just read from
// it end with a complete record; otherwise LevelDB starts a fresh one.
//
// Only the last 32 KiB block is parsed (records never straddle a block
// header), so a check on disk reads at most 32 KiB per file. Thread-safe.

#ifndef ZENML_SPOOL_LOG_TAIL_H_
#define ZENML_SPOOL_LOG_TAIL_H_

#include <leveldb/env.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

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

// The same guarantee as DatabaseLogTailsComplete, without reading anything
// twice: an Env wrapper to open the database through, with reuse_logs on.
// LevelDB's own recovery reads every log it replays and the MANIFEST whole,
// in order; this wrapper keeps the last block of what each such read saw.
// When LevelDB then asks to append to one of them (to reuse it), the wrapper
// refuses unless those bytes end with a complete record, and LevelDB does
// what it does with reuse_logs off for that file: the log's records go to a
// table and a fresh log is started, or a fresh MANIFEST is written. A file
// it did not see read whole is checked on disk (LogTailIsComplete). So a
// one-shot open lists the directory, reads CURRENT, the MANIFEST and the log
// once each, as LevelDB alone does (before, the pre-open check read all
// four a first time, and without the database's lock).
//
// Reset() before each DB::Open. Thread-safe; `target` is not owned and must
// outlive it, and it must outlive the database opened through it.
class LogTailGuardEnv final : public leveldb::EnvWrapper {
 public:
  explicit LogTailGuardEnv(leveldb::Env* target);
  ~LogTailGuardEnv() override;

  // Forgets what earlier opens read.
  void Reset();
  // How many reuses it refused since Reset().
  int refused() const;
  // Whether LevelDB read the newest write-ahead log (the highest-numbered
  // one it opened) whole since Reset(), and if so, with an incomplete tail:
  // then `*damage` is what FindLogTailDamage says of it. False if it read
  // no log whole.
  bool NewestLogTail(bool* incomplete, LogTailDamage* damage) const;
  // Whether LevelDB read, since Reset(), a write-ahead log older than the
  // newest one whole and found its tail incomplete. Only the newest log can
  // end in a torn record (LevelDB moves to a new log after a write to the
  // old one returned), so such a log was cut by damage, and what the cut
  // removed LevelDB dropped without a word.
  bool OlderLogCut() const;
  // How many write-ahead logs LevelDB read whole since Reset(): more than
  // one after a process died between LevelDB's switch to a new log and the
  // flush of the old one's memtable, or closed the database during that
  // flush (LevelDB then drops the flush's table: "Deleting DB during
  // memtable compaction"), which a busy writer's close often does.
  int LogsReadWhole() const;
  // Whether the write-ahead logs LevelDB read since Reset() were each read
  // whole, each holds at least one whole batch, and their batches' LevelDB
  // sequence numbers run on without a gap within each log and from each log
  // to the next. Then no log but the newest lost records at its end: a cut
  // at a record boundary, which looks whole, leaves a gap before the next
  // log's first batch. (What the newest log lost at its end, nothing after
  // it counted on.) True if no log was read.
  bool LogsInSequence() const;

  leveldb::Status NewSequentialFile(const std::string& fname,
                                    leveldb::SequentialFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& fname,
                                    leveldb::WritableFile** result) override;

  struct Watch;  // what was read of one file (log_tail.cc)

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Watch>> watches_;  // guarded by mu_
  int refused_ = 0;                                        // guarded by mu_
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_LOG_TAIL_H_
