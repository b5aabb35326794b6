#include "spool/util.h"

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <utility>

namespace zenml::spool {

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

Status FromLevelDb(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  std::string msg = fmt::format("spool: {}: {}", what, s.ToString());
  if (s.IsCorruption()) return Status::Corruption(std::move(msg));
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  return Status::IoError(std::move(msg));
}

bool IsLockError(const leveldb::Status& s) {
  return s.IsIOError() && s.ToString().find("lock ") != std::string::npos;
}

}  // namespace zenml::spool
