#include "core/file_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/errno_status.h"

namespace zenml::core {

Result<int> FileLock::Acquire(const std::filesystem::path& path, bool wait) {
  // A directory first, through a symlink too: a config dir is often one
  // (dotfile managers, ZENML_CONFIG_PATH). Not a directory: the lock file,
  // never through a symlink.
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && (errno == ENOTDIR || errno == ENOENT)) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  }
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  while (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    ::close(fd);
    if (err == EWOULDBLOCK && !wait) return -1;
    return ErrnoStatus(err, "lock", path);
  }
  return fd;
}

Result<std::optional<FileLock>> FileLock::TryLock(
    const std::filesystem::path& path) {
  ZENML_TRY_ASSIGN(const int fd, Acquire(path, /*wait=*/false));
  if (fd < 0) return std::optional<FileLock>();
  return std::optional<FileLock>(FileLock(fd));
}

Result<FileLock> FileLock::Lock(const std::filesystem::path& path) {
  ZENML_TRY_ASSIGN(const int fd, Acquire(path, /*wait=*/true));
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() { Release(); }

void FileLock::Release() {
  if (fd_ < 0) return;
  // Unlock before closing: a child forked meanwhile shares the open file
  // description, and closing only our descriptor would leave it locked
  // for as long as that child lives.
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace zenml::core
