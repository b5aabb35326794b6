// Spool: the durable, ordered, bounded store of pending analytics events.
//
// One LevelDB database at `<options.dir>/spool`, shared by every process of the
// user (trackers, the uploader, the dump tool). LevelDB admits one process at a
// time, so a Spool opens the database only for the duration of one call (one
// short transaction) and closes it again, unless Hold() keeps it open for a
// burst of calls. Inside one process all Spools of the same path share one
// handle through a registry (a second leveldb::DB::Open in one process would
// silently drop the cross-process lock).
//
// Key layout (DESIGN.md "Spool keys"):
//   e/<8-byte big-endian seq>   one message's JSON bytes, exactly as sent
//   d/<8-byte big-endian seq>   a dead letter {status, reason, at, message}
//   c/<name>                    metadata: next_seq, count, bytes, drops,
//                               limits (c/limit/...), repairs, ...
//   i/<inbox file name>         this inbox file has been ingested
//
// Item lifecycle (crashpad style):
//   Append ──> e/ (pending) ──Peek──> in flight (still e/) ──Ack──> deleted
//                                         └──DeadLetter──> d/ (kept, counted)
//   d/ ──RequeueDeadLetters──> e/ (same sequence: original order; one batch)
//   dead-letter bounds (count, bytes, age; spool/dead_letters.h), stored in
//   c/limit/dead_*, applied where dead letters enter (DeadLetter)
//   Append when the database is busy past lock_wait ──> inbox/<file>
//        ──(next writing call: Append, Peek, Ack, DeadLetter, RecordUpload;
//           one WriteBatch with its i/ marker)──> e/ ; file unlinked
//   Reads (Stats, Scan, PeekDeadLetters) ingest nothing and apply no bounds.
//   bounds (count, bytes, age), stored in c/limit/, applied where events
//   enter (Append, ingestion) ──> oldest e/ deleted, counted by reason
//
// Thread safety: a Spool is thread-safe; calls are serialized internally.

#ifndef ZENML_SPOOL_SPOOL_H_
#define ZENML_SPOOL_SPOOL_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/status.h"
#include "spool/dead_letters.h"

namespace leveldb {
class Env;
}

namespace zenml::spool {

using core::Result;
using core::Status;

// The spool's bounds. They are applied only where events enter the spool
// (Append and inbox ingestion; spool/bounds.h), oldest events first, each
// drop counted by reason. Reads never apply them.
struct SpoolLimits {
  uint64_t max_events = 100'000;
  uint64_t max_bytes = 64ull << 20;  // 64 MiB of message bytes
  std::chrono::seconds max_age = std::chrono::hours(24 * 30);

  // No bound at all: for a writer that must keep everything (a bundle being
  // sent). Readers need no such thing: they never apply bounds.
  static SpoolLimits Unbounded() {
    return {UINT64_MAX, UINT64_MAX, std::chrono::seconds::max()};
  }
  bool operator==(const SpoolLimits&) const = default;
};

struct SpoolOptions {
  // The analytics directory, normally `<config dir>/analytics`. The database
  // is `dir/spool`, inbox files are in `dir/inbox`. Created 0700 on first
  // write; refused if it is a symlink or owned by another user.
  std::filesystem::path dir;

  // The writer's bounds (SpoolLimits). Each one set here is stored in the
  // spool (c/limit/...) by the next Append or inbox ingestion this Spool
  // does, and from then on holds for every process. Unset (the default):
  // keep what the spool has stored, or SpoolLimits' defaults if it never
  // stored one. So an opener that sets nothing (a reader, a dump, the
  // uploader) never changes, and never lowers, the stored bounds; a writer
  // that sets one replaces it, lower or higher (last writer wins).
  std::optional<uint64_t> max_events;
  std::optional<uint64_t> max_bytes;
  std::optional<std::chrono::seconds> max_age;

  // The dead letters' bounds (spool/dead_letters.h), stored and applied the
  // same way (c/limit/dead_*), by the next DeadLetter this Spool does.
  std::optional<uint64_t> max_dead_letters;
  std::optional<uint64_t> max_dead_letter_bytes;
  std::optional<std::chrono::seconds> max_dead_letter_age;

  // How long a call retries (jittered backoff) while another process holds
  // the database. Past it, Append writes to the inbox and other calls return
  // Busy.
  std::chrono::milliseconds lock_wait{2000};

