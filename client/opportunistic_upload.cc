#include "client/opportunistic_upload.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "core/config_dir.h"
#include "core/duration.h"
#include "core/file_lock.h"
#include "spool/spool.h"
#include "uploader/upload_config.h"

extern char** environ;

namespace zenml::client {
namespace {

namespace fs = std::filesystem;
using core::Result;
using core::Status;

constexpr std::string_view kMarkerName = "auto_upload.last";
constexpr std::string_view kUploaderName = "zenml-upload";

// Only an explicit "no" turns it off; an unrecognised value keeps the default.
bool EnvEnabled(const core::Environment& env) {
  auto v = env.Get("ZENML_ANALYTICS_AUTO_UPLOAD");
  return !v || core::ParseBoolSetting(*v).value_or(true);
}

// `analytics_auto_upload` in config.yaml; a missing or unreadable file or
// key is no opinion (enabled), like consent's treatment of a broken file.
bool ConfigEnabled(const fs::path& config_dir) {
  try {
    fs::path file = core::ConfigFilePath(config_dir);
    if (!fs::exists(file)) return true;
    YAML::Node root = YAML::LoadFile(file.string());
    if (!root.IsMap()) return true;
    YAML::Node node = root["analytics_auto_upload"];
    if (!node || !node.IsScalar()) return true;
    return node.as<bool>(true);
  } catch (...) {
    return true;
  }
}

bool Executable(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::access(p.c_str(), X_OK) == 0;
}

std::optional<fs::path> FindUploader(const AutoUploadOptions& options) {
  if (!options.uploader.empty()) {
    return Executable(options.uploader) ? std::optional(options.uploader)
                                        : std::nullopt;
  }
  if (auto v = options.environment->Get("ZENML_ANALYTICS_UPLOADER");
      v && !v->empty()) {
    return Executable(*v) ? std::optional<fs::path>(*v) : std::nullopt;
  }
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path next = self.parent_path() / kUploaderName;
    if (Executable(next)) return next;
  }
  if (auto path = options.environment->Get("PATH")) {
    std::string_view rest = *path;
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      std::string_view dir = rest.substr(0, colon);
      rest = colon == std::string_view::npos ? std::string_view()
                                             : rest.substr(colon + 1);
      if (dir.empty()) continue;
      fs::path candidate = fs::path(dir) / kUploaderName;
      if (Executable(candidate)) return candidate;
    }
  }
  return std::nullopt;
}

std::optional<core::WallTime> ReadMarker(int fd) {
  char buf[32];
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return std::nullopt;
  int64_t ms = 0;
  auto [ptr, ec] = std::from_chars(buf, buf + n, ms);
  if (ec != std::errc()) return std::nullopt;
  return core::WallTime(std::chrono::milliseconds(ms));
}

void WriteMarker(int fd, core::WallTime t) {
  std::string text =
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                         t.time_since_epoch())
                         .count());
  if (::ftruncate(fd, 0) == 0) {
    (void)!::pwrite(fd, text.data(), text.size(), 0);
  }
}

// Starts `path --quiet` detached (see the header). Returns the uploader's pid.
Result<pid_t> SpawnDetached(const fs::path& path, const fs::path& config_dir) {
  // Everything the children need is prepared before fork: between fork and
  // exec only async-signal-safe calls are allowed (the host may have threads).
  std::string program = path.string();
  std::string quiet = "--quiet";
  std::vector<char*> argv = {program.data(), quiet.data(), nullptr};
  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv = *e;
    if (kv.starts_with("ZENML_CONFIG_PATH=")) continue;
    env_storage.emplace_back(kv);
  }
  env_storage.push_back("ZENML_CONFIG_PATH=" + config_dir.string());
  std::vector<char*> envp;
  for (auto& kv : env_storage) envp.push_back(kv.data());
  envp.push_back(nullptr);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return Status::IoError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  pid_t mid = ::fork();
  if (mid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return Status::IoError(fmt::format("fork: {}", std::strerror(err)));
  }
  if (mid == 0) {
    // Intermediate: new session, fork the uploader, report its pid, exit.
    ::setsid();
    pid_t uploader = ::fork();
    if (uploader == 0) {
      int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        ::dup2(null_fd, 0);
        ::dup2(null_fd, 1);
        ::dup2(null_fd, 2);
      }
      ::close_range(3, ~0u, 0);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    (void)!::write(report[1], &uploader, sizeof(uploader));
    ::_exit(uploader > 0 ? 0 : 1);
  }
  ::close(report[1]);
  pid_t uploader = -1;
  ssize_t n;
  do {
    n = ::read(report[0], &uploader, sizeof(uploader));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  int status = 0;
  while (::waitpid(mid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof(uploader) || uploader <= 0) {
    return Status::IoError("fork of the uploader failed");
  }
  return uploader;
}

// Whether `a` and `b` name the same directory: by identity when both exist,
// else by their normalized absolute paths.
bool SameDirectory(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  const bool same = fs::equivalent(a, b, ec);
  if (!ec) return same;
  return fs::absolute(a, ec).lexically_normal() ==
         fs::absolute(b, ec).lexically_normal();
}

}  // namespace

