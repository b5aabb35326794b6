// WriteFileAtomically: replace a small file so that, after a crash or power
// cut at any point, the path holds either the old content or the new, whole.
//
// How: a temporary sibling (".<name>.tmp-<pid>-<random>", created with
// O_EXCL and `mode`, so concurrent writers never share one) is written in
// full and fsynced, renamed over `path`, then the directory is fsynced
// (core/dir_sync.h) so the rename itself is durable. Only after all of that
// does it return OK. The one copy of the tree (config.yaml, the purge
// request, bundle progress markers).
//
// Thread-safe (no shared state; the last rename wins). On failure the
// temporary file is removed, `path` is untouched (unless the failure is the
// final directory fsync: the new content is then in place but maybe not
// durable) and the Status is IoError, or PermissionDenied for EACCES/EPERM,
// naming the step and the path. The parent directory must exist.

#ifndef ZENML_CORE_ATOMIC_FILE_H_
#define ZENML_CORE_ATOMIC_FILE_H_

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "core/status.h"

namespace zenml::core {

Status WriteFileAtomically(const std::filesystem::path& path,
                           std::string_view data, mode_t mode = 0600);

}  // namespace zenml::core

#endif  // ZENML_CORE_ATOMIC_FILE_H_
