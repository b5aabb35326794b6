// ErrnoStatus: the Status of a failed system call on a path, worded and
// classified one way across the tree: "cannot <what> <path>: <strerror>",
// PermissionDenied for EACCES/EPERM (exit 77), IoError for the rest
// (exit 74). Used by the kit (atomic_file, dir_sync, file_lock) and
// config.yaml's reader and writer.
//
// Pure function; thread-safe (strerror's message for errno values is
// constant on glibc).

#ifndef ZENML_CORE_ERRNO_STATUS_H_
#define ZENML_CORE_ERRNO_STATUS_H_

#include <filesystem>
#include <string_view>

#include "core/status.h"

namespace zenml::core {

Status ErrnoStatus(int err, std::string_view what,
                   const std::filesystem::path& path);

}  // namespace zenml::core

#endif  // ZENML_CORE_ERRNO_STATUS_H_
