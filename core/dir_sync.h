// SyncDirectory (and SyncFile, the same for a file): fsync(2) a directory, so
// that the names created, renamed or removed in it survive a power cut (a
// file's own fsync does not make its name durable). The one copy of the tree.
//
// Thread-safe (no state). Fails with IoError, or PermissionDenied for
// EACCES/EPERM, when the directory cannot be opened or synced; callers for
// which the sync is best effort ignore the Status and say why.

#ifndef ZENML_CORE_DIR_SYNC_H_
#define ZENML_CORE_DIR_SYNC_H_

#include <filesystem>

#include "core/status.h"

namespace zenml::core {

// An empty `dir` means the current directory.
Status SyncDirectory(const std::filesystem::path& dir);

// fsync(2) a regular file by path: its data, for a file another library
// wrote and closed without syncing. Same errors as SyncDirectory.
Status SyncFile(const std::filesystem::path& file);

}  // namespace zenml::core

#endif  // ZENML_CORE_DIR_SYNC_H_