  // fsync every write (Append, Ack, ...). Only tests and benchmarks turn it
  // off.
  bool sync = true;

  // LevelDB's write buffer (memtable) for the opens this Spool makes,
  // clamped to [64 KiB, 64 MiB]. The default keeps every open cheap: with
  // reuse_logs an open replays the log, which grows up to this size. A
  // process that holds the database across many deleting transactions (the
  // uploader) passes more: each full buffer becomes a level-0 table of
  // tombstones, and fewer of them mean fewer compactions rewriting them
  // (docs/BENCHMARKS.md "Uploader"). When the database opened with more
  // than the default is closed by Release() or YieldToWaiters(), the buffer
  // is first written to a table, so the next opener replays a small log
  // (after a crash it replays the bigger one once: nothing is lost).
  size_t write_buffer_bytes = 256 << 10;

  // Asked before inbox files are ingested (by any call that writes: Append,
  // Peek, Ack, ...), under the database lock and only when the inbox holds
  // a file; false leaves them in the inbox. Empty: always allowed.
  // zenml-upload and zenml-spool-dump pass the user's consent
  // (uploader/ingest_consent.h). `opt-out` purges the database and then
  // sweeps the inbox: a call between the two must not carry an inbox file
  // into the database just purged. Called one call at
  // a time for the Spool objects of one process and directory.
  std::function<bool()> ingest_allowed;

  // Environment LevelDB runs on; nullptr means leveldb::Env::Default(). Tests
  // pass a fault-injecting wrapper or an in-memory env. Not owned.
  leveldb::Env* env = nullptr;

  // Time source for bounds by age and metadata timestamps. Not owned.
  const core::Clock* clock = &core::RealClock();
};

// One pending event.
struct Entry {
  std::string key;   // "e/" + 8-byte big-endian sequence; pass to Ack
  uint64_t seq = 0;  // the sequence decoded from key
  std::string json;  // the message exactly as it will be sent
};

// One pending event where it lies: the views point into the database's
// buffers and are valid only during the visitor's call that receives them.
struct EntryView {
  std::string_view key;  // as Entry::key
  uint64_t seq = 0;
  std::string_view json;
};

// Receives one event; returns false to stop the walk.
using EntryVisitor = std::function<bool(const EntryView&)>;

// A message the server refused on its own (after splitting).
struct DeadLetterEntry {
  uint64_t seq = 0;
  int status = 0;       // HTTP status the server answered
  std::string reason;   // the server's reason, truncated
  core::WallTime at;    // when it was dead-lettered
  std::string message;  // the message JSON
};

// Who is about to use the database, for fair turns between processes
// (spool/turns.h): a writer steps aside while a reader waits for the
// database, so readers (who have no inbox to fall back on) are not starved
// by processes that write continuously. Append is a writer; every other
// call is a reader.
enum class Role {
  kReader,
  kWriter,
};

// Where an Append landed.
enum class AppendTarget {
  kDatabase,  // in the LevelDB spool
  kInbox,     // the database stayed busy past lock_wait: in an inbox file
};

// Why events left the spool without being delivered.
enum class DropReason {
  kMaxEvents,   // count bound
  kMaxBytes,    // size bound
  kMaxAge,      // age bound
  kCorruption,  // lost to a repaired corruption
  // Lost by a writer (client::Client) before they reached the spool, and
  // recorded with its next Append (WriterDrops):
  kQueueFull,  // its queue was full (Track() returned ResourceExhausted)
  kDiskFull,   // its writes kept failing (a full disk): queue overflow
               // meanwhile, and what was still unwritten at its exit
};
std::string_view DropReasonName(DropReason reason);  // "max_events", ...

// Events a writer lost before they reached the spool (DropReason above).
struct WriterDrops {
  uint64_t queue_full = 0;
  uint64_t disk_full = 0;
  bool empty() const { return queue_full == 0 && disk_full == 0; }
};

// The result of one uploader run, kept in the metadata for `status`/`--stats`.
struct UploadRecord {
  core::WallTime at;
  std::string
      outcome;  // "success", "retry", "rate_limited", "config_error", ...
  uint64_t sent = 0;
  uint64_t requests = 0;
  uint64_t dead_lettered = 0;
  uint64_t remaining = 0;
  std::optional<core::WallTime> not_before;  // set after a 429
  std::string detail;                        // one line for humans
};

struct SpoolStats {
  uint64_t count = 0;     // pending events
  uint64_t bytes = 0;     // their message bytes
  uint64_t next_seq = 0;  // the sequence the next event will get
  uint64_t dead_letters = 0;
  uint64_t dead_letter_bytes = 0;           // stored d/ values
  std::map<std::string, uint64_t> dropped;  // by DropReasonName
  // Dead letters deleted by their bounds, by DropReasonName (max_events for
  // the count bound, max_bytes, max_age).
  std::map<std::string, uint64_t> dead_letters_dropped;
  DeadLetterLimits dead_letter_limits;  // in force
  // Inbox files not yet ingested: their events are pending too but not in
  // `count` (Stats never ingests); each holds at least one event.
  uint64_t inbox_files = 0;
  // The events those files hold, from their headers (not yet ingested, so
  // not in `count`; an inbox file already ingested by a process that died
  // before unlinking it is not counted).
  uint64_t inbox_events = 0;
  // The bounds in force: stored in the spool, else the defaults.
  SpoolLimits limits;
  // Repairs of a damaged database (RepairDB) so far, and whether any of them
  // lost events that could not be counted (a table that could not be read
  // whole, metadata that had to be rebuilt): then dropped["corruption"] is a
  // lower bound. Reset by Purge.
  uint64_t repairs = 0;
  bool corruption_loss_unknown = false;
  // LevelDB writes that failed (each was reported to its caller as an
  // IoError); persisted with the next successful write.
  uint64_t write_errors = 0;
  std::optional<UploadRecord> last_upload;
  std::optional<core::WallTime> not_before;
  uint64_t format_version = 0;  // 0: no spool exists yet
};

class Spool {
 public:
  // Cheap: touches no file until the first call.
  explicit Spool(SpoolOptions options);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  const SpoolOptions& options() const { return options_; }

