#include "spool/spool.h"

#include <fcntl.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <pthread.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <mutex>
#include <random>
#include <span>
#include <system_error>
#include <utility>

#include "spool/keys.h"
#include "spool/log_tail.h"

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;

// LevelDB options, chosen by measurement (docs/ARCHITECTURE.md "LevelDB
// options"). reuse_logs is applied per open, only when the log tails are
// complete (see log_tail.h).
constexpr bool kReuseLogs = true;
// With reuse_logs every open replays the whole write-ahead log into a
// memtable, so the log's size bounds the cost of an open: keep it small.
constexpr size_t kWriteBufferSize = 256 << 10;
constexpr int kMaxOpenFiles = 100;  // LevelDB clips to at least 74
// Table blocks of 64 KiB, not LevelDB's 4 KiB: the spool is read in order
// (Peek, Ack's walk, compactions), never at random but for a few metadata
// keys, and each block read is a pread, a checksum and a Snappy call.
// Draining 300,000 events: 1.62 s of zenml-upload CPU with 4 KiB blocks,
// 1.33 s with 16 KiB, 1.21 s with 64 KiB (medians of 3; docs/BENCHMARKS.md).
constexpr size_t kBlockSize = 64 << 10;

// At this many level-0 tables a Peek compacts them (CompactIfLevel0Crowded):
// LevelDB 1.23's kL0_SlowdownWritesTrigger, where it starts delaying writes.
constexpr uint64_t kLevel0FilesToCompact = 8;
// LevelDB 1.23's kL0_CompactionTrigger: from this many level-0 tables on its
// background thread compacts them (Spool::CompactingLevel0).
constexpr uint64_t kLevel0CompactionTrigger = 4;

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
constexpr uint64_t kCompactAfterDeletes = 10'000;
// When the spool drains to empty, compact earlier.
constexpr uint64_t kCompactWhenEmptyAfterDeletes = 1'000;
// Ack advances the first-live hint over at most this many already-gone keys.
constexpr int kMaxHintProbes = 256;
// Ack walks its sorted keys with one iterator; a key further than this many
// entries ahead is sought instead.
constexpr int kMaxAckSteps = 16;
// Dead-letter reasons longer than this are cut.
constexpr size_t kMaxReasonBytes = 1024;

constexpr std::string_view kInboxSuffix = ".inbox";
constexpr std::string_view kInboxTmpPrefix = ".tmp-";
constexpr std::string_view kInboxMagic = "ZSPI1\n";

int64_t ToMs(core::WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t.time_since_epoch())
      .count();
}

core::WallTime FromMs(int64_t ms) {
  return core::WallTime(std::chrono::milliseconds(ms));
}

std::string_view ToView(const leveldb::Slice& s) {
  return {s.data(), s.size()};
}

leveldb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

// A leveldb::Status as ours, with what we were doing.
Status FromLevelDb(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  std::string msg = fmt::format("spool: {}: {}", what, s.ToString());
  if (s.IsCorruption()) return Status::Corruption(std::move(msg));
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  return Status::IoError(std::move(msg));
}

// DB::Open's error when another process (or, fatally, another handle in this
// one) holds the LOCK file: "IO error: lock <path>/LOCK: ...".
bool IsLockError(const leveldb::Status& s) {
  return s.IsIOError() && s.ToString().find("lock ") != std::string::npos;
}

// Creates every file LevelDB makes (tables, logs, MANIFEST, LOCK, LOG) with
// mode 0600 regardless of the umask: LevelDB opens them 0644 & ~umask, and a
// library must not change the process umask. The 0700 directory closes the
// window between create and chmod.
//
// On the default POSIX env it also reads table files with pread(2) instead of
// mmap (PreadFile below): LevelDB 1.23 maps up to 1,000 table files
// read-only, and every page the uploader touches while draining stays in its
// resident set, so its RSS grew with the spool (140 MiB after draining 1M
// events, docs/BENCHMARKS.md). With pread the bytes go through the block
// cache (Options::block_cache, bounded) and the kernel's page cache, which
// is not charged to the process.
class PrivateFilesEnv final : public leveldb::EnvWrapper {
 public:
  // `pread_tables`: serve NewRandomAccessFile with PreadFile. Only for the
  // default POSIX env: an in-memory or fault-injecting env must see every
  // read itself.
  PrivateFilesEnv(leveldb::Env* target, bool pread_tables)
      : EnvWrapper(target), pread_tables_(pread_tables) {}

  leveldb::Status NewRandomAccessFile(const std::string& f,
                                      leveldb::RandomAccessFile** r) override {
    if (!pread_tables_) return target()->NewRandomAccessFile(f, r);
    *r = nullptr;
    const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(f, errno);
    *r = new PreadFile(f, fd);
    return leveldb::Status::OK();
  }

  leveldb::Status NewWritableFile(const std::string& f,
                                  leveldb::WritableFile** r) override {
    return Private(f, target()->NewWritableFile(f, r));
  }
  leveldb::Status NewAppendableFile(const std::string& f,
                                    leveldb::WritableFile** r) override {
    return Private(f, target()->NewAppendableFile(f, r));
  }
  leveldb::Status LockFile(const std::string& f,
                           leveldb::FileLock** l) override {
    return Private(f, target()->LockFile(f, l));
  }
  leveldb::Status NewLogger(const std::string& f,
                            leveldb::Logger** l) override {
    return Private(f, target()->NewLogger(f, l));
  }
  leveldb::Status CreateDir(const std::string& d) override {
    leveldb::Status s = target()->CreateDir(d);
    if (s.ok()) ::chmod(d.c_str(), 0700);  // RepairDB's lost/
    return s;
  }

 private:
  static leveldb::Status Private(const std::string& f, leveldb::Status s) {
    // Files of an in-memory env do not exist on disk: stat fails harmlessly.
    // chmod only when needed: it dirties the inode even when nothing changes,
    // and every dirty inode makes the next fdatasync's journal commit larger
    // (measured: 1.5x slower one-shot appends with an unconditional chmod).
    struct stat st {};
    if (s.ok() && ::stat(f.c_str(), &st) == 0 && (st.st_mode & 07777) != 0600) {
      ::chmod(f.c_str(), 0600);
    }
    return s;
  }

  static leveldb::Status ErrnoStatus(const std::string& f, int error) {
    if (error == ENOENT) {
      return leveldb::Status::NotFound(f,
                                       std::generic_category().message(error));
    }
    return leveldb::Status::IOError(f, std::generic_category().message(error));
  }

  // A table file read with pread(2), as LevelDB's own PosixRandomAccessFile
  // does once its mmap budget is spent. The descriptor stays open for the
  // file's life; LevelDB's table cache bounds how many are open at once
  // (Options::max_open_files). Thread-safe: pread has no file position.
  class PreadFile final : public leveldb::RandomAccessFile {
   public:
    PreadFile(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
    ~PreadFile() override { ::close(fd_); }

    leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                         char* scratch) const override {
      size_t done = 0;
      while (done < n) {
        const ssize_t got = ::pread(fd_, scratch + done, n - done,
                                    static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
          *result = leveldb::Slice(scratch, 0);
          return ErrnoStatus(name_, errno);
        }
        if (got == 0) break;  // end of file: a short result, as LevelDB's
        done += static_cast<size_t>(got);
      }
      *result = leveldb::Slice(scratch, done);
      return leveldb::Status::OK();
    }

   private:
    const std::string name_;
    const int fd_;
  };

  const bool pread_tables_;
};

