// UploadLock: the "only one uploader at a time" lock, an flock(2) on
// `<analytics dir>/upload.lock` held for a whole run (DESIGN.md), a
// core::FileLock (core/file_lock.h).
//
// flock is released by the kernel when the holder dies, however it dies, so
// a crashed uploader never blocks the next one and there is no stale-lock
// cleanup. The descriptor is close-on-exec so a child the uploader might
// start cannot keep the lock alive. Move-only; thread-compatible.

#ifndef ZENML_UPLOADER_UPLOAD_LOCK_H_
#define ZENML_UPLOADER_UPLOAD_LOCK_H_

#include <filesystem>
#include <optional>

#include "core/file_lock.h"
#include "core/result.h"

namespace zenml::uploader {

class UploadLock {
 public:
  // Tries once, without waiting, to lock `analytics_dir/upload.lock`,
  // creating the directory (0700) and file (0600) if needed. Returns the
  // held lock, or nullopt when another process holds it. Fails with
  // IoError (or PermissionDenied) when the file cannot be created or opened.
  static core::Result<std::optional<UploadLock>> TryAcquire(
      const std::filesystem::path& analytics_dir);

  // Move-only; destroying it releases the lock.

 private:
  explicit UploadLock(core::FileLock lock) : lock_(std::move(lock)) {}
  core::FileLock lock_;
};

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_UPLOAD_LOCK_H_
