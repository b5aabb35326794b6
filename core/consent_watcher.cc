#include "core/consent_watcher.h"

#include <utility>

#include "core/config_dir.h"
#include "core/consent.h"

namespace zenml::core {

ConsentWatcher::ConsentWatcher(std::filesystem::path config_dir,
                               const Environment& env, const Clock& clock)
    : config_dir_(std::move(config_dir)), env_(env), clock_(clock) {}

ConsentWatcher::FileId ConsentWatcher::Identify() const {
  struct stat st {};
  if (::stat(ConfigFilePath(config_dir_).c_str(), &st) != 0) return {};
  FileId id;
  id.device = st.st_dev;
  id.inode = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                st.st_mtim.tv_nsec;
  return id;
}

bool ConsentWatcher::Allowed() {
  const FileId now = Identify();
  const MonoTime t = clock_.Monotonic();
  if (decided_for_ && *decided_for_ == now && t - decided_at_ < kMaxAge) {
    return allowed_;
  }
  allowed_ = DecideConsent(config_dir_, env_).allowed;
  decided_for_ = now;
  decided_at_ = t;
  return allowed_;
}

}  // namespace zenml::core
