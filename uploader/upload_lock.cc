#include "uploader/upload_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace zenml::uploader {
namespace {

core::Status Errno(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM) {
    return core::Status::PermissionDenied(std::move(msg));
  }
  return core::Status::IoError(std::move(msg));
}

}  // namespace

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
  std::filesystem::path path = analytics_dir / "upload.lock";
  int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("cannot open " + path.string(), errno);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EINTR) continue;
    ::close(fd);
    if (err == EWOULDBLOCK) return std::optional<UploadLock>();
    return Errno("cannot lock " + path.string(), err);
  }
  return std::optional<UploadLock>(UploadLock(fd));
}

UploadLock::UploadLock(UploadLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

UploadLock& UploadLock::operator=(UploadLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UploadLock::~UploadLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor drops the flock
}

}  // namespace zenml::uploader
