#include "core/dir_sync.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/errno_status.h"

namespace zenml::core {

namespace {

// Opens `name` read-only with `flags` added, fsyncs it, closes it.
Status SyncOpened(const char* name, int flags, const char* kind) {
  const int fd = ::open(name, O_RDONLY | O_CLOEXEC | flags);
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
  return ErrnoStatus(err, std::string(what) + kind, name);
}

}  // namespace

Status SyncDirectory(const std::filesystem::path& dir) {
  return SyncOpened(dir.empty() ? "." : dir.c_str(), O_DIRECTORY, " directory");
}

Status SyncFile(const std::filesystem::path& file) {
  return SyncOpened(file.c_str(), 0, "");
}

}  // namespace zenml::core
