#include "spool/dirs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "core/dir_sync.h"
#include "core/result.h"

namespace zenml::spool {

namespace fs = std::filesystem;

// fsync a directory so a rename in it is durable. Only meaningful on disk; a
// missing directory (an in-memory env) is not an error.
void SyncDir(const fs::path& dir) { (void)core::SyncDirectory(dir); }

// Makes the name of a directory just created durable: fsync its parent. A
// power cut before that can lose the new directory and everything in it,
// however well the files inside were synced (issue 9: 640 acknowledged
// events lost in 150 simulated power cuts after a spool's creation). Paid
// once, on creation.
void SyncParent(const fs::path& path) {
  const fs::path parent = path.parent_path();
  SyncDir(parent.empty() ? fs::path(".") : parent);
}

// Creates missing parents (0700) of the analytics directory without judging
// their owner: they are the user's config directories, not ours.
Status PrepareParent(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) return Status::OK();
  if (path.has_parent_path() && path.parent_path() != path) {
    ZENML_TRY(PrepareParent(path.parent_path()));
  }
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST) return Status::OK();
    return Status::IoError(fmt::format("spool: cannot create {}: {}",
                                       path.string(),
                                       std::generic_category().message(errno)));
  }
  SyncParent(path);
  return Status::OK();
}

// Makes sure `path` is a directory of ours with mode 0700. With `create`,
// creates it (and missing parents) first. Returns NotFound if it does not
// exist and !create.
Status PrepareDir(const fs::path& path, bool create) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return Status::IoError(
          fmt::format("spool: cannot inspect {}: {}", path.string(),
                      std::generic_category().message(errno)));
    }
    if (!create) return Status::NotFound(path.string());
    if (path.has_parent_path() && path.parent_path() != path) {
      ZENML_TRY(PrepareParent(path.parent_path()));
    }
    if (::mkdir(path.c_str(), 0700) != 0) {
      if (errno != EEXIST) {
        return Status::IoError(
            fmt::format("spool: cannot create {}: {}", path.string(),
                        std::generic_category().message(errno)));
      }
    } else {
      SyncParent(path);
    }
    if (::lstat(path.c_str(), &st) != 0) {
      return Status::IoError(
          fmt::format("spool: cannot inspect {}: {}", path.string(),
                      std::generic_category().message(errno)));
    }
  }
  if (S_ISLNK(st.st_mode)) {
    return Status::PermissionDenied(fmt::format(
        "spool: refusing {}: it is a symbolic link (the spool must be a real "
        "directory owned by you)",
        path.string()));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::FailedPrecondition(
        fmt::format("spool: {} exists and is not a directory", path.string()));
  }
  if (st.st_uid != ::geteuid()) {
    return Status::PermissionDenied(fmt::format(
        "spool: refusing {}: it is owned by uid {}, not by the current user "
        "(uid {})",
        path.string(), st.st_uid, ::geteuid()));
  }
  if ((st.st_mode & 07777) != 0700 && ::chmod(path.c_str(), 0700) != 0) {
    return Status::IoError(fmt::format("spool: cannot chmod 0700 {}: {}",
                                       path.string(),
                                       std::generic_category().message(errno)));
  }
  return Status::OK();
}

}  // namespace zenml::spool
