#include "core/errno_status.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace zenml::core {

Status ErrnoStatus(int err, std::string_view what,
                   const std::filesystem::path& path) {
  std::string msg =
      fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err));
  if (err == EACCES || err == EPERM) {
    return Status::PermissionDenied(std::move(msg));
  }
  return Status::IoError(std::move(msg));
}

}  // namespace zenml::core