// LevelDB's info log, appended to `LOG` across opens. Without an info_log
// LevelDB renames LOG to LOG.old and creates a new LOG on every open: a
// rename and a new inode per one-shot process, paid inside the next fsync.
// Rotated by OpenLocked once it passes kMaxInfoLogBytes. Thread-safe (LevelDB
// logs from its background thread too).
class AppendingLogger final : public leveldb::Logger {
 public:
  explicit AppendingLogger(leveldb::WritableFile* file) : file_(file) {}
  ~AppendingLogger() override { file_->Close(); }

  void Logv(const char* format, std::va_list ap) override {
    char buf[1024];
    const auto now = std::chrono::system_clock::now();
    const std::time_t secs = std::chrono::system_clock::to_time_t(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            now.time_since_epoch())
                            .count() %
                        1'000'000;
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    int n = std::snprintf(
        buf, sizeof(buf), "%04d/%02d/%02d-%02d:%02d:%02d.%06lld %d ",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, static_cast<long long>(micros), ::getpid());
    if (n < 0) return;
    std::va_list copy;
    va_copy(copy, ap);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    const int m = std::vsnprintf(buf + n, sizeof(buf) - static_cast<size_t>(n),
                                 format, copy);
#pragma GCC diagnostic pop
    va_end(copy);
    if (m < 0) return;
    std::string line(buf,
                     std::min(sizeof(buf) - 1, static_cast<size_t>(n + m)));
    if (line.empty() || line.back() != '\n') line.push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    file_->Append(line);
    file_->Flush();
  }

 private:
  std::mutex mu_;
  std::unique_ptr<leveldb::WritableFile> file_;
};

// One line to LevelDB's info log (leveldb::Log is not exported by every
// build of the library; Logger::Logv is part of the interface).
void LogLine(leveldb::Logger* logger, const char* format, ...) {
  if (logger == nullptr) return;
  std::va_list ap;
  va_start(ap, format);
  logger->Logv(format, ap);
  va_end(ap);
}

constexpr uint64_t kMaxInfoLogBytes = 256 << 10;

// Metadata cached while this process holds the database open. Nobody else
// can change it meanwhile (LevelDB's lock), so reads of it are O(1).
struct Meta {
  uint64_t next_seq = 1;
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t dead_letters = 0;
  uint64_t first_seq = 1;  // every e/ key below it is gone
  uint64_t format_version = kFormatVersion;
  uint64_t write_errors = 0;
  uint64_t deletes_since_compact = 0;
  std::map<std::string, uint64_t> dropped;  // by DropReasonName
};

// One open database per (env, path) in this process; see the registry below.
struct SharedDb {
  std::mutex mu;  // serializes this process's transactions on the database
  std::unique_ptr<PrivateFilesEnv> env;
  std::unique_ptr<leveldb::Logger> logger;  // outlives db (declared first)
  std::unique_ptr<leveldb::DB> db;
  int holds = 0;
  Meta meta;
  // Failed writes not yet persisted in c/write_errors (a failed write cannot
  // record itself; the next successful one does).
  uint64_t pending_write_errors = 0;
};

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
  created->env = std::make_unique<PrivateFilesEnv>(
      env, /*pread_tables=*/env == leveldb::Env::Default());
  slot = created;
  // Drop entries whose Spools are all gone.
  for (auto it = registry->begin(); it != registry->end();) {
    it = it->second.expired() ? registry->erase(it) : std::next(it);
  }
  return created;
}

uint64_t GetMetaInt(leveldb::DB* db, std::string_view key, uint64_t fallback,
                    Status* status) {
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), ToSlice(key), &value);
  if (s.IsNotFound()) return fallback;
  if (!s.ok()) {
    *status = FromLevelDb(s, "reading metadata");
    return fallback;
  }
  return DecodeFixed64BE(value).value_or(fallback);
}

void PutMetaInt(leveldb::WriteBatch* batch, std::string_view key,
                uint64_t value) {
  batch->Put(ToSlice(key), EncodeFixed64BE(value));
}

Status LoadMeta(leveldb::DB* db, Meta* meta) {
  Status status;
  Meta m;
  m.next_seq = GetMetaInt(db, kMetaNextSeq, 1, &status);
  m.count = GetMetaInt(db, kMetaCount, 0, &status);
  m.bytes = GetMetaInt(db, kMetaBytes, 0, &status);
  m.dead_letters = GetMetaInt(db, kMetaDeadLetters, 0, &status);
  m.first_seq = GetMetaInt(db, kMetaFirstSeq, 1, &status);
  m.format_version = GetMetaInt(db, kMetaFormat, 0, &status);
  m.write_errors = GetMetaInt(db, kMetaWriteErrors, 0, &status);
  m.deletes_since_compact =
      GetMetaInt(db, kMetaDeletesSinceCompact, 0, &status);
  ZENML_TRY(status);
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(ToSlice(kMetaDropPrefix));
       it->Valid() && ToView(it->key()).starts_with(kMetaDropPrefix);
       it->Next()) {
    std::string name(ToView(it->key()).substr(kMetaDropPrefix.size()));
    m.dropped[name] = DecodeFixed64BE(ToView(it->value())).value_or(0);
  }
  ZENML_TRY(FromLevelDb(it->status(), "reading drop counters"));
  *meta = std::move(m);
  return Status::OK();
}

// Writes the counters of `m` that differ from `old` (all when `old` is null).
void PutMetaChanges(leveldb::WriteBatch* batch, const Meta& m,
                    const Meta* old) {
  auto put = [&](std::string_view key, uint64_t now, uint64_t before) {
    if (old == nullptr || now != before) PutMetaInt(batch, key, now);
  };
  const Meta empty;
  const Meta& o = old ? *old : empty;
  put(kMetaNextSeq, m.next_seq, o.next_seq);
  put(kMetaCount, m.count, o.count);
  put(kMetaBytes, m.bytes, o.bytes);
  put(kMetaDeadLetters, m.dead_letters, o.dead_letters);
  put(kMetaFirstSeq, m.first_seq, o.first_seq);
  put(kMetaFormat, m.format_version, o.format_version);
  put(kMetaWriteErrors, m.write_errors, o.write_errors);
  put(kMetaDeletesSinceCompact, m.deletes_since_compact,
      o.deletes_since_compact);
  for (const auto& [name, value] : m.dropped) {
    auto it = o.dropped.find(name);
    if (old == nullptr || it == o.dropped.end() || it->second != value) {
      PutMetaInt(batch, std::string(kMetaDropPrefix) + name, value);
    }
  }
}

