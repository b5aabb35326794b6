// Spool::Impl: the spool's transaction engine, declared here so that its
// parts can live in one file each, as leveldb's db_impl does:
//   spool.cc         the transactions (Append, Peek, Ack, DeadLetter, Stats,
//                    Purge, ...)
//   spool_append.cc  the append path: bounds, counters, the one write
//   spool_open.cc    the handle registry, Run (one transaction), opening the
//                    database, compaction policy
//   spool_repair.cc  repair and recount after damage, format migration
//   spool_inbox.cc   inbox ingestion, inbox writing, marker sweeping
//   spool_dead_letters.cc  dead letters in (bounded), and requeued
// Internal to zenml::spool; include only from those files.
//
// Thread safety: every *Locked method runs with SharedDb::mu held (Run takes
// it); Impl's public methods are thread-safe. Failures are Statuses, never
// exceptions.

#ifndef ZENML_SPOOL_SPOOL_IMPL_H_
#define ZENML_SPOOL_SPOOL_IMPL_H_

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "spool/log_tail.h"
#include "spool/meta.h"
#include "spool/repair.h"
#include "spool/spool.h"
#include "spool/turns.h"

namespace zenml::spool {

namespace fs = std::filesystem;

// LevelDB options, chosen by measurement (docs/ARCHITECTURE.md "LevelDB
// options"). reuse_logs is applied per open, only when the log tails are
// complete (see log_tail.h).
inline constexpr bool kReuseLogs = true;
// With reuse_logs every open replays the whole write-ahead log into a
// memtable, so the log's size bounds the cost of an open: keep it small.
inline constexpr size_t kWriteBufferSize = 256 << 10;
inline constexpr size_t kMinWriteBufferSize = 64 << 10;
inline constexpr size_t kMaxWriteBufferSize = 64 << 20;
inline constexpr int kMaxOpenFiles = 100;  // LevelDB clips to at least 74
// Table blocks of 64 KiB, not LevelDB's 4 KiB: the spool is read in order
// (Peek, Ack's walk, compactions), never at random but for a few metadata
// keys, and each block read is a pread, a checksum and a Snappy call.
// Draining 300,000 events: 1.62 s of zenml-upload CPU with 4 KiB blocks,
// 1.33 s with 16 KiB, 1.21 s with 64 KiB (medians of 3; docs/BENCHMARKS.md).
inline constexpr size_t kBlockSize = 64 << 10;

// At this many level-0 tables a Peek compacts them (CompactIfLevel0Crowded):
// LevelDB 1.23's kL0_SlowdownWritesTrigger, where it starts delaying writes.
inline constexpr uint64_t kLevel0FilesToCompact = 8;
// LevelDB 1.23's kL0_CompactionTrigger: from this many level-0 tables on its
// background thread compacts them (Spool::CompactingLevel0).
inline constexpr uint64_t kLevel0CompactionTrigger = 4;
// LevelDB 1.23's kL0_StopWritesTrigger: with this many level-0 tables a
// write, a memtable switch included, waits for a level-0 compaction.
inline constexpr uint64_t kLevel0StopWrites = 12;
// A close's memtable flush (FlushMemTable) waits at most this long: a table
// of the write buffer plus one batch, a few MB, takes tens of milliseconds.
// Past it the close goes on, and loses nothing: the log is kept.
inline constexpr std::chrono::milliseconds kMemTableFlushWait{1'000};

// Compact the drained range after this many deletes (acks, drops), and only
// once it is at least as large as what remains: compacting rewrites the
// table files that overlap the range, including the live events next to it,
// so compacting every 10,000 acks of a long drain rewrote the remaining
// spool again and again (two thirds of zenml-upload's CPU when draining
// 1,000,000 events). With the ratio a drain of N events compacts about
// log2(N / kCompactAfterDeletes) times, each over a range that halves, plus
// once when the spool is empty. Tombstones never slow reads meanwhile (Peek
// and the bounds seek past the head); the rule bounds the disk space they
// and the deleted values hold to about twice the live data.
inline constexpr uint64_t kCompactAfterDeletes = 10'000;
// When the spool drains to empty, compact earlier.
inline constexpr uint64_t kCompactWhenEmptyAfterDeletes = 1'000;
// Ack advances the first-live hint over at most this many already-gone keys.
inline constexpr int kMaxHintProbes = 256;
// Ack walks its sorted keys with one iterator; a key further than this many
// entries ahead is sought instead.
inline constexpr int kMaxAckSteps = 16;
// Dead-letter reasons longer than this are cut.
inline constexpr size_t kMaxReasonBytes = 1024;

struct NewEvent {
  int64_t time_ms = 0;
  std::string_view json;
};

// One open database per (env, path) in this process; see the registry below.
struct SharedDb {
  SharedDb() = default;
  SharedDb(const SharedDb&) = delete;
  SharedDb& operator=(const SharedDb&) = delete;
  ~SharedDb() { JoinCompaction(); }

  // The drained range's compaction (CommitMeta), run beside this process's
  // transactions while the database is held across calls; every close
  // (CloseDb) waits for it first.
  void JoinCompaction();
  // Whether one runs now.
  bool Compacting() const {
    return compaction.joinable() && !compaction_done.load();
  }

  std::mutex mu;  // serializes this process's transactions on the database
  std::unique_ptr<leveldb::Env> env;  // NewPrivateFilesEnv
  // Over env, what the database is opened through (log_tail.h); outlives db.
  std::unique_ptr<LogTailGuardEnv> tail_guard;
  std::unique_ptr<leveldb::Logger> logger;  // outlives db (declared first)
  std::unique_ptr<leveldb::DB> db;
  size_t write_buffer = 0;  // the write_buffer_size db was opened with
  // What this open of db has written (WriteBatch sizes): CloseFlushed looks
  // at the log only once it may be longer than the default buffer.
  uint64_t written = 0;
  int holds = 0;
  Meta meta;
  // Failed writes not yet persisted in c/write_errors (a failed write cannot
  // record itself; the next successful one does).
  uint64_t pending_write_errors = 0;
  // What the last repair could account for; read by RecountLocked.
  RepairReport repair;
  // Fair turns with other processes (turns.h); made by the first open.
  std::unique_ptr<Turns> turns;
  // See JoinCompaction(). Started, and joined, with mu held; the thread
  // itself touches only the database (LevelDB is thread-safe) and the flag.
  std::thread compaction;
  std::atomic<bool> compaction_done{false};
  pid_t compaction_pid = 0;  // a forked child must not join its parent's
};

// Closes the database, after its background compaction if one runs.
inline void CloseDb(SharedDb& s) {
  s.JoinCompaction();
  s.db.reset();
}

class Spool::Impl {
 public:
  explicit Impl(const SpoolOptions& options)
      : options_(options),
        base_env_(options.env ? options.env : leveldb::Env::Default()),
        clock_(options.clock ? options.clock : &core::RealClock()),
        dir_(options.dir),
        db_path_((options.dir / "spool").string()),
        inbox_path_((options.dir / "inbox").string()) {}

  ~Impl() {
    if (shared_ == nullptr) return;
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->holds -= my_holds_;
    my_holds_ = 0;
    if (shared_->holds == 0) CloseDb(*shared_);
  }

  Result<AppendTarget> Append(std::span<const std::string> messages,
                              const WriterDrops& drops);

  Status AppendToInbox(std::span<const std::string> messages);

  // Peek with ingest; Scan without (nor compaction). Copies what
  // VisitEvents visits.
  Result<std::vector<Entry>> Peek(std::string_view after_key, size_t max_bytes,
                                  size_t max_count, bool ingest);

  // Peek's walk, handing each event to `visit` in place (Spool::ScanEach).
  Result<size_t> VisitEvents(std::string_view after_key, size_t max_bytes,
                             size_t max_count, bool ingest,
                             const EntryVisitor& visit);

  Status Ack(std::span<const std::string> keys);

  Status DeadLetter(std::string_view key, int http_status,
                    std::string_view reason);

  Result<std::vector<DeadLetterEntry>> PeekDeadLetters(uint64_t after_seq,
                                                       size_t max_count);

  Result<RequeueResult> RequeueDeadLetters(const RequeueOptions& options);

  Result<SpoolStats> Stats();
  Result<std::vector<Entry>> ScanInbox();

  Result<uint64_t> Purge();

  Status RecordUpload(const UploadRecord& record);

  Status Hold(Role role);

  bool ReaderWaiting();
  bool WriterWaiting();
  bool YieldToWaiters();

  bool CompactingLevel0();

  void Release();

 private:
  using Fn = std::function<Status(SharedDb&)>;

  SharedDb& Shared();

  leveldb::Env* SharedEnv() { return Shared().env.get(); }

  // Runs `fn` inside one transaction: this process's lock on the database
  // taken, the database open (opened here and closed after unless held) and
  // the inbox ingested. Without `create`, a spool that does not exist yet is
  // not created: `*absent` is set and `fn` is not run. A Corruption from `fn`
  // repairs the database and runs `fn` once more. Without `ingest` (a read)
  // the inbox is left alone and nothing but a repair writes. `role`: how
  // the database is opened (turns.h); for a reader, a held database is
  // closed first and reopened if a reader of another process waits for it
  // (a writer's hold is given up only by its Release: spool.h).
  Status Run(bool create, const Fn& fn, bool* absent, bool ingest = true,
             Role role = Role::kReader);

  Turns& TurnsOf(SharedDb& s);

  // Replaces the info logger (the database is closed): LOG is appended to,
  // and rotated to LOG.old only once it has grown past kMaxInfoLogBytes.
  void OpenInfoLog(SharedDb& s);

  leveldb::Options BaseOptions(SharedDb& s) const;
  // Closes s.db; if this open wrote and its newest log has grown past
  // kWriteBufferSize (a bigger write buffer, or one batch bigger than the
  // buffer), first writes the memtable to a table (FlushMemTable), so the
  // next open, perhaps an uploader's, replays a small log.
  void CloseFlushed(SharedDb& s);
  // Has LevelDB write the memtable, whose log is `log` (the newest), to a
  // table and waits for that alone, at most kMemTableFlushWait; false if it
  // did not happen (the log then keeps every write; the next open replays
  // it).
  static bool FlushMemTable(SharedDb& s, const std::string& log);
  // Gives up one of this Spool's holds (my_holds_ > 0, s.mu held); closes
  // the database (CloseFlushed) when it was the process's last. Returns
  // whether it closed it.
  bool ReleaseLocked(SharedDb& s);

  Status PrepareDirs(bool create);

  // Opens the database (retrying the lock until lock_wait), repairing it if
  // Open reports corruption. `known_count` is the event count this process
  // last saw, when it had the database open at the moment damage was found.
  // Without `writes` (a read) stale inbox markers are left for a writer.
  // Takes turns with other processes by `role` (turns.h): a writer steps
  // aside while a reader waits, a reader that finds the lock taken queues;
  // `yielded` (a holder that just closed for a waiting reader) steps aside
  // before its first attempt whatever its role.
  Status OpenLocked(SharedDb& s, bool create, bool writes,
                    std::optional<uint64_t> known_count = std::nullopt,
                    Role role = Role::kReader, bool yielded = false);

  // Format 1 kept the metadata under m/ (keys.h says why it moved to c/).
  // Moves every m/ key to c/ in one WriteBatch, so a crash leaves either
  // format, and leaves m/format_version at the new version as a guard
  // against format-1 programs. Nothing to do for a format-2 or new spool.
  Status MigrateFormatOneLocked(SharedDb& s);

  // Creates the database holding only the guard against format-1 programs
  // (m/format_version, keys.h), in a table of its own, leaving no thread
  // behind. Best effort: a failure leaves the guard to InitFormatLocked.
  void CreateDatabaseLocked(SharedDb& s);

  // A database without c/format_version (new): records the format, and the
  // guard too if CreateDatabaseLocked did not.
  Status InitFormatLocked(SharedDb& s);

  // LevelDB compacts level-0 tables in a background thread, and closing the
  // database abandons a compaction in progress. Every transaction here is
  // short, so a spool filled by big batches (each open that replays a large
  // log writes one level-0 table) gathers level-0 tables that no compaction
  // ever finishes: each open starts the same compaction again and throws it
  // away, every read merges all of those tables (they all overlap, since
  // each holds metadata keys), and from 8 of them on LevelDB delays each write
  // by 1 ms, from 12 on it blocks writes until the compaction is done. Measured
  // on a 200,000-event spool of 20 level-0 tables: an Ack+Peek transaction
  // of 5,000 events took ~200 ms, against ~30 ms for the ten requests it
  // fed. So once the count reaches LevelDB's slowdown trigger, a Peek (the
  // uploader's, the dump's: readers about to walk the spool) finishes the
  // compaction in the foreground, once.
  //
  // The range ends at the live head: every level-0 table holds metadata,
  // which sorts first, so LevelDB takes all of level 0 into the compaction
  // anyway, but on the deeper levels only the tables of the metadata and
  // the drained range are rewritten. Compacting everything (as at first)
  // rewrote every pending event each time a drain's Ack tombstones had
  // filled level 0: ~25 % of a 1,000,000-event drain.
  //
  // Under Hold() (s.holds > 0: the uploader's request feed) the background
  // thread is left to it: the holder keeps the database open while
  // CompactingLevel0(), so the compaction finishes while it goes on reading
  // and sending instead of waiting for it.
  void CompactIfLevel0Crowded(SharedDb& s);

  static uint64_t Level0Files(SharedDb& s);

  // RepairDB does not take LevelDB's LOCK, so we take it ourselves: no other
  // process may open the database while it is being rewritten.
  // With `only_if_current_missing`, repairs only if CURRENT is still missing
  // once the LOCK is held; `*did_repair` (optional) says whether it did.
  Status RepairLocked(SharedDb& s, bool only_if_current_missing = false,
                      bool* did_repair = nullptr);

  // Deletes spool/lost/, where leveldb::RepairDB moves every log it
  // converted and every table it could not use: copies of events' bytes
  // that no reader shows, no upload sends and no bound ages. Called with the
  // database's LOCK held, after a repair (which has scanned them for the
  // count) and by Purge.
  void RemoveRepairArchiveLocked(SharedDb& s);

  // After an open that dropped a damaged log tail (log_tail.h): the events
  // the dropped records put that are not in the database are lost; count
  // them, as a repair.
  Status CountTailLossLocked(SharedDb& s, const LogTailDamage& tail);

  // After a repair: count what survived, charge the difference to
  // DropReason::kCorruption, and make the metadata true again.
  Status RecountLocked(SharedDb& s, uint64_t known_count);

  // Deletes i/ markers whose inbox file is gone (a crash after the unlink
  // and before the marker's removal). Usually an empty range.
  Status SweepMarkersLocked(SharedDb& s);

  // The inbox files ready for ingestion, oldest first. Temporary files a
  // killed writer left behind (older than an hour, so never one being
  // written) are removed on the way if `remove_stale`.
  std::vector<std::string> InboxFiles(bool remove_stale = true);

  // Moves inbox files into the database: their events and their i/ markers
  // in one synced batch, then the files are unlinked, then the markers. A
  // crash between the batch and the unlink leaves file + marker: the next
  // ingestion sees the marker and only unlinks.
  Status IngestInboxLocked(SharedDb& s);

  // Writes `messages` as one inbox file: temporary name, fsync, rename, fsync
  // of the directory. The name starts with the time so ingestion keeps order.
  Status WriteInbox(std::span<const std::string> messages, int64_t time_ms);

  // The append transaction: `events` get consecutive sequences; the bounds
  // (ApplyBounds, with the limits this Spool's options set or the spool
  // stored) drop the oldest; the counters, and the limits this writer sets if
  // they differ from the stored ones, go in the same batch as the events,
  // plus whatever the caller put in `batch` (inbox markers). Writes nothing
  // if nothing changes. Steady state: one head event read, as before.
  // `corrupt_lost`/`loss_unknown`: damage found in what enters (an inbox
  // file cut short), counted in the same batch. `writer_drops`: what the
  // writer lost before the spool (Spool::Append), counted there too.
  Status AppendLocked(SharedDb& s, std::span<const NewEvent> events,
                      leveldb::WriteBatch* batch, uint64_t corrupt_lost = 0,
                      bool loss_unknown = false,
                      const WriterDrops* writer_drops = nullptr);

  // Moves the first-live hint over keys deleted now or gone before (probing
  // at most kMaxHintProbes of the latter), so Peek("") seeks near the head.
  // `deleted`: the sequences just deleted, ascending.
  Status AdvanceFirst(SharedDb& s, Meta* m, std::span<const uint64_t> deleted);

  // Adds the changed counters (and pending write errors) to `batch`, writes
  // it, and only then adopts `m`. Compacts the drained range when due.
  // `append`: the batch is an Append's, whose last event carries the
  // AppendTotals of `m`; when only the append side's counters changed, none
  // is written (keys.h).
  Status CommitMeta(SharedDb& s, Meta m, leveldb::WriteBatch* batch,
                    bool append = false);

  Status WriteLocked(SharedDb& s, leveldb::WriteBatch* batch);

  // Applies the dead letters' bounds to `m` and `batch` as a dead letter of
  // `new_seq` and `new_bytes` enters (spool_dead_letters.cc). Sets
  // `*drop_new` when the new one itself is to be dropped (it is the oldest).
  Status BoundDeadLettersLocked(SharedDb& s, Meta* m,
                                leveldb::WriteBatch* batch, uint64_t new_seq,
                                uint64_t new_bytes, bool* drop_new);

  static constexpr size_t kEmptyBatchSize = 12;  // WriteBatch header

  const SpoolOptions options_;
  leveldb::Env* const base_env_;
  const core::Clock* const clock_;
  const std::filesystem::path dir_;
  const std::string db_path_;
  const std::string inbox_path_;

  std::mutex init_mu_;
  std::shared_ptr<SharedDb> shared_;  // set once, by Shared()
  int my_holds_ = 0;                  // guarded by shared_->mu
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_SPOOL_IMPL_H_