  // Appends `messages` (serialized JSON) in one atomic LevelDB WriteBatch that
  // also carries the new c/next_seq, count and byte totals and any drops the
  // bounds require; synced if options.sync. Sequences are consecutive and
  // increase across processes. If another process holds the database longer
  // than lock_wait, writes the batch as one inbox file (temp, fsync, rename)
  // and returns kInbox. Fails with IoError if neither is possible: then
  // nothing was written.
  //
  // `drops`: events the writer lost before they got here, added to the
  // c/drop/ counters in the same batch. They are recorded only when the
  // result is kDatabase (an inbox file does not carry them); with no
  // messages, Append writes just the counters (kInbox, nothing written, when
  // the database is busy).
  Result<AppendTarget> Append(std::span<const std::string> messages,
                              const WriterDrops& drops = {});

  // Writes `messages` as one inbox file (temp name, fsync, rename) without
  // opening or waiting for the database: for a writer that may not wait any
  // longer (a Client at exit, past its flush timeout). The next process that
  // opens the spool ingests the file exactly once. Fails with IoError if the
  // file cannot be written: then nothing was written. An empty span writes
  // nothing and returns OK.
  Status AppendToInbox(std::span<const std::string> messages);

  // Returns, in order, pending events whose key sorts after `after_key`
  // (empty: from the oldest), at most `max_count` of them and at most
  // `max_bytes` of message bytes (but always the first one if any is left).
  // Seeks directly past `after_key`, so acknowledged tombstones are not walked.
  // Ingests inbox files first (decided: the uploader must see events that a
  // busy writer left in the inbox; ingestion is an entry point, so it applies
  // the stored bounds to what enters). Never applies the bounds otherwise:
  // an idle spool keeps its events, however old, until something enters.
  // An empty vector means nothing is pending.
  // Every call that only reads (Peek, Ack, DeadLetter, PeekDeadLetters,
  // Stats, Purge) creates nothing when no spool exists yet. Busy if another
  // process holds the database past lock_wait; a damaged database is
  // repaired (RepairDB) and the loss counted as DropReason::kCorruption (see
  // SpoolStats::corruption_loss_unknown).
  Result<std::vector<Entry>> Peek(std::string_view after_key, size_t max_bytes,
                                  size_t max_count);

  // Like Peek, but a pure read: does not ingest the inbox (events waiting in
  // inbox files are not returned: ScanInbox() reads them) and does not
  // compact. For tools that must change nothing (zenml-spool-dump,
  // its export); the uploader uses Peek.
  // The events waiting in inbox files not yet ingested, oldest file first,
  // each file's events in order: what the next writing call will append after
  // the database's events. A pure read (nothing ingested, nothing deleted);
  // entries have an empty `key` and `seq` 0 (they get theirs when ingested).
  // A file cut short yields the events before the damage.
  Result<std::vector<Entry>> ScanInbox();