std::string UploadRecordToJson(const UploadRecord& r) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("at");
  w.Int64(ToMs(r.at));
  w.Key("outcome");
  w.String(r.outcome.data(),
           static_cast<rapidjson::SizeType>(r.outcome.size()));
  w.Key("sent");
  w.Uint64(r.sent);
  w.Key("requests");
  w.Uint64(r.requests);
  w.Key("dead_lettered");
  w.Uint64(r.dead_lettered);
  w.Key("remaining");
  w.Uint64(r.remaining);
  if (r.not_before) {
    w.Key("not_before");
    w.Int64(ToMs(*r.not_before));
  }
  w.Key("detail");
  w.String(r.detail.data(), static_cast<rapidjson::SizeType>(r.detail.size()));
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::optional<UploadRecord> UploadRecordFromJson(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  UploadRecord r;
  auto i64 = [&](const char* key) -> std::optional<int64_t> {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
    return it->value.GetInt64();
  };
  auto u64 = [&](const char* key) -> uint64_t {
    auto it = d.FindMember(key);
    return it != d.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64()
                                                       : 0;
  };
  auto str = [&](const char* key) -> std::string {
    auto it = d.FindMember(key);
    return it != d.MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : std::string();
  };
  r.at = FromMs(i64("at").value_or(0));
  r.outcome = str("outcome");
  r.sent = u64("sent");
  r.requests = u64("requests");
  r.dead_lettered = u64("dead_lettered");
  r.remaining = u64("remaining");
  if (auto nb = i64("not_before")) r.not_before = FromMs(*nb);
  r.detail = str("detail");
  return r;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view TruncateUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Inbox file: magic, count (8), then per message time_ms (8), length (8),
// bytes. Written whole to a temporary name and renamed, so a reader never
// sees a partial file.
std::string EncodeInbox(std::span<const std::string> messages,
                        int64_t time_ms) {
  std::string out(kInboxMagic);
  out += EncodeFixed64BE(messages.size());
  for (const std::string& m : messages) {
    out += EncodeFixed64BE(static_cast<uint64_t>(time_ms));
    out += EncodeFixed64BE(m.size());
    out += m;
  }
  return out;
}

struct PendingEvent {
  int64_t time_ms = 0;
  std::string json;
};

bool DecodeInbox(std::string_view data, std::vector<PendingEvent>* out) {
  if (!data.starts_with(kInboxMagic)) return false;
  size_t pos = kInboxMagic.size();
  auto read64 = [&](uint64_t* v) {
    if (data.size() - pos < 8) return false;
    *v = *DecodeFixed64BE(data.substr(pos, 8));
    pos += 8;
    return true;
  };
  uint64_t count = 0;
  if (!read64(&count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t time_ms = 0, length = 0;
    if (!read64(&time_ms) || !read64(&length)) return false;
    if (data.size() - pos < length) return false;
    out->push_back(
        {static_cast<int64_t>(time_ms), std::string(data.substr(pos, length))});
    pos += length;
  }
  return pos == data.size();
}

Status ReadWholeFile(leveldb::Env* env, const std::string& fname,
                     std::string* out) {
  leveldb::SequentialFile* raw = nullptr;
  ZENML_TRY(FromLevelDb(env->NewSequentialFile(fname, &raw), "reading inbox"));
  std::unique_ptr<leveldb::SequentialFile> file(raw);
  std::string scratch(64 << 10, '\0');
  for (;;) {
    leveldb::Slice chunk;
    ZENML_TRY(FromLevelDb(file->Read(scratch.size(), &chunk, scratch.data()),
                          "reading inbox"));
    if (chunk.empty()) return Status::OK();
    out->append(chunk.data(), chunk.size());
  }
}

// fsync a directory so a rename in it is durable. Only meaningful on disk; a
// missing directory (an in-memory env) is not an error.
void SyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Creates missing parents (0700) of the analytics directory without judging
// their owner: they are the user's config directories, not ours.
Status PrepareParent(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) return Status::OK();
  if (path.has_parent_path() && path.parent_path() != path) {
    ZENML_TRY(PrepareParent(path.parent_path()));
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoError(fmt::format("spool: cannot create {}: {}",
                                       path.string(),
                                       std::generic_category().message(errno)));
  }
  return Status::OK();
}

// Makes sure `path` is a directory of ours with mode 0700. With `create`,
// creates it (and missing parents) first. Returns NotFound if it does not
// exist and !create.
Status PrepareDir(const fs::path& path, bool create) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return Status::IoError(
          fmt::format("spool: cannot inspect {}: {}", path.string(),
                      std::generic_category().message(errno)));
    }
    if (!create) return Status::NotFound(path.string());
    if (path.has_parent_path() && path.parent_path() != path) {
      ZENML_TRY(PrepareParent(path.parent_path()));
    }
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::IoError(
          fmt::format("spool: cannot create {}: {}", path.string(),
                      std::generic_category().message(errno)));
    }
    if (::lstat(path.c_str(), &st) != 0) {
      return Status::IoError(
          fmt::format("spool: cannot inspect {}: {}", path.string(),
                      std::generic_category().message(errno)));
    }
  }
  if (S_ISLNK(st.st_mode)) {
    return Status::PermissionDenied(fmt::format(
        "spool: refusing {}: it is a symbolic link (the spool must be a real "
        "directory owned by you)",
        path.string()));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::FailedPrecondition(
        fmt::format("spool: {} exists and is not a directory", path.string()));
  }
  if (st.st_uid != ::geteuid()) {
    return Status::PermissionDenied(fmt::format(
        "spool: refusing {}: it is owned by uid {}, not by the current user "
        "(uid {})",
        path.string(), st.st_uid, ::geteuid()));
  }
  if ((st.st_mode & 07777) != 0700 && ::chmod(path.c_str(), 0700) != 0) {
    return Status::IoError(fmt::format("spool: cannot chmod 0700 {}: {}",
                                       path.string(),
                                       std::generic_category().message(errno)));
  }
  return Status::OK();
}

}  // namespace

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kMaxEvents:
      return "max_events";
    case DropReason::kMaxBytes:
      return "max_bytes";
    case DropReason::kMaxAge:
      return "max_age";
    case DropReason::kCorruption:
      return "corruption";
  }
  return "unknown";
}

namespace {

struct NewEvent {
  int64_t time_ms = 0;
  std::string_view json;
};

// Jittered exponential backoff for the LevelDB lock: 1 ms doubling to 50 ms,
// each sleep uniformly in [d/2, d], never past the deadline.
class LockBackoff {
 public:
  LockBackoff(const core::Clock* clock, std::chrono::milliseconds budget)
      : clock_(clock), deadline_(clock->Monotonic() + budget) {}

  // Sleeps before the next attempt; false once the budget is spent.
  bool Wait() {
    const auto now = clock_->Monotonic();
    if (now >= deadline_) return false;
    thread_local std::minstd_rand rng(std::random_device{}());
    const auto half = delay_ / 2;
    std::uniform_int_distribution<int64_t> dist(half.count(), delay_.count());
    auto sleep = std::chrono::microseconds(dist(rng));
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - now);
    clock_->SleepFor(std::min(sleep, left));
    delay_ = std::min(delay_ * 2, std::chrono::microseconds(50'000));
    return true;
  }

 private:
  const core::Clock* clock_;
  core::MonoTime deadline_;
  std::chrono::microseconds delay_{1'000};
};

}  // namespace

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
    if (shared_->holds == 0) shared_->db.reset();
  }

  Result<AppendTarget> Append(std::span<const std::string> messages) {
    if (messages.empty()) return AppendTarget::kDatabase;
    const int64_t now_ms = ToMs(clock_->Now());
    std::vector<NewEvent> events;
    events.reserve(messages.size());
    for (const std::string& m : messages) events.push_back({now_ms, m});
    Status st = Run(
        /*create=*/true,
        [&](SharedDb& s) {
          leveldb::WriteBatch batch;
          return AppendLocked(s, events, &batch);
        },
        nullptr);
    if (st.ok()) return AppendTarget::kDatabase;
    if (st.code() != Status::Code::kBusy) return st;
    ZENML_TRY(WriteInbox(messages, now_ms).WithContext(st.message()));
    return AppendTarget::kInbox;
  }

  Status AppendToInbox(std::span<const std::string> messages) {
    if (messages.empty()) return Status::OK();
    return WriteInbox(messages, ToMs(clock_->Now()));
  }

