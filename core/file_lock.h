// FileLock: an exclusive flock(2) on a file or directory, held while the
// object lives. The one copy of the tree (the uploader's upload.lock, the
// config directory's read-modify-write lock, the auto-upload marker).
//
// flock belongs to the open file description: the kernel drops it when the
// holder closes it or dies, however it dies, so there is no stale lock to
// clean up. The descriptor is close-on-exec, so an exec'd child cannot keep
// a lock alive, and releasing unlocks before closing, so neither can a
// child forked while it was held (it shares the description). Two FileLocks on
// the same path in one process exclude each other too (each has its own open
// file description).
//
// Move-only; thread-compatible. Errors: IoError, or PermissionDenied for
// EACCES/EPERM, naming the path; "held by someone else" is not an error
// (TryLock returns nullopt).

#ifndef ZENML_CORE_FILE_LOCK_H_
#define ZENML_CORE_FILE_LOCK_H_

#include <filesystem>
#include <optional>

#include "core/result.h"

namespace zenml::core {

class FileLock {
 public:
  // Opens `path` (a directory as it is, also through a symlink; otherwise
  // a regular file, created 0600 if missing, never through a symlink) and
  // locks it without waiting.
  // nullopt when another open file description holds the lock.
  static Result<std::optional<FileLock>> TryLock(
      const std::filesystem::path& path);
  // The same, waiting as long as it takes for the lock.
  static Result<FileLock> Lock(const std::filesystem::path& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  // Releases the lock (closes the descriptor).
  ~FileLock();

  // The locked descriptor (read-write for a file), e.g. to read or write
  // the lock file's own content.
  int fd() const { return fd_; }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  void Release();
  // The locked descriptor, or -1 when held elsewhere and not `wait`.
  static Result<int> Acquire(const std::filesystem::path& path, bool wait);
  int fd_ = -1;
};

}  // namespace zenml::core

#endif  // ZENML_CORE_FILE_LOCK_H_
