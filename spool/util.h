// Small conversions shared by the spool's pieces: times to and from
// milliseconds, leveldb::Slice to and from string_view, leveldb::Status to
// our Status. Internal to zenml::spool. Pure functions; thread-safe.

#ifndef ZENML_SPOOL_UTIL_H_
#define ZENML_SPOOL_UTIL_H_

#include <leveldb/slice.h>
#include <leveldb/status.h>

#include <cstdint>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace zenml::spool {

using core::Status;

int64_t ToMs(core::WallTime t);
core::WallTime FromMs(int64_t ms);
std::string_view ToView(const leveldb::Slice& s);
leveldb::Slice ToSlice(std::string_view s);

// A leveldb::Status as ours, with what we were doing ("spool: <what>: ...").
// Corruption, NotFound and InvalidArgument keep their kind; the rest are
// IoError.
Status FromLevelDb(const leveldb::Status& s, std::string_view what);

// DB::Open's error when another process (or, fatally, another handle in this
// one) holds the LOCK file: "IO error: lock <path>/LOCK: ...".
bool IsLockError(const leveldb::Status& s);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_UTIL_H_