  Result<std::vector<Entry>> Peek(std::string_view after_key, size_t max_bytes,
                                  size_t max_count) {
    std::vector<Entry> out;
    bool absent = false;
    Status run_status = Run(
        /*create=*/false,
        [&](SharedDb& s) -> Status {
          out.clear();
          // The age bound holds even when nobody appends.
          leveldb::WriteBatch batch;
          ZENML_TRY(AppendLocked(s, {}, &batch));
          if (max_count == 0) return Status::OK();
          // Only readers that walk the spool pay for this, never a writer
          // (a tracking process must not spend seconds compacting).
          CompactIfLevel0Crowded(s);
          leveldb::ReadOptions ro;
          ro.verify_checksums = true;
          std::unique_ptr<leveldb::Iterator> it(s.db->NewIterator(ro));
          const std::string head = EventKey(s.meta.first_seq);
          if (!after_key.empty() && after_key >= head) {
            it->Seek(ToSlice(after_key));
            if (it->Valid() && ToView(it->key()) == after_key) it->Next();
          } else {
            it->Seek(head);
          }
          size_t bytes = 0;
          for (; it->Valid(); it->Next()) {
            const std::string_view key = ToView(it->key());
            if (!key.starts_with(kEventPrefix)) break;
            auto seq = DecodeSeqKey(key, kEventPrefix);
            auto value = DecodeEventValue(ToView(it->value()));
            if (!seq || !value) continue;  // not ours; never blocks the queue
            if (!value->intact) {
              // Repair (in Run) removes and counts it.
              return Status::Corruption(
                  fmt::format("spool: event {} fails its checksum", *seq));
            }
            if (!out.empty() && bytes + value->json.size() > max_bytes) break;
            out.push_back({std::string(key), *seq, std::string(value->json)});
            bytes += value->json.size();
            if (out.size() >= max_count) break;
          }
          return FromLevelDb(it->status(), "reading events");
        },
        &absent);
    ZENML_TRY(run_status);
    return out;
  }

  Status Ack(std::span<const std::string> keys) {
    if (keys.empty()) return Status::OK();
    for (const std::string& k : keys) {
      if (!DecodeSeqKey(k, kEventPrefix)) {
        return Status::InvalidArgument("spool: Ack of a key that is no event");
      }
    }
    bool absent = false;
    return Run(
        /*create=*/false,
        [&](SharedDb& s) -> Status {
          Meta m = s.meta;
          leveldb::WriteBatch batch;
          std::vector<uint64_t> deleted;  // ascending: keys are sorted
          // The keys of one Ack are usually a run of consecutive events (an
          // uploader acks what it peeked), so one iterator walks them in
          // order: a Next per key instead of a Get each (a Get searches the
          // memtable and every level again). A key more than a few steps
          // ahead is sought directly.
          std::vector<std::string_view> sorted(keys.begin(), keys.end());
          std::sort(sorted.begin(), sorted.end());
          std::unique_ptr<leveldb::Iterator> it(
              s.db->NewIterator(leveldb::ReadOptions()));
          bool positioned = false;
          for (const std::string_view k : sorted) {
            const uint64_t seq = *DecodeSeqKey(k, kEventPrefix);
            if (!deleted.empty() && deleted.back() == seq) continue;  // twice
            int steps = 0;
            while (positioned && it->Valid() && ToView(it->key()) < k &&
                   steps++ < kMaxAckSteps) {
              it->Next();
            }
            if (!positioned || !it->Valid() || ToView(it->key()) < k) {
              ZENML_TRY(
                  FromLevelDb(it->status(), "reading acknowledged events"));
              it->Seek(ToSlice(k));
              positioned = true;
            }
            if (!it->Valid() || ToView(it->key()) != k) {
              ZENML_TRY(
                  FromLevelDb(it->status(), "reading acknowledged events"));
              continue;  // acked before, or dropped
            }
            const size_t value_size = it->value().size();
            const uint64_t size = value_size >= kEventHeaderSize
                                      ? value_size - kEventHeaderSize
                                      : 0;
            batch.Delete(ToSlice(k));
            m.count = m.count > 0 ? m.count - 1 : 0;
            m.bytes = m.bytes >= size ? m.bytes - size : 0;
            deleted.push_back(seq);
          }
          ZENML_TRY(FromLevelDb(it->status(), "reading acknowledged events"));
          it.reset();
          if (deleted.empty()) return Status::OK();
          ZENML_TRY(AdvanceFirst(s, &m, deleted));
          m.deletes_since_compact += deleted.size();
          return CommitMeta(s, m, &batch);
        },
        &absent);
  }

  Status DeadLetter(std::string_view key, int http_status,
                    std::string_view reason) {
    auto seq = DecodeSeqKey(key, kEventPrefix);
    if (!seq) {
      return Status::InvalidArgument(
          "spool: DeadLetter of a key that is no event");
    }
    bool absent = false;
    Status run_status = Run(
        /*create=*/false,
        [&](SharedDb& s) -> Status {
          std::string value;
          leveldb::Status g =
              s.db->Get(leveldb::ReadOptions(), ToSlice(key), &value);
          if (g.IsNotFound()) {
            return Status::NotFound(
                fmt::format("spool: no pending event with sequence {}", *seq));
          }
          ZENML_TRY(FromLevelDb(g, "reading a dead letter"));
          auto ev = DecodeEventValue(value);
          if (!ev) return Status::Corruption("spool: malformed event value");
          rapidjson::StringBuffer buffer;
          rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
          const std::string_view cut = TruncateUtf8(reason, kMaxReasonBytes);
          w.StartObject();
          w.Key("status");
          w.Int(http_status);
          w.Key("reason");
          w.String(cut.data(), static_cast<rapidjson::SizeType>(cut.size()));
          w.Key("at");
          w.Int64(ToMs(clock_->Now()));
          w.Key("message");
          w.String(ev->json.data(),
                   static_cast<rapidjson::SizeType>(ev->json.size()));
          w.EndObject();
          Meta m = s.meta;
          leveldb::WriteBatch batch;
          batch.Delete(ToSlice(key));
          batch.Put(DeadLetterKey(*seq),
                    leveldb::Slice(buffer.GetString(), buffer.GetSize()));
          m.count = m.count > 0 ? m.count - 1 : 0;
          m.bytes = m.bytes >= ev->json.size() ? m.bytes - ev->json.size() : 0;
          m.dead_letters++;
          m.deletes_since_compact++;
          const uint64_t gone[] = {*seq};
          ZENML_TRY(AdvanceFirst(s, &m, gone));
          return CommitMeta(s, m, &batch);
        },
        &absent);
    ZENML_TRY(run_status);
    if (absent) {
      return Status::NotFound(
          fmt::format("spool: no pending event with sequence {}", *seq));
    }
    return Status::OK();
  }

