#include "uploader/upload_lock.h"

#include <sys/stat.h>
#include <unistd.h>

#include <system_error>

namespace zenml::uploader {
core::Result<std::optional<UploadLock>> UploadLock::TryAcquire(
    const std::filesystem::path& analytics_dir) {
  std::error_code ec;
  if (!std::filesystem::exists(analytics_dir, ec)) {
    std::filesystem::create_directories(analytics_dir, ec);
    if (ec) {
      return core::Status::IoError("cannot create " + analytics_dir.string() +
                                   ": " + ec.message());
    }
    ::chmod(analytics_dir.c_str(), 0700);
  }
  ZENML_TRY_ASSIGN(std::optional<core::FileLock> lock,
                   core::FileLock::TryLock(analytics_dir / "upload.lock"));
  if (!lock) return std::optional<UploadLock>();
  return std::optional<UploadLock>(UploadLock(std::move(*lock)));
}

}  // namespace zenml::uploader
