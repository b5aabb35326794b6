// The spool's directories: created 0700 (with missing parents), refused if
// a symlink or owned by another user, and made durable in their parents when
// created. Internal to zenml::spool.
//
// Every creation and every directory fsync goes through the spool's
// leveldb::Env (the seam tests use to simulate power cuts): directories are
// created with Env::CreateDir, and since leveldb::Env (1.23) has no call to
// fsync a directory, an Env that models directory durability itself
// registers a DirSyncer, which then hears of each directory fsync on that
// Env. On the default Env both are the plain system calls (mkdir(2) with
// mode 0700, fsync(2)).
//
// Thread-safe (system calls; the DirSyncer registry has its own mutex).
// Failures are Statuses: IoError, PermissionDenied (a symlink, another
// owner), FailedPrecondition (not a directory), NotFound (absent and not to
// be created). A directory fsync that fails is an IoError: the names it
// should have made durable may not survive a power cut, so nothing that
// depends on them may be acknowledged.

#ifndef ZENML_SPOOL_DIRS_H_
#define ZENML_SPOOL_DIRS_H_

#include <filesystem>
#include <string>

#include "core/status.h"

namespace leveldb {
class Env;
class Status;
}  // namespace leveldb

namespace zenml::spool {

using core::Status;

// Hears of the spool's directory fsyncs on one Env.
class DirSyncer {
 public:
  virtual ~DirSyncer() = default;
  // The spool fsyncs `dir`: the names in it become durable. A failure
  // fails the fsync (and whatever the spool was about to acknowledge).
  virtual leveldb::Status SyncDir(const std::string& dir) = 0;
};

// Registers `syncer` for `env` (nullptr: unregisters). Not owned; must
// outlive the registration.
void SetDirSyncer(leveldb::Env* env, DirSyncer* syncer);

// fsync a directory so a create or a rename in it is durable, after env's
// DirSyncer, if any, agreed. A missing directory (an in-memory env) is not
// an error.
Status SyncDir(leveldb::Env* env, const std::filesystem::path& dir);

// fsync the parent of `path` (a directory just created).
Status SyncParent(leveldb::Env* env, const std::filesystem::path& path);

// Creates missing parents (0700) of the analytics directory without judging
// their owner: they are the user's config directories, not ours.
Status PrepareParent(leveldb::Env* env, const std::filesystem::path& path);

// Makes sure `path` is a directory of ours with mode 0700. With `create`,
// creates it (and missing parents) first. Returns NotFound if it does not
// exist and !create.
Status PrepareDir(leveldb::Env* env, const std::filesystem::path& path,
                  bool create);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_DIRS_H_
