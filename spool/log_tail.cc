#include "spool/log_tail.h"

#include <leveldb/env.h>
#include <leveldb/slice.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
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

// Whether a record with a matching checksum starts at `pos` of `p[0, n)`.
bool ValidRecordAt(const unsigned char* p, size_t n, size_t pos) {
  if (n - pos < kHeaderSize) return false;
  const size_t length = p[pos + 4] | (static_cast<size_t>(p[pos + 5]) << 8);
  const unsigned char type = p[pos + 6];
  if (type == kZeroType || type > kLastType) return false;
  if (pos + kHeaderSize + length > n) return false;
  const uint32_t stored = static_cast<uint32_t>(p[pos]) |
                          (static_cast<uint32_t>(p[pos + 1]) << 8) |
                          (static_cast<uint32_t>(p[pos + 2]) << 16) |
                          (static_cast<uint32_t>(p[pos + 3]) << 24);
  return MaskedCrc(p + pos + 6, 1 + length) == stored;
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
  LogTailDamage out;
  uint64_t size = 0;
  if (!env->GetFileSize(fname, &size).ok() || size == 0) return out;
  uint64_t start = (size / kBlockSize) * kBlockSize;
  if (start == size) start -= kBlockSize;
  const size_t n = static_cast<size_t>(size - start);
  leveldb::RandomAccessFile* raw = nullptr;
  if (!env->NewRandomAccessFile(fname, &raw).ok()) return out;
  std::unique_ptr<leveldb::RandomAccessFile> file(raw);
  std::vector<char> scratch(n);
  leveldb::Slice block;
  if (!file->Read(start, n, &block, scratch.data()).ok() || block.size() != n) {
    return out;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(block.data());
  // Walk the records as LevelDB's reader does (lengths and types only).
  size_t pos = 0;
  while (pos < n) {
    if (n - pos < kHeaderSize) return out;  // padding or a torn header
    const size_t length = p[pos + 4] | (static_cast<size_t>(p[pos + 5]) << 8);
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

bool LogTailIsComplete(leveldb::Env* env, const std::string& fname) {
  uint64_t size = 0;
  if (!env->GetFileSize(fname, &size).ok()) return false;
  if (size == 0) return true;
  uint64_t start = (size / kBlockSize) * kBlockSize;
  if (start == size) start -= kBlockSize;
  const size_t n = static_cast<size_t>(size - start);

  leveldb::RandomAccessFile* raw = nullptr;
  if (!env->NewRandomAccessFile(fname, &raw).ok()) return false;
  std::unique_ptr<leveldb::RandomAccessFile> file(raw);
  std::vector<char> scratch(n);
  leveldb::Slice block;
  if (!file->Read(start, n, &block, scratch.data()).ok() || block.size() != n) {
    return false;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(block.data());

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
    const size_t length = p[pos + 4] | (static_cast<size_t>(p[pos + 5]) << 8);
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

bool DatabaseLogTailsComplete(leveldb::Env* env, const std::string& db_path) {
  std::vector<std::string> children;
  if (!env->GetChildren(db_path, &children).ok()) return true;  // no database
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
  if (!newest_log.empty() &&
      !LogTailIsComplete(env, db_path + "/" + newest_log)) {
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

}  // namespace zenml::spool
