#include "spool/dirs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leveldb/env.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <system_error>

#include "core/dir_sync.h"
#include "core/result.h"

namespace zenml::spool {

namespace fs = std::filesystem;

namespace {

std::mutex& SyncersMu() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::map<leveldb::Env*, DirSyncer*>& Syncers() {
  static auto* syncers = new std::map<leveldb::Env*, DirSyncer*>();
  return *syncers;
}

// mkdir through the Env. The default Env's CreateDir uses mode 0755: the
// spool's directories are made 0700 from the start instead. Another Env
// (a test's) sees the creation, and the directory is also made on disk
// where that Env keeps nothing (an in-memory Env): the ownership checks
// below look at the disk.
int MakeDir(leveldb::Env* env, const fs::path& path) {
  if (env != leveldb::Env::Default()) {
    leveldb::Status s = env->CreateDir(path.string());
    if (!s.ok() && !s.IsNotFound()) {
      struct stat st {};
      // PosixEnv reports EEXIST as an IOError: an existing path is fine.
      if (::lstat(path.c_str(), &st) == 0) {
        errno = EEXIST;
        return -1;
      }
      errno = EIO;
      return -1;
    }
    // Created through the Env; on disk too unless it lives in memory.
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return -1;
    return 0;
  }
  return ::mkdir(path.c_str(), 0700);
}

}  // namespace

void SetDirSyncer(leveldb::Env* env, DirSyncer* syncer) {
  std::lock_guard<std::mutex> lock(SyncersMu());
  if (syncer == nullptr) {
    Syncers().erase(env);
  } else {
    Syncers()[env] = syncer;
  }
}

// fsync a directory so a create or a rename in it is durable. Only
// meaningful on disk; a missing directory (an in-memory env) is not an error.
Status SyncDir(leveldb::Env* env, const fs::path& dir) {
  if (env != leveldb::Env::Default()) {
    DirSyncer* syncer = nullptr;
    {
      std::lock_guard<std::mutex> lock(SyncersMu());
      auto it = Syncers().find(env);
      if (it != Syncers().end()) syncer = it->second;
    }
    if (syncer != nullptr) {
      leveldb::Status s = syncer->SyncDir(dir.string());
      if (!s.ok()) {
        return Status::IoError(fmt::format("spool: cannot fsync {}: {}",
                                           dir.string(), s.ToString()));
      }
    }
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::OK();  // in-memory env
  return core::SyncDirectory(dir);
}

// Makes the name of a directory just created durable: fsync its parent. A
// power cut before that can lose the new directory and everything in it,
// however well the files inside were synced (issue 9: 640 acknowledged
// events lost in 150 simulated power cuts after a spool's creation). Paid
// once, on creation.
Status SyncParent(leveldb::Env* env, const fs::path& path) {
  const fs::path parent = path.parent_path();
  return SyncDir(env, parent.empty() ? fs::path(".") : parent);
}

// Creates missing parents (0700) of the analytics directory without judging
// their owner: they are the user's config directories, not ours.
Status PrepareParent(leveldb::Env* env, const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) return Status::OK();
  if (path.has_parent_path() && path.parent_path() != path) {
    ZENML_TRY(PrepareParent(env, path.parent_path()));
  }
  if (MakeDir(env, path) != 0) {
    if (errno == EEXIST) return Status::OK();
    return Status::IoError(fmt::format("spool: cannot create {}: {}",
                                       path.string(),
                                       std::generic_category().message(errno)));
  }
  return SyncParent(env, path);
}

// Makes sure `path` is a directory of ours with mode 0700. With `create`,
// creates it (and missing parents) first. Returns NotFound if it does not
// exist and !create.
Status PrepareDir(leveldb::Env* env, const fs::path& path, bool create) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return Status::IoError(
          fmt::format("spool: cannot inspect {}: {}", path.string(),
                      std::generic_category().message(errno)));
    }
    if (!create) return Status::NotFound(path.string());
    if (path.has_parent_path() && path.parent_path() != path) {
      ZENML_TRY(PrepareParent(env, path.parent_path()));
    }
    if (MakeDir(env, path) != 0) {
      if (errno != EEXIST) {
        return Status::IoError(
            fmt::format("spool: cannot create {}: {}", path.string(),
                        std::generic_category().message(errno)));
      }
    } else {
      ZENML_TRY(SyncParent(env, path));
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