std::string_view AutoUploadDecisionName(AutoUploadDecision decision) {
  switch (decision) {
    case AutoUploadDecision::kStart:
      return "start";
    case AutoUploadDecision::kDisabledByEnv:
      return "disabled_by_env";
    case AutoUploadDecision::kDisabledByConfig:
      return "disabled_by_config";
    case AutoUploadDecision::kNoWriteKey:
      return "no_write_key";
    case AutoUploadDecision::kNoConsent:
      return "no_consent";
    case AutoUploadDecision::kTooSoon:
      return "too_soon";
    case AutoUploadDecision::kNotBefore:
      return "not_before";
    case AutoUploadDecision::kSpoolEmpty:
      return "spool_empty";
    case AutoUploadDecision::kNoUploader:
      return "no_uploader";
    case AutoUploadDecision::kSpawnFailed:
      return "spawn_failed";
    case AutoUploadDecision::kOtherSpool:
      return "other_spool";
    case AutoUploadDecision::kConfigError:
      return "config_error";
  }
  return "unknown";
}

AutoUploadDecision DecideAutoUpload(const AutoUploadInputs& in) {
  if (!in.env_enabled) return AutoUploadDecision::kDisabledByEnv;
  if (!in.config_enabled) return AutoUploadDecision::kDisabledByConfig;
  if (in.config_error) return AutoUploadDecision::kConfigError;
  if (!in.has_write_key) return AutoUploadDecision::kNoWriteKey;
  if (!in.consent) return AutoUploadDecision::kNoConsent;
  // A last attempt "in the future" (a clock set back) counts as recent:
  // better one hour late than an uploader per process.
  if (in.last_attempt && in.now - *in.last_attempt < in.interval) {
    return AutoUploadDecision::kTooSoon;
  }
  if (in.not_before && in.now < *in.not_before) {
    return AutoUploadDecision::kNotBefore;
  }
  if (in.pending == 0) return AutoUploadDecision::kSpoolEmpty;
  return AutoUploadDecision::kStart;
}

std::optional<std::chrono::seconds> ParseInterval(std::string_view text) {
  return core::ParseDuration(text);
}

AutoUploadSettings ReadAutoUploadSettings(const fs::path& config_dir,
                                          const core::Environment& env) {
  AutoUploadSettings s;
  s.env_enabled = EnvEnabled(env);
  s.config_enabled = ConfigEnabled(config_dir);
  if (auto v = env.Get("ZENML_ANALYTICS_AUTO_UPLOAD_INTERVAL")) {
    s.interval = ParseInterval(*v).value_or(kDefaultAutoUploadInterval);
  }
  const fs::path marker = core::AnalyticsDir(config_dir) / kMarkerName;
  int fd = ::open(marker.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    s.last_start = ReadMarker(fd);
    ::close(fd);
  }
  return s;
}

