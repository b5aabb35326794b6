#include "spool/log_tail.h"

#include <leveldb/env.h>
#include <leveldb/slice.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "spool/repair.h"

namespace zenml::spool {
namespace {

// leveldb/db/log_format.h (stable since 2011).
constexpr uint64_t kBlockSize = 32768;
constexpr size_t kHeaderSize = 7;  // crc (4), length (2), type (1)
enum RecordType : unsigned char {
  kZeroType = 0,
  kFullType = 1,
  kFirstType = 2,
  kMiddleType = 3,
  kLastType = 4,
};

// CRC-32C (Castagnoli), as LevelDB's log records carry it, masked.
uint32_t Crc32c(const unsigned char* p, size_t n) {
  static const auto* const table = [] {
    auto* t = new uint32_t[256];
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t MaskedCrc(const unsigned char* p, size_t n) {
  const uint32_t crc = Crc32c(p, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

// Where the last block of a file of `size` > 0 bytes starts: a block holding
// at least one byte (records never straddle a block boundary).
uint64_t LastBlockStart(uint64_t size) {
  uint64_t start = (size / kBlockSize) * kBlockSize;
  if (start == size) start -= kBlockSize;
  return start;
}

// The payload length in the header of the record at `pos` of `p`
// (little-endian, after the 4-byte checksum).
size_t RecordLength(const unsigned char* p, size_t pos) {
  return p[pos + 4] | (static_cast<size_t>(p[pos + 5]) << 8);
}

// Whether a record with a matching checksum starts at `pos` of `p[0, n)`.
bool ValidRecordAt(const unsigned char* p, size_t n, size_t pos) {
  if (n - pos < kHeaderSize) return false;
  const size_t length = RecordLength(p, pos);
  const unsigned char type = p[pos + 6];
  if (type == kZeroType || type > kLastType) return false;
  if (pos + kHeaderSize + length > n) return false;
  const uint32_t stored = static_cast<uint32_t>(p[pos]) |
                          (static_cast<uint32_t>(p[pos + 1]) << 8) |
                          (static_cast<uint32_t>(p[pos + 2]) << 16) |
                          (static_cast<uint32_t>(p[pos + 3]) << 24);
  return MaskedCrc(p + pos + 6, 1 + length) == stored;
}

// The last block of `fname` (see LastBlockStart); false if unreadable or
// empty.
bool ReadLastBlock(leveldb::Env* env, const std::string& fname,
                   std::string* out) {
  uint64_t size = 0;
  if (!env->GetFileSize(fname, &size).ok() || size == 0) return false;
  const uint64_t start = LastBlockStart(size);
  const size_t n = static_cast<size_t>(size - start);
  leveldb::RandomAccessFile* raw = nullptr;
  if (!env->NewRandomAccessFile(fname, &raw).ok()) return false;
  std::unique_ptr<leveldb::RandomAccessFile> file(raw);
  std::vector<char> scratch(n);
  leveldb::Slice block;
  if (!file->Read(start, n, &block, scratch.data()).ok() || block.size() != n) {
    return false;
  }
  out->assign(block.data(), block.size());
  return true;
}

// Whether the last block `p[0, n)` of a non-empty file parses into whole
// records ending with a FULL or LAST fragment.
bool TailIsComplete(const unsigned char* p, size_t n) {
  size_t pos = 0;
  unsigned char last_type = kFullType;  // a block may start mid-record
  bool saw_record = false;
  while (pos < n) {
    if (n - pos < kHeaderSize) {
      // The writer pads the end of a full block with zeros.
      if (n != kBlockSize) return false;
      for (size_t i = pos; i < n; ++i) {
        if (p[i] != 0) return false;
      }
      break;
    }
    const size_t length = RecordLength(p, pos);
    const unsigned char type = p[pos + 6];
    if (type == kZeroType || type > kLastType) return false;
    if (pos + kHeaderSize + length > n) return false;  // cut short
    last_type = type;
    saw_record = true;
    pos += kHeaderSize + length;
  }
  if (!saw_record) return false;
  return last_type == kFullType || last_type == kLastType;
}

// FindLogTailDamage on the last block `p[0, n)` of a log.
LogTailDamage DamageOfTail(const unsigned char* p, size_t n) {
  LogTailDamage out;
  // Walk the records as LevelDB's reader does (lengths and types only).
  size_t pos = 0;
  while (pos < n) {
    if (n - pos < kHeaderSize) return out;  // padding or a torn header
    const size_t length = RecordLength(p, pos);
    const unsigned char type = p[pos + 6];
    if (type == kZeroType || type > kLastType ||
        pos + kHeaderSize + length > n) {
      break;
    }
    pos += kHeaderSize + length;
  }
  if (pos >= n) return out;
  // The record at `pos` is bad. Damage, not a torn write, if a record with
  // a matching checksum follows it.
  for (size_t q = pos + 1; q + kHeaderSize <= n; ++q) {
    if (ValidRecordAt(p, n, q)) {
      out.damaged = true;
      break;
    }
  }
  if (!out.damaged) return out;
  ScanLogBytesForEvents(
      std::string(reinterpret_cast<const char*>(p) + pos, n - pos),
      &out.events);
  return out;
}

// The number of a write-ahead log's name ("000012.log" -> 12), or nullopt.
std::optional<uint64_t> LogNumber(const std::string& name) {
  if (name.size() <= 4 || !name.ends_with(".log")) return std::nullopt;
  char* end = nullptr;
  const uint64_t number = std::strtoull(name.c_str(), &end, 10);
  if (end != name.c_str() + name.size() - 4) return std::nullopt;
  return number;
}

std::string BaseName(const std::string& fname) {
  const size_t slash = fname.find_last_of('/');
  return slash == std::string::npos ? fname : fname.substr(slash + 1);
}

// Logs and MANIFESTs: the files LevelDB may reuse.
bool Watched(const std::string& fname) {
  const std::string base = BaseName(fname);
  return LogNumber(base).has_value() || base.starts_with("MANIFEST-");
}

}  // namespace

std::string NewestLogFile(leveldb::Env* env, const std::string& db_path) {
  std::vector<std::string> children;
  if (!env->GetChildren(db_path, &children).ok()) return {};
  uint64_t newest = 0;
  std::string newest_log;
  for (const std::string& name : children) {
    if (name.size() > 4 && name.ends_with(".log")) {
      char* end = nullptr;
      const uint64_t number = std::strtoull(name.c_str(), &end, 10);
      if (end != name.c_str() + name.size() - 4) continue;
      if (newest_log.empty() || number > newest) {
        newest = number;
        newest_log = name;
      }
    }
  }
  return newest_log.empty() ? std::string() : db_path + "/" + newest_log;
}

LogTailDamage FindLogTailDamage(leveldb::Env* env, const std::string& fname) {
  std::string block;
  if (!ReadLastBlock(env, fname, &block)) return {};
  return DamageOfTail(reinterpret_cast<const unsigned char*>(block.data()),
                      block.size());
}

bool LogTailIsComplete(leveldb::Env* env, const std::string& fname) {
  uint64_t size = 0;
  if (!env->GetFileSize(fname, &size).ok()) return false;
  if (size == 0) return true;
  std::string block;
  if (!ReadLastBlock(env, fname, &block)) return false;
  return TailIsComplete(reinterpret_cast<const unsigned char*>(block.data()),
                        block.size());
}

bool DatabaseLogTailsComplete(leveldb::Env* env, const std::string& db_path) {
  // No database (nothing listed): NewestLogFile is empty, and so is CURRENT.
  const std::string newest_log = NewestLogFile(env, db_path);
  if (!newest_log.empty() && !LogTailIsComplete(env, newest_log)) {
    return false;
  }
  // CURRENT names the MANIFEST in use: "MANIFEST-000005\n".
  leveldb::SequentialFile* raw = nullptr;
  if (!env->NewSequentialFile(db_path + "/CURRENT", &raw).ok()) return true;
  std::unique_ptr<leveldb::SequentialFile> current(raw);
  char buf[256];
  leveldb::Slice contents;
  if (!current->Read(sizeof(buf), &contents, buf).ok()) return false;
  std::string manifest(contents.data(), contents.size());
  if (manifest.empty() || manifest.back() != '\n') return false;
  manifest.pop_back();
  return LogTailIsComplete(env, db_path + "/" + manifest);
}

// What LevelDB read of one log or MANIFEST through a LogTailGuardEnv: the
// bytes of the last block it reached (LastBlockStart of what it read).
//
// Of a write-ahead log it also keeps the LevelDB sequence numbers of the
// batches it holds: each logical record is one WriteBatch, whose first 12
// bytes are its sequence (fixed64) and its count of operations (fixed32),
// and each batch's sequence is the previous one's plus its count, from one
// log to the next. Only record headers are read (LevelDB checks the
// checksums itself, and with paranoid_checks a bad one fails the open).
struct LogTailGuardEnv::Watch {
  uint64_t offset = 0;      // bytes read so far, from the start
  uint64_t tail_start = 0;  // offset of tail's first byte, a block boundary
  std::string tail;
  bool eof = false;      // a read returned less than asked: the whole file
  bool skipped = false;  // Skip() was used: not every byte was seen

  // Whole batches read, the first one's sequence and the sequence the
  // batch after the last one would have. in_sequence: each batch's
  // sequence followed on from the one before it, and every batch header
  // was whole (else nothing is concluded from this log).
  uint64_t batches = 0;
  uint64_t first_sequence = 0;
  uint64_t next_sequence = 0;
  bool in_sequence = true;
  std::string batch_header;  // of the batch being read, up to 12 bytes
  bool in_batch = false;

  void Add(const char* p, size_t n) {
    while (n > 0) {
      // A new block starts only once a byte of it arrives, so a file of a
      // whole number of blocks keeps its last full one (LastBlockStart).
      if (offset > tail_start && offset % kBlockSize == 0) {
        tail.clear();
        tail_start = offset;
      }
      const size_t room = static_cast<size_t>(kBlockSize - offset % kBlockSize);
      const size_t take = std::min(n, room);
      tail.append(p, take);
      offset += take;
      p += take;
      n -= take;
      if (tail.size() == kBlockSize) ParseBatches();
    }
  }

  // At the end of the file: its last block, if not a whole one (whole
  // blocks are parsed as they complete).
  void End() {
    if (!tail.empty() && tail.size() < kBlockSize) ParseBatches();
  }

  // Walks the records of the block in `tail` (as LevelDB's reader does,
  // lengths and types only) and notes each batch that ends in it.
  void ParseBatches() {
    const auto* b = reinterpret_cast<const unsigned char*>(tail.data());
    const size_t n = tail.size();
    size_t pos = 0;
    while (n - pos >= kHeaderSize) {
      const size_t length = RecordLength(b, pos);
      const unsigned char type = b[pos + 6];
      // Padding, or a record cut short (TailIsComplete's concern).
      if (type == kZeroType || type > kLastType ||
          pos + kHeaderSize + length > n) {
        return;
      }
      const unsigned char* payload = b + pos + kHeaderSize;
      if (type == kFullType || type == kFirstType) {
        if (in_batch) in_sequence = false;  // a batch without its end
        batch_header.assign(reinterpret_cast<const char*>(payload),
                            std::min<size_t>(length, 12));
        in_batch = true;
      } else if (!in_batch) {
        in_sequence = false;  // the rest of a batch without its start
      } else if (batch_header.size() < 12) {
        batch_header.append(reinterpret_cast<const char*>(payload),
                            std::min(length, 12 - batch_header.size()));
      }
      if (in_batch && (type == kFullType || type == kLastType)) {
        EndBatch();
      }
      pos += kHeaderSize + length;
    }
  }

  void EndBatch() {
    in_batch = false;
    if (batch_header.size() < 12) {
      in_sequence = false;
      return;
    }
    const auto* h = reinterpret_cast<const unsigned char*>(batch_header.data());
    uint64_t sequence = 0;
    for (int i = 7; i >= 0; --i) sequence = (sequence << 8) | h[i];
    uint32_t count = 0;
    for (int i = 11; i >= 8; --i) count = (count << 8) | h[i];
    if (batches == 0) {
      first_sequence = sequence;
    } else if (sequence != next_sequence) {
      in_sequence = false;
    }
    next_sequence = sequence + count;
    ++batches;
  }

  bool SeenWhole() const { return eof && !skipped; }
  bool Complete() const {
    return offset == 0 ||
           TailIsComplete(reinterpret_cast<const unsigned char*>(tail.data()),
                          tail.size());
  }
};

namespace {

// Forwards to LevelDB's file and tells the watch what it read.
class WatchedSequentialFile final : public leveldb::SequentialFile {
 public:
  WatchedSequentialFile(leveldb::SequentialFile* file, std::mutex* mu,
                        std::shared_ptr<LogTailGuardEnv::Watch> watch)
      : file_(file), mu_(mu), watch_(std::move(watch)) {}

  leveldb::Status Read(size_t n, leveldb::Slice* result,
                       char* scratch) override {
    leveldb::Status s = file_->Read(n, result, scratch);
    std::lock_guard<std::mutex> lock(*mu_);
    if (!s.ok()) {
      watch_->skipped = true;  // what follows was not seen
    } else {
      watch_->Add(result->data(), result->size());
      if (result->size() < n && !watch_->eof) {
        watch_->eof = true;
        watch_->End();
      }
    }
    return s;
  }

  leveldb::Status Skip(uint64_t n) override {
    {
      std::lock_guard<std::mutex> lock(*mu_);
      watch_->skipped = true;
    }
    return file_->Skip(n);
  }

 private:
  std::unique_ptr<leveldb::SequentialFile> file_;
  std::mutex* mu_;
  std::shared_ptr<LogTailGuardEnv::Watch> watch_;
};

}  // namespace

LogTailGuardEnv::LogTailGuardEnv(leveldb::Env* target)
    : leveldb::EnvWrapper(target) {}

LogTailGuardEnv::~LogTailGuardEnv() = default;

void LogTailGuardEnv::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  watches_.clear();
  refused_ = 0;
}

int LogTailGuardEnv::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

namespace {

// The write-ahead logs among `watches`, by number (oldest first).
std::map<uint64_t, const LogTailGuardEnv::Watch*> LogWatches(
    const std::map<std::string, std::shared_ptr<LogTailGuardEnv::Watch>>&
        watches) {
  std::map<uint64_t, const LogTailGuardEnv::Watch*> logs;
  for (const auto& [fname, watch] : watches) {
    if (const auto number = LogNumber(BaseName(fname))) {
      logs[*number] = watch.get();
    }
  }
  return logs;
}

}  // namespace

bool LogTailGuardEnv::NewestLogTail(bool* incomplete,
                                    LogTailDamage* damage) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto logs = LogWatches(watches_);
  if (logs.empty()) return false;
  const Watch* newest = logs.rbegin()->second;
  if (!newest->SeenWhole()) return false;
  *incomplete = !newest->Complete();
  *damage = *incomplete ? DamageOfTail(reinterpret_cast<const unsigned char*>(
                                           newest->tail.data()),
                                       newest->tail.size())
                        : LogTailDamage();
  return true;
}

bool LogTailGuardEnv::OlderLogCut() const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto logs = LogWatches(watches_);
  return std::any_of(
      logs.begin(), logs.empty() ? logs.end() : std::prev(logs.end()),
      [](const auto& log) {
        return log.second->SeenWhole() && !log.second->Complete();
      });
}

int LogTailGuardEnv::LogsReadWhole() const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto logs = LogWatches(watches_);
  return static_cast<int>(
      std::count_if(logs.begin(), logs.end(),
                    [](const auto& log) { return log.second->SeenWhole(); }));
}

bool LogTailGuardEnv::LogsInSequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto logs = LogWatches(watches_);
  std::optional<uint64_t> next;
  for (const auto& [number, log] : logs) {
    if (!log->SeenWhole() || !log->in_sequence || log->batches == 0) {
      return false;
    }
    if (next && log->first_sequence != *next) return false;
    next = log->next_sequence;
  }
  return true;
}

