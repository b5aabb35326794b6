#include "core/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/dir_sync.h"
#include "core/errno_status.h"
#include "core/uuid.h"

namespace zenml::core {
namespace {

Status WriteAll(int fd, std::string_view data,
                const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

}  // namespace

Status WriteFileAtomically(const std::filesystem::path& path,
                           std::string_view data, mode_t mode) {
  const std::filesystem::path dir = path.parent_path();
  const std::filesystem::path tmp =
      dir / fmt::format(".{}.tmp-{}-{}", path.filename().string(), ::getpid(),
                        NewUuid4().substr(0, 8));
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, "create", tmp);
  Status s = WriteAll(fd, data, tmp);
  // The umask may have narrowed `mode` at creation; widen it back exactly.
  if (s.ok() && ::fchmod(fd, mode) != 0) s = ErrnoStatus(errno, "chmod", tmp);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus(errno, "fsync", tmp);
  if (::close(fd) != 0 && s.ok()) s = ErrnoStatus(errno, "close", tmp);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = ErrnoStatus(errno, "rename into place", path);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDirectory(dir);
}

}  // namespace zenml::core
