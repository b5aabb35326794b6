// ConsentWatcher: DecideConsent for a caller that asks before every request
// (zenml-upload re-checks consent before each of its thousands of requests),
// without parsing config.yaml every time.
//
// The decision is cached and taken again when config.yaml may have changed:
// its inode, size or modification time differ from the last decision's, or
// kMaxAge has passed (a rewrite in place to the same size within one tick of
// the file system's clock keeps all three). Opting out through `zenml
// analytics opt-out` or `zenml-analytics opt-out` replaces the file (a new
// inode), so it is seen at the next call. The environment is read with the
// file: a process's own environment does not change under it.
//
// Thread-compatible: one caller at a time.

#ifndef ZENML_CORE_CONSENT_WATCHER_H_
#define ZENML_CORE_CONSENT_WATCHER_H_

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "core/clock.h"
#include "core/environment.h"

namespace zenml::core {

class ConsentWatcher {
 public:
  static constexpr std::chrono::seconds kMaxAge{1};

  // `env` and `clock` must outlive the watcher.
  ConsentWatcher(std::filesystem::path config_dir, const Environment& env,
                 const Clock& clock = RealClock());

  // DecideConsent(config_dir, env).allowed, as of now (see above).
  bool Allowed();

 private:
  // What identifies one version of config.yaml; all zero when it is absent.
  struct FileId {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  FileId Identify() const;

  std::filesystem::path config_dir_;
  const Environment& env_;
  const Clock& clock_;
  std::optional<FileId> decided_for_;  // the file the cached answer read
  MonoTime decided_at_;
  bool allowed_ = true;
};

}  // namespace zenml::core

#endif  // ZENML_CORE_CONSENT_WATCHER_H_