leveldb::Status LogTailGuardEnv::NewSequentialFile(
    const std::string& fname, leveldb::SequentialFile** result) {
  leveldb::Status s = target()->NewSequentialFile(fname, result);
  if (!s.ok() || !Watched(fname)) return s;
  auto watch = std::make_shared<Watch>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    watches_[fname] = watch;  // a second read starts over
  }
  *result = new WatchedSequentialFile(*result, &mu_, std::move(watch));
  return s;
}

leveldb::Status LogTailGuardEnv::NewAppendableFile(
    const std::string& fname, leveldb::WritableFile** result) {
  if (Watched(fname)) {
    std::optional<bool> complete;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = watches_.find(fname);
      uint64_t size = 0;
      if (it != watches_.end() && it->second->SeenWhole() &&
          target()->GetFileSize(fname, &size).ok() &&
          size == it->second->offset) {
        complete = it->second->Complete();
      }
    }
    // Not seen read whole (nor to its current end): look on disk.
    if (!complete.has_value()) complete = LogTailIsComplete(target(), fname);
    if (!*complete) {
      std::lock_guard<std::mutex> lock(mu_);
      ++refused_;
      *result = nullptr;
      return leveldb::Status::IOError(
          fname, "ends inside a record: not reused (spool/log_tail.h)");
    }
  }
  return target()->NewAppendableFile(fname, result);
}

}  // namespace zenml::spool
