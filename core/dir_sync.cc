#include "core/dir_sync.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/errno_status.h"

namespace zenml::core {

Status SyncDirectory(const std::filesystem::path& dir) {
  const char* name = dir.empty() ? "." : dir.c_str();
  const int fd = ::open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const char* what = "open";
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else {
    if (::fsync(fd) != 0) {
      err = errno;
      what = "fsync";
    }
    ::close(fd);
  }
  if (err == 0) return Status::OK();
  return ErrnoStatus(err, std::string(what) + " directory", name);
}

}  // namespace zenml::core