  Result<std::vector<Entry>> Scan(std::string_view after_key, size_t max_bytes,
                                  size_t max_count);

  // Like Scan, but hands each event to `visit` in place instead of copying
  // it (a 1,000,000-event dump: the copies and their allocations were a
  // quarter of its CPU). Stops after the same limits, or when `visit`
  // returns false; returns how many events it visited (0: none left). A
  // repair in the middle resumes after the last one visited: none twice.
  Result<size_t> ScanEach(std::string_view after_key, size_t max_bytes,
                          size_t max_count, const EntryVisitor& visit);

  // Deletes exactly the given event keys (ones already gone are ignored) and
  // updates count and bytes in the same batch. Compacts the drained range
  // after large deletes.
  Status Ack(std::span<const std::string> keys);

  // Moves event `key` to the dead-letter area with the server's answer, and
  // in the same batch applies the dead letters' bounds (dead_letters.h).
  Status DeadLetter(std::string_view key, int http_status,
                    std::string_view reason);

  // Moves dead letters back to the queue under their original sequences, in
  // one WriteBatch (spool/dead_letters.h). Creates nothing when no spool
  // exists (all zero).
  Result<RequeueResult> RequeueDeadLetters(const RequeueOptions& options);

  // Dead letters in sequence order, after `after_seq`, at most `max_count`.
  // A read: does not ingest the inbox.
  Result<std::vector<DeadLetterEntry>> PeekDeadLetters(uint64_t after_seq,
                                                       size_t max_count);

  // Counts, bytes, drops, limits, last upload: read from metadata, O(1).
  // A read: it neither ingests the inbox (inbox_files counts what waits
  // there) nor applies bounds nor removes anything; the only write it can
  // cause is the repair of a damaged database, which is never deferred.
  // All zero, format_version 0, when no spool exists yet.
  Result<SpoolStats> Stats();

  // Deletes every pending event, dead letter and inbox file. Returns how many
  // pending events were deleted (inbox files are deleted unread). Drop
  // counters, repair counters and upload history are reset; the stored
  // limits are kept.
  Result<uint64_t> Purge();

  // Stores the result of an uploader run (and its not-before time, if any).
  Status RecordUpload(const UploadRecord& record);

  // Keeps the database open across calls until Release() (a busy writer);
  // other processes wait meanwhile, so hold only while there is work.
  // `role` is how Hold opens the database (a writer that will Append passes
  // Role::kWriter, so it steps aside while a reader waits). A reader's hold
  // yields between calls: when a reader of another process waits, the
  // reader's next call closes the database, steps aside until the other
  // has it, and reopens it (spool/turns.h). A writer's hold is never given
  // up inside a call (a writer may have checked something, such as consent,
  // that must still hold when it writes): a writer that holds across
  // batches asks ReaderWaiting() between them and, if so, Releases and
  // Holds again before it checks and writes.
  Status Hold(Role role = Role::kReader);

  // Whether a reader of another process waits for the database (one flock
  // call; false when the database is not open here).
  bool ReaderWaiting();
  // Whether a writer of another process waits for the database (the same).
  bool WriterWaiting();
  void Release();

  // For a reader that holds across many short transactions (an uploader
  // draining): between two of them, if a process waits for the database,
  // releases this hold (the database closes if it was the last) and, for a
  // writer, pauses until the writer has the database (at most
  // kWriterTurnWait, turns.h), so that trackers are not sent to their inbox
  // for as long as a drain lasts. Returns whether it released: the caller
  // then Holds again for its next transaction (and queues for its turn).
  // False, doing nothing, when nobody waits or nothing is held here.
  bool YieldToWaiters();

  // Whether the database, open under Hold(), has level-0 tables enough
  // (LevelDB's compaction trigger, 4) that LevelDB's background thread is
  // compacting them. Closing the database stops that compaction and the next
  // open starts it over, so a reader draining the spool keeps holding while
  // this is true and goes on reading meanwhile; a Peek under Hold() leaves
  // crowded level-0 tables to that background compaction instead of
  // compacting them in the foreground. False when the database is not open.
  bool CompactingLevel0();

 private:
  class Impl;
  SpoolOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_SPOOL_H_