Result<AutoUploadResult> MaybeStartUpload(const AutoUploadOptions& options) {
  const core::Environment& env = *options.environment;
  AutoUploadInputs in;
  in.env_enabled = EnvEnabled(env);
  in.consent = options.consent;
  in.now = options.clock->Now();
  // The write key as zenml-upload will find it (uploader/upload_config.h):
  // the environment, the user's upload.yaml, /etc/zenml/upload.yaml, the
  // built-in key; a refused upload.yaml makes it exit 78 whatever else
  // holds a key, so it is not started for that. Read only past the cheap
  // gates (an exit with auto-upload off or without consent reads nothing).
  if (in.env_enabled && in.consent) {
    auto resolved = uploader::ResolveUploadConfig({}, options.config_dir, env);
    if (!resolved.ok()) {
      in.config_error = true;
    } else if (resolved->write_key_source == "built_in" ||
               resolved->write_key_source == "none") {
      in.has_write_key = options.builtin_write_key.value_or(
          !uploader::BuiltInWriteKey().empty());
    } else {
      in.has_write_key = true;
    }
  } else {
    auto key = env.Get("ZENML_SEGMENT_WRITE_KEY");
    in.has_write_key =
        (key && !key->empty()) || options.builtin_write_key.value_or(
                                      !uploader::BuiltInWriteKey().empty());
  }
  if (options.interval) {
    in.interval = *options.interval;
  } else if (auto v = env.Get("ZENML_ANALYTICS_AUTO_UPLOAD_INTERVAL")) {
    in.interval = ParseInterval(*v).value_or(kDefaultAutoUploadInterval);
  }
  in.pending = 1;  // not known yet: decide on everything cheap first
  AutoUploadResult result;
  // config.yaml is read only when it can change the outcome: the environment
  // did not already say no, and there is a write key and consent. Without
  // them nothing starts whatever the file says, and an exiting one-shot
  // process (`zenml-analytics track`) is spared a second read and parse.
  if (in.env_enabled && in.has_write_key && in.consent && !in.config_error) {
    in.config_enabled = ConfigEnabled(options.config_dir);
  }
  result.decision = DecideAutoUpload(in);
  if (result.decision != AutoUploadDecision::kStart) return result;

  const fs::path analytics = core::AnalyticsDir(options.config_dir);
  // The writer's own options: the ingestion below applies their bounds.
  spool::SpoolOptions spool_options;
  if (options.spool) {
    spool_options = *options.spool;
  } else {
    spool_options.clock = options.clock;
  }
  if (spool_options.dir.empty()) spool_options.dir = analytics;
  spool_options.lock_wait =
      std::min(spool_options.lock_wait, kAutoUploadLockWait);
  if (!fs::is_directory(spool_options.dir / "spool")) {
    result.decision = AutoUploadDecision::kSpoolEmpty;
    return result;
  }
  if (!SameDirectory(spool_options.dir, analytics)) {
    // A writer with a spool of its own (an embedder, a test): zenml-upload
    // drains <config dir>/analytics only, so it would send none of these.
    result.decision = AutoUploadDecision::kOtherSpool;
    return result;
  }
  const fs::path marker = analytics / kMarkerName;
  ZENML_TRY_ASSIGN(std::optional<core::FileLock> lock,
                   core::FileLock::TryLock(marker));
  const int fd = lock ? lock->fd() : -1;
  if (!lock) {
    // Another process is deciding right now: it will start one if needed.
    result.decision = AutoUploadDecision::kTooSoon;
    return result;
  }
  in.last_attempt = ReadMarker(fd);
  // Most exits land within the interval: answer them without opening the
  // spool at all.
  result.decision = DecideAutoUpload(in);
  if (result.decision != AutoUploadDecision::kStart) return result;

  spool::Spool spool(spool_options);
  ZENML_TRY_ASSIGN(spool::SpoolStats stats, spool.Stats());
  // Stats is a read: events still in inbox files are not in `count`.
  in.pending = stats.count + stats.inbox_files;
  in.not_before = stats.not_before;
  if (stats.last_upload &&
      (!in.last_attempt || stats.last_upload->at > *in.last_attempt)) {
    in.last_attempt = stats.last_upload->at;
  }
  result.decision = DecideAutoUpload(in);
  if (result.decision != AutoUploadDecision::kStart) return result;

  auto uploader = FindUploader(options);
  if (!uploader) {
    result.decision = AutoUploadDecision::kNoUploader;
    return result;
  }
  WriteMarker(fd, in.now);
  auto pid = SpawnDetached(*uploader, options.config_dir);
  if (!pid.ok()) {
    result.decision = AutoUploadDecision::kSpawnFailed;
    return result;
  }
  result.pid = *pid;
  return result;
}

}  // namespace zenml::client
