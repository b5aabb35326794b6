// The spool's directories: created 0700 (with missing parents), refused if
// a symlink or owned by another user, and made durable in their parents when
// created. Internal to zenml::spool.
//
// Thread-safe (system calls only). Failures are Statuses: IoError,
// PermissionDenied (a symlink, another owner), FailedPrecondition (not a
// directory), NotFound (absent and not to be created).

#ifndef ZENML_SPOOL_DIRS_H_
#define ZENML_SPOOL_DIRS_H_

#include <filesystem>

#include "core/status.h"

namespace zenml::spool {

using core::Status;

// fsync a directory so a rename or a create in it is durable. A missing
// directory (an in-memory env) is not an error.
void SyncDir(const std::filesystem::path& dir);

// fsync the parent of `path` (a directory just created).
void SyncParent(const std::filesystem::path& path);

// Creates missing parents (0700) of the analytics directory without judging
// their owner: they are the user's config directories, not ours.
Status PrepareParent(const std::filesystem::path& path);

// Makes sure `path` is a directory of ours with mode 0700. With `create`,
// creates it (and missing parents) first. Returns NotFound if it does not
// exist and !create.
Status PrepareDir(const std::filesystem::path& path, bool create);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_DIRS_H_
