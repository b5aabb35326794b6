// Spool::Impl: the handle registry, transactions, opening (spool_impl.h).

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.h"
#include "spool/bounds.h"
#include "spool/dirs.h"
#include "spool/env.h"
#include "spool/inbox.h"
#include "spool/keys.h"
#include "spool/lock_backoff.h"
#include "spool/log_tail.h"
#include "spool/meta.h"
#include "spool/repair.h"
#include "spool/spool_impl.h"
#include "spool/util.h"

namespace zenml::spool {

namespace fs = std::filesystem;

namespace {

// The process-wide registry: a second leveldb::DB::Open of a path already
// open in this process fails, and on its way out closes a descriptor of LOCK,
// which drops the POSIX lock and lets another process in (DESIGN.md). So every
// Spool of a path shares one SharedDb.
//
// After fork(2) the child must not use what it inherited: the parent's
// handles (the child does not hold their POSIX lock) and the registry's
// mutex (maybe locked by a thread that does not exist in the child). A
// pthread_atfork child handler gives the child an empty registry and a new
// mutex, leaking the old ones on purpose (destroying a handle would touch
// the parent's files); a Spool made before the fork keeps its old handle.
using Registry =
    std::map<std::pair<leveldb::Env*, std::string>, std::weak_ptr<SharedDb>>;
std::mutex* registry_mu = nullptr;  // set once, reset in a forked child
Registry* registry = nullptr;

std::shared_ptr<SharedDb> AcquireShared(leveldb::Env* env,
                                        const std::string& path) {
  static const int init = [] {
    auto fresh = [] {  // malloc is usable in the child: glibc resets it first
      registry_mu = new std::mutex();
      registry = new Registry();
    };
    fresh();
    return ::pthread_atfork(nullptr, nullptr, fresh);
  }();
  (void)init;
  std::lock_guard<std::mutex> lock(*registry_mu);
  auto& slot = (*registry)[{env, path}];
  if (auto existing = slot.lock()) return existing;
  auto created = std::make_shared<SharedDb>();
  created->env =
      NewPrivateFilesEnv(env, /*pread_tables=*/env == leveldb::Env::Default());
  slot = created;
  // Drop entries whose Spools are all gone.
  for (auto it = registry->begin(); it != registry->end();) {
    it = it->second.expired() ? registry->erase(it) : std::next(it);
  }
  return created;
}

}  // namespace

SharedDb& Spool::Impl::Shared() {
  std::lock_guard<std::mutex> lock(init_mu_);
  if (shared_ == nullptr) {
    std::error_code ec;
    fs::path key = fs::weakly_canonical(fs::absolute(dir_, ec), ec);
    if (key.empty()) key = dir_;
    shared_ = AcquireShared(base_env_, (key / "spool").string());
  }
  return *shared_;
}

Turns& Spool::Impl::TurnsOf(SharedDb& s) {
  if (s.turns == nullptr) s.turns = std::make_unique<Turns>(dir_);
  return *s.turns;
}

Status Spool::Impl::Run(bool create, const Fn& fn, bool* absent, bool ingest,
                        Role role) {
  if (absent != nullptr) *absent = false;
  SharedDb& s = Shared();
  std::lock_guard<std::mutex> lock(s.mu);
  Status st;
  bool yielded = false;
  if (role == Role::kReader && s.db && s.holds > 0 &&
      TurnsOf(s).ReaderWaiting()) {
    // A reader's hold gives a waiting reader its turn between calls
    // (turns.h); a writer's is given up by its Release (spool.h).
    CloseDb(s);
    yielded = true;
  }
  if (!s.db) {
    st = OpenLocked(s, create, /*writes=*/ingest, std::nullopt, role, yielded);
    if (st.code() == Status::Code::kNotFound && !create && absent != nullptr) {
      *absent = true;
      return Status::OK();
    }
  }
  if (st.ok() && ingest) st = IngestInboxLocked(s);
  if (st.ok()) st = fn(s);
  if (st.code() == Status::Code::kCorruption && s.db) {
    const uint64_t known_count = s.meta.count;
    CloseDb(s);
    st = RepairLocked(s);
    if (st.ok()) {
      st =
          OpenLocked(s, /*create=*/false, /*writes=*/ingest, known_count, role);
    }
    if (st.ok()) st = fn(s);
  }
  // LevelDB keeps a failed write's error for the life of the handle; close
  // so the next call starts clean.
  if (!st.ok() && (st.code() == Status::Code::kIoError ||
                   st.code() == Status::Code::kCorruption)) {
    CloseDb(s);  // a holder's next call reopens it
  }
  if (s.holds == 0) CloseFlushed(s);
  return st;
}

void Spool::Impl::OpenInfoLog(SharedDb& s) {
  s.logger.reset();
  const std::string log = db_path_ + "/LOG";
  uint64_t size = 0;
  if (s.env->GetFileSize(log, &size).ok() && size > kMaxInfoLogBytes) {
    s.env->RenameFile(log, db_path_ + "/LOG.old");
  }
  leveldb::WritableFile* file = nullptr;
  // NewWritableFile for a new LOG: LevelDB 1.23's in-memory env does not
  // register a file created by NewAppendableFile (a later GetFileSize on
  // it crashes).
  leveldb::Status opened = s.env->FileExists(log)
                               ? s.env->NewAppendableFile(log, &file)
                               : s.env->NewWritableFile(log, &file);
  if (opened.ok()) {
    s.logger = NewAppendingLogger(file);
  }
}

void Spool::Impl::CloseFlushed(SharedDb& s) {
  // Only a log longer than the default buffer makes the next open slower
  // than usual (a flush costs a table, a log and MANIFEST writes: too much
  // for every close of a short run). Such a log is left by a process that
  // opened with a bigger buffer (the uploader), or that wrote one batch
  // bigger than the buffer: LevelDB puts a whole batch in the memtable, and
  // switches to a new one only at the next write. A writer that held the
  // spool through a burst of 10,000-event batches left a 4.8 MB log, which
  // the uploader then replayed before its first request.
  //
  // Only a close that wrote flushes: a read's close leaves every file as it
  // was. The flush waits for the memtable's table only, never for a level-0
  // compaction (which its table may start, and the close then abandons):
  // the database, and other processes' writers, are held meanwhile. Nor
  // within two tables of LevelDB's stop trigger (one for a memtable still
  // being written, one for ours), where the switch itself would wait for
  // a compaction.
  std::string log;
  uint64_t log_bytes = 0;
  const bool wrote_past_buffer =
      s.write_buffer > kWriteBufferSize || s.written > kWriteBufferSize;
  if (s.db && s.written > 0 && wrote_past_buffer &&
      Level0Files(s) + 2 < kLevel0StopWrites) {
    log = NewestLogFile(s.env.get(), db_path_);
    if (!log.empty() && !s.env->GetFileSize(log, &log_bytes).ok()) {
      log_bytes = 0;
    }
  }
  if (log_bytes > kWriteBufferSize) FlushMemTable(s, log);
  CloseDb(s);
}

bool Spool::Impl::FlushMemTable(SharedDb& s, const std::string& log) {
  // LevelDB 1.23 has no public call for this. CompactRange flushes, then
  // waits for any compaction under way and for one of level 0 if its table
  // makes it due. A null batch makes DBImpl::Write switch to a new memtable
  // and log, after waiting for an older memtable still being written, and
  // schedule the old one's table (MakeRoomForWrite(force), what its
  // TEST_CompactMemTable does), without waiting for it. LevelDB writes that
  // table before any other background work, in the middle of a compaction
  // too, and then deletes the log it replaces: that is the sign it is in.
  // (Not a second null batch, which would wait for it too: it leaves two
  // logs, so every later open checks their sequence and recounts the whole
  // spool, since an empty log proves nothing.)
  if (!s.db->Write(leveldb::WriteOptions(), nullptr).ok()) return false;
  const auto deadline = std::chrono::steady_clock::now() + kMemTableFlushWait;
  while (s.env->FileExists(log)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // A real sleep, whatever the spool's clock: LevelDB's thread is real.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

leveldb::Options Spool::Impl::BaseOptions(SharedDb& s) const {
  leveldb::Options o;
  o.env = s.env.get();
  o.info_log = s.logger.get();  // nullptr: LevelDB's own LOG handling
  o.paranoid_checks = true;     // a damaged log fails Open: we repair and count
  o.write_buffer_size = std::clamp(options_.write_buffer_bytes,
                                   kMinWriteBufferSize, kMaxWriteBufferSize);
  o.max_open_files = kMaxOpenFiles;
  o.block_size = kBlockSize;
  return o;
}

Status Spool::Impl::PrepareDirs(bool create) {
  ZENML_TRY(PrepareDir(base_env_, dir_, create));
  ZENML_TRY(PrepareDir(base_env_, dir_ / "spool", create));
  Status inbox = PrepareDir(base_env_, dir_ / "inbox", create);
  if (inbox.code() == Status::Code::kNotFound) return Status::OK();
  return inbox;
}

Status Spool::Impl::OpenLocked(SharedDb& s, bool create, bool writes,
                               std::optional<uint64_t> known_count, Role role,
                               bool yielded) {
  ZENML_TRY(PrepareDirs(create));
  OpenInfoLog(s);
  bool repaired = known_count.has_value();
  const bool had_current = s.env->FileExists(db_path_ + "/CURRENT");
  if (!had_current) {
    // Without CURRENT, LevelDB would create a fresh database over the old
    // tables and logs and then delete them as obsolete: every event lost.
    // A directory that still holds them is repaired instead.
    if (!HasDatabaseFiles(s.env.get(), db_path_)) {
      if (!create) return Status::NotFound("spool: no spool yet");
      CreateDatabaseLocked(s);
    } else if (!repaired) {
      // Another process may be creating the database right now (LevelDB
      // writes the MANIFEST before CURRENT, under its LOCK): RepairLocked
      // checks again once it holds the LOCK.
      bool did_repair = false;
      ZENML_TRY(RepairLocked(s, /*only_if_current_missing=*/true, &did_repair));
      repaired = did_repair;
    }
  }
  leveldb::Options o = BaseOptions(s);
  o.create_if_missing = create;
  const bool reader = role == Role::kReader;
  // A queued reader polls fast: writers stand aside, so the lock frees
  // within one transaction (turns.h).
  LockBackoff backoff(clock_, options_.lock_wait,
                      reader ? std::chrono::microseconds(kReaderPollMax)
                             : std::chrono::microseconds(50'000));
  Turns& turns = TurnsOf(s);
  turns.Refresh(/*create=*/writes);
  struct LeaveQueue {
    Turns& turns;
    ~LeaveQueue() { turns.Leave(); }
  } leave_queue{turns};
  bool step_aside = !reader || yielded;
  LogTailDamage tail;
  // LevelDB does not fsync the directory after renaming CURRENT into place
  // (nor, reusing its MANIFEST, after creating the first log): a new
  // database's names are made durable here, once.
  const bool creating = !had_current;
  // LevelDB reuses a log or MANIFEST only if what its own recovery read of
  // it ends with a complete record (log_tail.h): no second read before.
  if (s.tail_guard == nullptr) {
    s.tail_guard = std::make_unique<LogTailGuardEnv>(s.env.get());
  }
  o.env = s.tail_guard.get();
  o.reuse_logs = kReuseLogs;
  for (;;) {
    if (step_aside && !turns.StepAside(clock_, backoff.deadline())) {
      return Status::Busy(
          fmt::format("spool: a reader waited for {} for longer than {} ms",
                      db_path_, options_.lock_wait.count()));
    }
    step_aside = !reader;  // a yielded reader only once, then it queues
    s.tail_guard->Reset();
    leveldb::DB* raw = nullptr;
    leveldb::Status ls = leveldb::DB::Open(o, db_path_, &raw);
    // Rare (a crash mid-write, or damage): a newest log whose tail was
    // incomplete; count what a damaged one dropped (log_tail.h). If the
    // open failed before reading it, look on disk, before any repair.
    bool incomplete = false;
    LogTailDamage damage;
    if (s.tail_guard->NewestLogTail(&incomplete, &damage)) {
      if (incomplete) tail = std::move(damage);
    } else if (ls.IsCorruption() &&
               !DatabaseLogTailsComplete(s.env.get(), db_path_)) {
      const std::string log = NewestLogFile(s.env.get(), db_path_);
      if (!log.empty()) tail = FindLogTailDamage(s.env.get(), log);
    }
    if (ls.ok()) {
      s.db.reset(raw);
      s.write_buffer = o.write_buffer_size;
      s.written = 0;
      turns.Leave();  // writers may go on after this transaction
      if (creating) {
        // The database's names, then analytics/ and its name in its
        // parent once more: a process that created them may have died
        // before it synced them. Until all are durable nothing is
        // acknowledged.
        Status synced = SyncDir(base_env_, db_path_);
        if (synced.ok()) synced = SyncDir(base_env_, dir_);
        if (synced.ok()) synced = SyncParent(base_env_, dir_);
        if (!synced.ok()) {
          CloseDb(s);
          return synced;
        }
      }
      break;
    }
    if (IsLockError(ls)) {
      // Only a call that will try again says it waits: a holder that sees
      // a waiting writer closes the database for it (an uploader then
      // abandons a level-0 compaction), for nothing if the writer has
      // already gone to its inbox.
      if (!backoff.Spent()) {
        if (reader) {
          turns.Queue();
        } else {
          turns.QueueWriter();  // a reader holding across calls yields
        }
      }
      if (backoff.Wait()) continue;
      return Status::Busy(
          fmt::format("spool: another process held {} for longer than {} ms",
                      db_path_, options_.lock_wait.count()));
    }
    // Corruption (LevelDB reports a MANIFEST that CURRENT names but that
    // is missing as Corruption too): repair once. Never on an I/O error:
    // RepairDB under a failing disk archives the logs it cannot convert.
    if (!repaired && ls.IsCorruption()) {
      repaired = true;
      ZENML_TRY(RepairLocked(s));
      continue;
    }
    return FromLevelDb(ls, "opening " + db_path_);
  }
  Status st = MigrateFormatOneLocked(s);
  if (st.ok()) st = LoadMeta(s.db.get(), &s.meta);
  if (st.code() == Status::Code::kCorruption && !repaired) {
    // A damaged table under the metadata: repair, then open again (the
    // metadata is rebuilt from the e/ keys by RecountLocked).
    CloseDb(s);
    LogLine(s.logger.get(), "spool: metadata unreadable; repairing");
    ZENML_TRY(RepairLocked(s));
    // known_count 0: this process's cached counters may be from an earlier
    // open, since when others acked events; trust only what repair finds.
    return OpenLocked(s, /*create=*/false, writes, /*known_count=*/0, role);
  }
  if (st.ok() && s.meta.format_version > kFormatVersion) {
    st = Status::FailedPrecondition(fmt::format(
        "spool: {} has format version {}, newer than this program's {}",
        db_path_, s.meta.format_version, kFormatVersion));
  }
  if (st.ok() && s.meta.format_version == 0) {
    // A new database: record the format it is written in. (The first
    // Append into a format-2 one marks it format 3: CommitMeta.)
    st = InitFormatLocked(s);
  }
  if (st.ok() && s.tail_guard->OlderLogCut()) {
    // Rare: a log before the newest was cut short by damage, and LevelDB
    // replayed what was left of it without a word. The counters, from the
    // newest record, still count what the cut took: recount.
    LogLine(s.logger.get(), "spool: an older log was cut short; recounting");
    s.repair.older_log_cut = true;
    repaired = true;
  } else if (st.ok() && !repaired && s.meta.append_totals_mismatch) {
    // Events past c/next_seq whose totals do not add up (keys.h): damage,
    // or a program that wrote them wrongly. Rebuilt from the events.
    LogLine(s.logger.get(),
            "spool: the last event's totals disagree with the counters; "
            "recounting");
    s.repair.check_only = true;
    s.repair.totals_mismatch = true;
    repaired = true;
  } else if (st.ok() && !repaired && s.tail_guard->LogsReadWhole() > 1 &&
             !s.tail_guard->LogsInSequence()) {
    // More than one log (a process died, or closed the database, between
    // LevelDB's switch to a new log and the flush of the old one): an older
    // log cut at a record boundary looks whole, but leaves a gap in the
    // sequence numbers before the next log. Where there is one, or it
    // cannot be told, the counters are checked against the events (a scan
    // of the whole spool: 60 ms for 100,000 events, so not when the logs
    // prove nothing is missing).
    s.repair.check_only = true;
    repaired = true;
  }
  if (st.ok() && repaired) st = RecountLocked(s, known_count.value_or(0));
  if (st.ok() && tail.damaged) st = CountTailLossLocked(s, tail);
  if (st.ok() && writes) st = SweepMarkersLocked(s);
  if (!st.ok()) CloseDb(s);
  return st;
}

void Spool::Impl::CompactIfLevel0Crowded(SharedDb& s) {
  if (s.holds > 0 || Level0Files(s) < kLevel0FilesToCompact) return;
  const std::string head = EventKey(s.meta.first_seq);
  leveldb::Slice end(head);
  s.db->CompactRange(nullptr, &end);
}

uint64_t Spool::Impl::Level0Files(SharedDb& s) {
  std::string files;
  if (!s.db->GetProperty("leveldb.num-files-at-level0", &files)) return 0;
  return std::strtoull(files.c_str(), nullptr, 10);
}

}  // namespace zenml::spool