  Result<std::vector<DeadLetterEntry>> PeekDeadLetters(uint64_t after_seq,
                                                       size_t max_count) {
    std::vector<DeadLetterEntry> out;
    if (after_seq == UINT64_MAX || max_count == 0) return out;
    bool absent = false;
    Status run_status = Run(
        /*create=*/false,
        [&](SharedDb& s) -> Status {
          out.clear();
          leveldb::ReadOptions ro;
          ro.verify_checksums = true;
          std::unique_ptr<leveldb::Iterator> it(s.db->NewIterator(ro));
          for (it->Seek(DeadLetterKey(after_seq + 1)); it->Valid();
               it->Next()) {
            auto seq = DecodeSeqKey(ToView(it->key()), kDeadLetterPrefix);
            if (!seq) break;
            rapidjson::Document d;
            d.Parse(it->value().data(), it->value().size());
            if (d.HasParseError() || !d.IsObject()) continue;
            DeadLetterEntry e;
            e.seq = *seq;
            if (d.HasMember("status") && d["status"].IsInt()) {
              e.status = d["status"].GetInt();
            }
            if (d.HasMember("reason") && d["reason"].IsString()) {
              e.reason.assign(d["reason"].GetString(),
                              d["reason"].GetStringLength());
            }
            if (d.HasMember("at") && d["at"].IsInt64()) {
              e.at = FromMs(d["at"].GetInt64());
            }
            if (d.HasMember("message") && d["message"].IsString()) {
              e.message.assign(d["message"].GetString(),
                               d["message"].GetStringLength());
            }
            out.push_back(std::move(e));
            if (out.size() >= max_count) break;
          }
          return FromLevelDb(it->status(), "reading dead letters");
        },
        &absent);
    ZENML_TRY(run_status);
    return out;
  }

  Result<SpoolStats> Stats() {
    SpoolStats stats;
    bool absent = false;
    Status run_status = Run(
        /*create=*/false,
        [&](SharedDb& s) -> Status {
          const Meta& m = s.meta;
          stats.count = m.count;
          stats.bytes = m.bytes;
          stats.next_seq = m.next_seq;
          stats.dead_letters = m.dead_letters;
          stats.dropped = m.dropped;
          stats.write_errors = m.write_errors + s.pending_write_errors;
          stats.format_version = m.format_version;
          std::string value;
          leveldb::Status g = s.db->Get(leveldb::ReadOptions(),
                                        ToSlice(kMetaLastUpload), &value);
          if (g.ok()) {
            stats.last_upload = UploadRecordFromJson(value);
          } else if (!g.IsNotFound()) {
            return FromLevelDb(g, "reading the last upload");
          }
          g = s.db->Get(leveldb::ReadOptions(), ToSlice(kMetaNotBefore),
                        &value);
          if (g.ok()) {
            if (auto ms = DecodeFixed64BE(value)) {
              stats.not_before = FromMs(static_cast<int64_t>(*ms));
            }
          } else if (!g.IsNotFound()) {
            return FromLevelDb(g, "reading not-before");
          }
          return Status::OK();
        },
        &absent);
    ZENML_TRY(run_status);
    if (absent) {
      stats.next_seq = 1;
      stats.format_version = 0;  // no spool yet
      if (shared_ != nullptr)
        stats.write_errors = shared_->pending_write_errors;
    }
    stats.inbox_files = InboxFiles().size();
    return stats;
  }

  Result<uint64_t> Purge() {
    uint64_t deleted = 0;
    bool absent = false;
    Status run_status = Run(
        /*create=*/false,
        [&](SharedDb& s) -> Status {
          leveldb::WriteBatch batch;
          std::unique_ptr<leveldb::Iterator> it(
              s.db->NewIterator(leveldb::ReadOptions()));
          for (it->Seek(EventKey(s.meta.first_seq)); it->Valid(); it->Next()) {
            if (!ToView(it->key()).starts_with(kEventPrefix)) break;
            batch.Delete(it->key());
          }
          for (std::string_view prefix :
               {kDeadLetterPrefix, kInboxMarkerPrefix, kMetaDropPrefix}) {
            for (it->Seek(ToSlice(prefix));
                 it->Valid() && ToView(it->key()).starts_with(prefix);
                 it->Next()) {
              batch.Delete(it->key());
            }
          }
          ZENML_TRY(FromLevelDb(it->status(), "purging"));
          batch.Delete(ToSlice(kMetaLastUpload));
          batch.Delete(ToSlice(kMetaNotBefore));
          deleted = s.meta.count;
          Meta m;
          m.next_seq = s.meta.next_seq;  // sequences never go back
          m.first_seq = m.next_seq;
          PutMetaChanges(&batch, m, nullptr);
          ZENML_TRY(WriteLocked(s, &batch));
          s.meta = m;
          s.pending_write_errors = 0;
          s.db->CompactRange(nullptr, nullptr);
          return Status::OK();
        },
        &absent);
    ZENML_TRY(run_status);
    // With no database there can be no inbox worth keeping either.
    for (const std::string& name : InboxFiles()) {
      SharedEnv()->RemoveFile(inbox_path_ + "/" + name);
    }
    return deleted;
  }

  Status RecordUpload(const UploadRecord& record) {
    return Run(
        /*create=*/true,
        [&](SharedDb& s) -> Status {
          leveldb::WriteBatch batch;
          batch.Put(ToSlice(kMetaLastUpload), UploadRecordToJson(record));
          if (record.not_before) {
            PutMetaInt(&batch, kMetaNotBefore,
                       static_cast<uint64_t>(ToMs(*record.not_before)));
          } else {
            batch.Delete(ToSlice(kMetaNotBefore));
          }
          return WriteLocked(s, &batch);
        },
        nullptr);
  }

