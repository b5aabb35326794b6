// The spool's leveldb::Env pieces: an Env wrapper that keeps every file
// private (0600) and reads tables with pread(2) instead of mmap, and an info
// logger that appends to LOG across opens. Internal to zenml::spool.
//
// Thread-safe as LevelDB requires of an Env and a Logger. Failures are
// LevelDB Statuses returned to LevelDB; a chmod that fails is ignored (the
// 0700 directory already keeps the file private).

#ifndef ZENML_SPOOL_ENV_H_
#define ZENML_SPOOL_ENV_H_

#include <leveldb/env.h>

#include <cstdint>
#include <memory>

namespace zenml::spool {

// LOG is rotated to LOG.old once it has grown past this.
inline constexpr uint64_t kMaxInfoLogBytes = 256 << 10;

// Wraps `target` (not owned). `pread_tables`: serve NewRandomAccessFile with
// pread(2); only for the default POSIX env (an in-memory or fault-injecting
// env must see every read itself).
std::unique_ptr<leveldb::Env> NewPrivateFilesEnv(leveldb::Env* target,
                                                 bool pread_tables);

// An info logger appending timestamped lines to `file` (owned).
std::unique_ptr<leveldb::Logger> NewAppendingLogger(
    leveldb::WritableFile* file);

// One printf-style line to `logger` (nullptr: nothing). leveldb::Log is not
// exported by every build of the library; Logger::Logv is the interface.
void LogLine(leveldb::Logger* logger, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_ENV_H_