  Status Hold() {
    SharedDb& s = Shared();
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.db) ZENML_TRY(OpenLocked(s, /*create=*/true));
    s.holds++;
    my_holds_++;
    return Status::OK();
  }

  bool CompactingLevel0() {
    SharedDb& s = Shared();
    std::lock_guard<std::mutex> lock(s.mu);
    return s.db && Level0Files(s) >= kLevel0CompactionTrigger;
  }

  void Release() {
    SharedDb& s = Shared();
    std::lock_guard<std::mutex> lock(s.mu);
    if (my_holds_ == 0) return;
    my_holds_--;
    s.holds--;
    if (s.holds == 0) s.db.reset();
  }

 private:
  using Fn = std::function<Status(SharedDb&)>;

  SharedDb& Shared() {
    std::lock_guard<std::mutex> lock(init_mu_);
    if (shared_ == nullptr) {
      std::error_code ec;
      fs::path key = fs::weakly_canonical(fs::absolute(dir_, ec), ec);
      if (key.empty()) key = dir_;
      shared_ = AcquireShared(base_env_, (key / "spool").string());
    }
    return *shared_;
  }

  leveldb::Env* SharedEnv() { return Shared().env.get(); }

  // Runs `fn` inside one transaction: this process's lock on the database
  // taken, the database open (opened here and closed after unless held) and
  // the inbox ingested. Without `create`, a spool that does not exist yet is
  // not created: `*absent` is set and `fn` is not run. A Corruption from `fn`
  // repairs the database and runs `fn` once more.
  Status Run(bool create, const Fn& fn, bool* absent) {
    if (absent != nullptr) *absent = false;
    SharedDb& s = Shared();
    std::lock_guard<std::mutex> lock(s.mu);
    Status st;
    if (!s.db) {
      st = OpenLocked(s, create);
      if (st.code() == Status::Code::kNotFound && !create &&
          absent != nullptr) {
        *absent = true;
        return Status::OK();
      }
    }
    if (st.ok() && options_.ingest_inbox) st = IngestInboxLocked(s);
    if (st.ok()) st = fn(s);
    if (st.code() == Status::Code::kCorruption && s.db) {
      const uint64_t known_count = s.meta.count;
      s.db.reset();
      st = RepairLocked(s);
      if (st.ok()) st = OpenLocked(s, /*create=*/false, known_count);
      if (st.ok()) st = fn(s);
    }
    // LevelDB keeps a failed write's error for the life of the handle; close
    // so the next call starts clean.
    if (!st.ok() && (st.code() == Status::Code::kIoError ||
                     st.code() == Status::Code::kCorruption)) {
      s.db.reset();  // a holder's next call reopens it
    }
    if (s.holds == 0) s.db.reset();
    return st;
  }

  // Replaces the info logger (the database is closed): LOG is appended to,
  // and rotated to LOG.old only once it has grown past kMaxInfoLogBytes.
  void OpenInfoLog(SharedDb& s) {
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
      s.logger = std::make_unique<AppendingLogger>(file);
    }
  }

  leveldb::Options BaseOptions(SharedDb& s) const {
    leveldb::Options o;
    o.env = s.env.get();
    o.info_log = s.logger.get();  // nullptr: LevelDB's own LOG handling
    o.paranoid_checks = true;  // a damaged log fails Open: we repair and count
    o.write_buffer_size = kWriteBufferSize;
    o.max_open_files = kMaxOpenFiles;
    o.block_size = kBlockSize;
    return o;
  }

  Status PrepareDirs(bool create) {
    ZENML_TRY(PrepareDir(dir_, create));
    ZENML_TRY(PrepareDir(dir_ / "spool", create));
    Status inbox = PrepareDir(dir_ / "inbox", create);
    if (inbox.code() == Status::Code::kNotFound) return Status::OK();
    return inbox;
  }

  // Opens the database (retrying the lock until lock_wait), repairing it if
  // Open reports corruption. `known_count` is the event count this process
  // last saw, when it had the database open at the moment damage was found.
  Status OpenLocked(SharedDb& s, bool create,
                    std::optional<uint64_t> known_count = std::nullopt) {
    ZENML_TRY(PrepareDirs(create));
    if (!create && !s.env->FileExists(db_path_ + "/CURRENT")) {
      return Status::NotFound("spool: no spool yet");
    }
    OpenInfoLog(s);
    leveldb::Options o = BaseOptions(s);
    o.create_if_missing = create;
    LockBackoff backoff(clock_, options_.lock_wait);
    bool repaired = known_count.has_value();
    for (;;) {
      o.reuse_logs =
          kReuseLogs && DatabaseLogTailsComplete(s.env.get(), db_path_);
      leveldb::DB* raw = nullptr;
      leveldb::Status ls = leveldb::DB::Open(o, db_path_, &raw);
      if (ls.ok()) {
        s.db.reset(raw);
        break;
      }
      if (IsLockError(ls)) {
        if (backoff.Wait()) continue;
        return Status::Busy(
            fmt::format("spool: another process held {} for longer than {} ms",
                        db_path_, options_.lock_wait.count()));
      }
      if (ls.IsCorruption() && !repaired) {
        repaired = true;
        ZENML_TRY(RepairLocked(s));
        continue;
      }
      return FromLevelDb(ls, "opening " + db_path_);
    }
    Status st = MigrateFormatOneLocked(s);
    if (st.ok()) st = LoadMeta(s.db.get(), &s.meta);
    if (st.ok() && s.meta.format_version > kFormatVersion) {
      st = Status::FailedPrecondition(fmt::format(
          "spool: {} has format version {}, newer than this program's {}",
          db_path_, s.meta.format_version, kFormatVersion));
    }
    if (st.ok() && s.meta.format_version == 0) {
      // A new database: record the format it is written in.
      s.meta.format_version = kFormatVersion;
      leveldb::WriteBatch batch;
      PutMetaInt(&batch, kMetaFormat, kFormatVersion);
      PutMetaInt(&batch, kLegacyMetaFormat, kFormatVersion);
      st = WriteLocked(s, &batch);
    }
    if (st.ok() && repaired) st = RecountLocked(s, known_count.value_or(0));
    if (st.ok()) st = SweepMarkersLocked(s);
    if (!st.ok()) s.db.reset();
    return st;
  }

  // Format 1 kept the metadata under m/ (keys.h says why it moved to c/).
  // Moves every m/ key to c/ in one WriteBatch, so a crash leaves either
  // format, and leaves m/format_version at the new version as a guard
  // against format-1 programs. Nothing to do for a format-2 or new spool.
  Status MigrateFormatOneLocked(SharedDb& s) {
    std::string value;
    leveldb::Status g =
        s.db->Get(leveldb::ReadOptions(), ToSlice(kMetaFormat), &value);
    if (g.ok()) return Status::OK();
    if (!g.IsNotFound()) return FromLevelDb(g, "reading the format version");
    leveldb::WriteBatch batch;
    bool any = false;
    std::unique_ptr<leveldb::Iterator> it(
        s.db->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(ToSlice(kLegacyMetaPrefix));
         it->Valid() && ToView(it->key()).starts_with(kLegacyMetaPrefix);
         it->Next()) {
      std::string_view name =
          ToView(it->key()).substr(kLegacyMetaPrefix.size());
      batch.Put(std::string(kMetaPrefix) + std::string(name), it->value());
      batch.Delete(it->key());
      any = true;
    }
    ZENML_TRY(FromLevelDb(it->status(), "reading format-1 metadata"));
    if (!any) return Status::OK();  // a new database
    LogLine(s.logger.get(), "spool: format 1 -> 2 (metadata m/ -> c/)");
    PutMetaInt(&batch, kMetaFormat, kFormatVersion);
    PutMetaInt(&batch, kLegacyMetaFormat, kFormatVersion);
    return WriteLocked(s, &batch);
  }

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
  void CompactIfLevel0Crowded(SharedDb& s) {
    if (s.holds > 0 || Level0Files(s) < kLevel0FilesToCompact) return;
    const std::string head = EventKey(s.meta.first_seq);
    leveldb::Slice end(head);
    s.db->CompactRange(nullptr, &end);
  }

  static uint64_t Level0Files(SharedDb& s) {
    std::string files;
    if (!s.db->GetProperty("leveldb.num-files-at-level0", &files)) return 0;
    return std::strtoull(files.c_str(), nullptr, 10);
  }

  // RepairDB does not take LevelDB's LOCK, so we take it ourselves: no other
  // process may open the database while it is being rewritten.
  Status RepairLocked(SharedDb& s) {
    leveldb::FileLock* file_lock = nullptr;
    LockBackoff backoff(clock_, options_.lock_wait);
    for (;;) {
      leveldb::Status ls = s.env->LockFile(db_path_ + "/LOCK", &file_lock);
      if (ls.ok()) break;
      if (IsLockError(ls) && backoff.Wait()) continue;
      if (IsLockError(ls)) {
        return Status::Busy("spool: busy while trying to repair " + db_path_);
      }
      return FromLevelDb(ls, "locking for repair");
    }
    leveldb::Options o = BaseOptions(s);
    leveldb::Status rs = leveldb::RepairDB(db_path_, o);
    s.env->UnlockFile(file_lock);
    return FromLevelDb(rs, "repairing " + db_path_);
  }

  // After a repair: count what survived, charge the difference to
  // DropReason::kCorruption, and make the metadata true again.
  Status RecountLocked(SharedDb& s, uint64_t known_count) {
    Meta m = s.meta;
    leveldb::WriteBatch batch;
    uint64_t count = 0, bytes = 0, dead = 0, max_seq = 0;
    std::optional<uint64_t> min_seq;
    std::unique_ptr<leveldb::Iterator> it(
        s.db->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(ToSlice(kEventPrefix));
         it->Valid() && ToView(it->key()).starts_with(kEventPrefix);
         it->Next()) {
      auto seq = DecodeSeqKey(ToView(it->key()), kEventPrefix);
      auto v = DecodeEventValue(ToView(it->value()));
      if (!seq || !v || !v->intact) {
        batch.Delete(it->key());  // damaged: lost, and counted below
        continue;
      }
      count++;
      bytes += v->json.size();
      if (!min_seq) min_seq = *seq;
      max_seq = std::max(max_seq, *seq);
    }
    for (it->Seek(ToSlice(kDeadLetterPrefix));
         it->Valid() && ToView(it->key()).starts_with(kDeadLetterPrefix);
         it->Next()) {
      if (auto seq = DecodeSeqKey(ToView(it->key()), kDeadLetterPrefix)) {
        dead++;
        max_seq = std::max(max_seq, *seq);
      }
    }
    ZENML_TRY(FromLevelDb(it->status(), "recounting after repair"));
    const uint64_t expected = std::max(m.count, known_count);
    const uint64_t lost = expected > count ? expected - count : 0;
    if (lost > 0)
      m.dropped[std::string(DropReasonName(DropReason::kCorruption))] += lost;
    m.count = count;
    m.bytes = bytes;
    m.dead_letters = dead;
    m.next_seq = std::max(m.next_seq, max_seq + 1);
    m.first_seq = min_seq.value_or(m.next_seq);
    m.format_version = kFormatVersion;
    PutMetaChanges(&batch, m, nullptr);
    ZENML_TRY(WriteLocked(s, &batch));
    s.meta = m;
    return Status::OK();
  }

  // Deletes i/ markers whose inbox file is gone (a crash after the unlink
  // and before the marker's removal). Usually an empty range.
  Status SweepMarkersLocked(SharedDb& s) {
    leveldb::WriteBatch batch;
    bool any = false;
    std::unique_ptr<leveldb::Iterator> it(
        s.db->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(ToSlice(kInboxMarkerPrefix));
         it->Valid() && ToView(it->key()).starts_with(kInboxMarkerPrefix);
         it->Next()) {
      const std::string name(
          ToView(it->key()).substr(kInboxMarkerPrefix.size()));
      if (!s.env->FileExists(inbox_path_ + "/" + name)) {
        batch.Delete(it->key());
        any = true;
      }
    }
    ZENML_TRY(FromLevelDb(it->status(), "reading inbox markers"));
    if (!any) return Status::OK();
    return FromLevelDb(s.db->Write(leveldb::WriteOptions(), &batch),
                       "removing inbox markers");
  }

  // The inbox files ready for ingestion, oldest first. Temporary files a
  // killed writer left behind (older than an hour, so never one being
  // written) are removed on the way.
  std::vector<std::string> InboxFiles() {
    std::vector<std::string> children, out;
    if (!SharedEnv()->GetChildren(inbox_path_, &children).ok()) return out;
    const auto stale_before =
        std::chrono::system_clock::now() - std::chrono::hours(1);
    for (std::string& name : children) {
      if (name.ends_with(kInboxSuffix) && !name.starts_with(".")) {
        out.push_back(std::move(name));
      } else if (name.starts_with(kInboxTmpPrefix)) {
        const std::string path = inbox_path_ + "/" + name;
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 &&
            std::chrono::system_clock::from_time_t(st.st_mtime) <
                stale_before) {
          SharedEnv()->RemoveFile(path);
        }
      }
    }
    std::sort(out.begin(), out.end());  // names start with the time
    return out;
  }

  // Moves inbox files into the database: their events and their i/ markers
  // in one synced batch, then the files are unlinked, then the markers. A
  // crash between the batch and the unlink leaves file + marker: the next
  // ingestion sees the marker and only unlinks.
  Status IngestInboxLocked(SharedDb& s) {
    const std::vector<std::string> names = InboxFiles();
    if (names.empty()) return Status::OK();
    std::vector<std::string> fresh, done;
    std::vector<PendingEvent> owned;
    std::string value;
    for (const std::string& name : names) {
      const std::string marker = InboxMarkerKey(name);
      leveldb::Status g = s.db->Get(leveldb::ReadOptions(), marker, &value);
      if (g.ok()) {
        done.push_back(name);
        continue;
      }
      if (!g.IsNotFound()) return FromLevelDb(g, "reading an inbox marker");
      std::string data;
      const std::string path = inbox_path_ + "/" + name;
      if (!ReadWholeFile(s.env.get(), path, &data).ok() ||
          !DecodeInbox(data, &owned)) {
        // Not ours or damaged: keep it aside for a human, never loop on it.
        s.env->RenameFile(path, path + ".bad");
        continue;
      }
      fresh.push_back(name);
    }
    if (!fresh.empty()) {
      std::vector<NewEvent> events;
      events.reserve(owned.size());
      for (const PendingEvent& e : owned) events.push_back({e.time_ms, e.json});
      leveldb::WriteBatch batch;
      for (const std::string& name : fresh) batch.Put(InboxMarkerKey(name), "");
      ZENML_TRY(AppendLocked(s, events, &batch));
#ifdef ZENML_SPOOL_TEST_HOOKS
      // Test builds only: die between the batch and the unlink.
      if (const char* v = std::getenv("ZENML_SPOOL_TEST_CRASH_AFTER_INGEST");
          v != nullptr && std::string_view(v) == "1") {
        std::raise(SIGKILL);
      }
#endif
    }
    leveldb::WriteBatch markers;
    for (const auto* list : {&fresh, &done}) {
      for (const std::string& name : *list) {
        s.env->RemoveFile(inbox_path_ + "/" + name);
        markers.Delete(InboxMarkerKey(name));
      }
    }
    SyncDir(inbox_path_);
    // Not synced: a lost marker removal is redone by SweepMarkersLocked.
    return FromLevelDb(s.db->Write(leveldb::WriteOptions(), &markers),
                       "removing inbox markers");
  }

  // Writes `messages` as one inbox file: temporary name, fsync, rename, fsync
  // of the directory. The name starts with the time so ingestion keeps order.
  Status WriteInbox(std::span<const std::string> messages, int64_t time_ms) {
    ZENML_TRY(PrepareDir(dir_, true));
    ZENML_TRY(PrepareDir(dir_ / "inbox", true));
    thread_local std::mt19937_64 rng(std::random_device{}());
    const std::string name = fmt::format("{:016x}-{}-{:016x}{}", time_ms,
                                         ::getpid(), rng(), kInboxSuffix);
    const std::string tmp =
        inbox_path_ + "/" + std::string(kInboxTmpPrefix) + name;
    const std::string data = EncodeInbox(messages, time_ms);
    leveldb::Env* env = SharedEnv();
    leveldb::WritableFile* raw = nullptr;
    leveldb::Status ls = env->NewWritableFile(tmp, &raw);
    if (ls.ok()) {
      std::unique_ptr<leveldb::WritableFile> file(raw);
      ls = file->Append(data);
      if (ls.ok()) ls = file->Sync();
      leveldb::Status closed = file->Close();
      if (ls.ok()) ls = closed;
    }
    if (ls.ok()) ls = env->RenameFile(tmp, inbox_path_ + "/" + name);
    if (!ls.ok()) {
      env->RemoveFile(tmp);
      return FromLevelDb(ls, "writing an inbox file");
    }
    SyncDir(inbox_path_);
    return Status::OK();
  }

  // The append transaction: `events` get consecutive sequences; the bounds
  // drop the oldest (database head first, then the oldest new ones); the
  // counters go in the same batch as the events, plus whatever the caller
  // put in `batch` (inbox markers). Writes nothing if nothing changes.
  Status AppendLocked(SharedDb& s, std::span<const NewEvent> events,
                      leveldb::WriteBatch* batch) {
    Meta m = s.meta;
    const int64_t cutoff =
        ToMs(clock_->Now()) -
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_age)
            .count();
    uint64_t count = m.count + events.size();
    uint64_t bytes = m.bytes;
    for (const NewEvent& e : events) bytes += e.json.size();
    auto drop = [&](DropReason why, uint64_t size) {
      m.dropped[std::string(DropReasonName(why))]++;
      count = count > 0 ? count - 1 : 0;
      bytes = bytes >= size ? bytes - size : 0;
      m.deletes_since_compact++;
    };
    auto over = [&](int64_t time_ms) -> std::optional<DropReason> {
      if (time_ms < cutoff) return DropReason::kMaxAge;
      if (count > options_.max_events) return DropReason::kMaxEvents;
      if (bytes > options_.max_bytes) return DropReason::kMaxBytes;
      return std::nullopt;
    };

    bool head_exhausted = m.count == 0;
    if (!head_exhausted) {
      std::unique_ptr<leveldb::Iterator> it(
          s.db->NewIterator(leveldb::ReadOptions()));
      for (it->Seek(EventKey(m.first_seq));; it->Next()) {
        if (!it->Valid() || !ToView(it->key()).starts_with(kEventPrefix)) {
          head_exhausted = true;
          break;
        }
        auto seq = DecodeSeqKey(ToView(it->key()), kEventPrefix);
        auto v = DecodeEventValue(ToView(it->value()));
        const int64_t time_ms = v ? v->append_time_ms : 0;
        auto why = over(time_ms);
        if (!why) break;
        batch->Delete(it->key());
        drop(*why, v ? v->json.size() : 0);
        if (seq) m.first_seq = *seq + 1;
      }
      ZENML_TRY(FromLevelDb(it->status(), "reading the oldest events"));
    }
    if (head_exhausted) m.first_seq = std::max(m.first_seq, m.next_seq);

    uint64_t seq = m.next_seq;
    std::string value;
    for (const NewEvent& e : events) {
      std::optional<DropReason> why;
      if (e.time_ms < cutoff) {
        why = DropReason::kMaxAge;
      } else if (head_exhausted) {
        why = over(e.time_ms);
      }
      if (why) {
        drop(*why, e.json.size());
        continue;
      }
      value.clear();
      AppendEventValue(e.time_ms, e.json, &value);
      batch->Put(EventKey(seq++), value);
    }
    // Events dropped from the new ones were never counted in, so the head
    // must not point past a kept one.
    m.next_seq = seq;
    m.count = count;
    m.bytes = bytes;
    if (m.count == 0) m.first_seq = m.next_seq;
    return CommitMeta(s, m, batch);
  }

  // Moves the first-live hint over keys deleted now or gone before (probing
  // at most kMaxHintProbes of the latter), so Peek("") seeks near the head.
  // `deleted`: the sequences just deleted, ascending.
  Status AdvanceFirst(SharedDb& s, Meta* m, std::span<const uint64_t> deleted) {
    if (m->count == 0) {
      m->first_seq = m->next_seq;
      return Status::OK();
    }
    int probes = 0;
    std::string value;
    auto next_deleted =
        std::lower_bound(deleted.begin(), deleted.end(), m->first_seq);
    while (m->first_seq < m->next_seq) {
      if (next_deleted != deleted.end() && *next_deleted == m->first_seq) {
        ++next_deleted;
        m->first_seq++;
        continue;
      }
      if (probes++ >= kMaxHintProbes) break;
      leveldb::Status g =
          s.db->Get(leveldb::ReadOptions(), EventKey(m->first_seq), &value);
      if (!g.IsNotFound()) return FromLevelDb(g, "probing the head");
      m->first_seq++;
    }
    return Status::OK();
  }

  // Adds the changed counters (and pending write errors) to `batch`, writes
  // it, and only then adopts `m`. Compacts the drained range when due.
  Status CommitMeta(SharedDb& s, Meta m, leveldb::WriteBatch* batch) {
    m.write_errors += s.pending_write_errors;
    PutMetaChanges(batch, m, &s.meta);
    if (batch->ApproximateSize() <= kEmptyBatchSize) return Status::OK();
    ZENML_TRY(WriteLocked(s, batch));
    s.meta = m;
    s.pending_write_errors = 0;
    const bool due = (m.deletes_since_compact >= kCompactAfterDeletes &&
                      m.deletes_since_compact >= m.count) ||
                     (m.count == 0 &&
                      m.deletes_since_compact >= kCompactWhenEmptyAfterDeletes);
    if (due) {
      // From the metadata on (it sorts first): the level-0 tables of
      // tombstones all start there.
      const std::string end = EventKey(m.first_seq);
      leveldb::Slice e(end);
      s.db->CompactRange(nullptr, &e);
      leveldb::WriteBatch reset;
      PutMetaInt(&reset, kMetaDeletesSinceCompact, 0);
      ZENML_TRY(WriteLocked(s, &reset));
      s.meta.deletes_since_compact = 0;
    }
    return Status::OK();
  }

  Status WriteLocked(SharedDb& s, leveldb::WriteBatch* batch) {
    leveldb::WriteOptions wo;
    wo.sync = options_.sync;
    leveldb::Status ls = s.db->Write(wo, batch);
    if (!ls.ok()) s.pending_write_errors++;
    return FromLevelDb(ls, "writing");
  }

  static constexpr size_t kEmptyBatchSize = 12;  // WriteBatch header

  const SpoolOptions options_;
  leveldb::Env* const base_env_;
  const core::Clock* const clock_;
  const fs::path dir_;
  const std::string db_path_;
  const std::string inbox_path_;

  std::mutex init_mu_;
  std::shared_ptr<SharedDb> shared_;  // set once, by Shared()
  int my_holds_ = 0;                  // guarded by shared_->mu
};

Spool::Spool(SpoolOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}

Spool::~Spool() = default;

Result<AppendTarget> Spool::Append(std::span<const std::string> messages) {
  return impl_->Append(messages);
}

Status Spool::AppendToInbox(std::span<const std::string> messages) {
  return impl_->AppendToInbox(messages);
}

Result<std::vector<Entry>> Spool::Peek(std::string_view after_key,
                                       size_t max_bytes, size_t max_count) {
  return impl_->Peek(after_key, max_bytes, max_count);
}

Status Spool::Ack(std::span<const std::string> keys) {
  return impl_->Ack(keys);
}

Status Spool::DeadLetter(std::string_view key, int http_status,
                         std::string_view reason) {
  return impl_->DeadLetter(key, http_status, reason);
}

Result<std::vector<DeadLetterEntry>> Spool::PeekDeadLetters(uint64_t after_seq,
                                                            size_t max_count) {
  return impl_->PeekDeadLetters(after_seq, max_count);
}

Result<SpoolStats> Spool::Stats() { return impl_->Stats(); }

Result<uint64_t> Spool::Purge() { return impl_->Purge(); }

Status Spool::RecordUpload(const UploadRecord& record) {
  return impl_->RecordUpload(record);
}

Status Spool::Hold() { return impl_->Hold(); }
bool Spool::CompactingLevel0() { return impl_->CompactingLevel0(); }

void Spool::Release() { impl_->Release(); }

}  // namespace zenml::spool
