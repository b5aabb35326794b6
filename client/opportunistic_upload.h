// Opportunistic upload: uploads without cron. When a Client that tracked
// something flushes at exit, it may start `zenml-upload --quiet` fully
// detached and return without waiting for it (issue 5, docs/scheduling.md).
//
// It starts one only when all of these hold (DecideAutoUpload, a pure
// function of its inputs, in this order):
//   1. not turned off: ZENML_ANALYTICS_AUTO_UPLOAD is not 0/false/no/off, and
//      config.yaml does not say `analytics_auto_upload: false`;
//   2. zenml-upload will find a write key, by its own rule
//      (uploader::ResolveUploadConfig: ZENML_SEGMENT_WRITE_KEY, write_key in
//      <config dir>/analytics/upload.yaml, then in /etc/zenml/upload.yaml
//      (or $ZENML_SYSTEM_UPLOAD_CONFIG), then one built into zenml-upload
//      with the CMake cache variable ZENML_SEGMENT_WRITE_KEY), and neither
//      upload.yaml is refused (group/world-readable, not YAML, ...: then
//      zenml-upload would exit 78 at once; kConfigError). The files are read
//      only once step 1's environment variable and consent allow a start;
//      the endpoint, CA file and time budget in them are the spawned
//      zenml-upload's to apply (it reads the same files: same config dir,
//      same environment);
//   3. consent holds;
//   4. the last attempt is older than the interval (default 1 h;
//      ZENML_ANALYTICS_AUTO_UPLOAD_INTERVAL in seconds, or 30m, 2h, 1d).
//      The last attempt is the later of the uploader's own record in the
//      spool and the time a process last started one (the file
//      `<analytics dir>/auto_upload.last`), so processes exiting together
//      start one uploader, not one each;
//   5. no not-before time from an earlier 429 lies in the future;
//   6. the spool is not empty.
// MaybeStartUpload reads config.yaml for step 1 only once steps 2 and 3
// hold (the file cannot start an upload they forbid), so without a write key
// or consent it reports kNoWriteKey or kNoConsent even when the file says
// `analytics_auto_upload: false`.
// Reading the spool for step 6 ingests its inbox files, a write that applies
// the spool's bounds; so the check opens it with the bounds of the process
// that writes to it (AutoUploadOptions::spool), never the defaults, or a
// writer configured with larger bounds would lose events to the check.
// The uploader is found, in order: the `uploader` option; the environment
// variable ZENML_ANALYTICS_UPLOADER; `zenml-upload` next to the running
// executable (/proc/self/exe); `zenml-upload` on PATH. It is started by a
// double fork (no shell): the intermediate child calls setsid(2) and forks
// the uploader, whose stdin, stdout and stderr are /dev/null and which
// inherits no other descriptor; the intermediate exits at once and is
// reaped, so no zombie is left and the uploader outlives its starter. The
// child's environment is the process's, with ZENML_CONFIG_PATH set to the
// Client's config dir so that it drains the same spool.
//
// Thread safety: the functions are thread-safe. MaybeStartUpload takes an
// flock on `auto_upload.last` around its read-decide-write, so concurrent
// exits decide one at a time.

#ifndef ZENML_CLIENT_OPPORTUNISTIC_UPLOAD_H_
#define ZENML_CLIENT_OPPORTUNISTIC_UPLOAD_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/environment.h"
#include "core/result.h"
#include "spool/spool.h"

namespace zenml::client {

inline constexpr std::chrono::seconds kDefaultAutoUploadInterval =
    std::chrono::hours(1);

// The longest the check waits for a spool another process holds: it runs in
// an exiting process, which must not be held up for the default lock_wait.
inline constexpr std::chrono::milliseconds kAutoUploadLockWait{200};

// Why an upload was or was not started.
enum class AutoUploadDecision {
  kStart,
  kDisabledByEnv,     // ZENML_ANALYTICS_AUTO_UPLOAD=0
  kDisabledByConfig,  // analytics_auto_upload: false in config.yaml
  kNoWriteKey,
  kNoConsent,
  kTooSoon,    // the last attempt is within the interval
  kNotBefore,  // a 429's not-before time is still ahead
  kSpoolEmpty,
  kNoUploader,   // (MaybeStartUpload only) no zenml-upload found
  kSpawnFailed,  // (MaybeStartUpload only) fork failed
  // (MaybeStartUpload only) the writer's spool is not <config dir>/analytics,
  // the one zenml-upload drains: starting it would send nothing of this one.
  kOtherSpool,
  // An upload.yaml (the user's or the system's) is refused: zenml-upload
  // would stop at once with exit 78 (`zenml-analytics status` says why).
  kConfigError,
};
// "start", "disabled_by_env", "disabled_by_config", "no_write_key",
// "no_consent", "too_soon", "not_before", "spool_empty", "no_uploader",
// "spawn_failed", "other_spool", "config_error".
std::string_view AutoUploadDecisionName(AutoUploadDecision decision);

struct AutoUploadInputs {
  bool env_enabled = true;
  bool config_enabled = true;
  bool has_write_key = false;
  bool config_error = false;  // an upload.yaml is refused
  bool consent = false;
  uint64_t pending = 0;
  std::optional<core::WallTime> last_attempt;
  std::optional<core::WallTime> not_before;
  core::WallTime now;
  std::chrono::seconds interval = kDefaultAutoUploadInterval;
};

// The rule of the file comment. Pure.
AutoUploadDecision DecideAutoUpload(const AutoUploadInputs& in);

struct AutoUploadOptions {
  // The config dir whose spool the uploader drains. Required.
  std::filesystem::path config_dir;
  // Whether the user consented (the Client decided it at construction).
  bool consent = false;
  // Path of zenml-upload; empty: searched as the file comment says.
  std::filesystem::path uploader;
  // Empty: the environment's ZENML_ANALYTICS_AUTO_UPLOAD_INTERVAL, else 1 h.
  std::optional<std::chrono::seconds> interval;
  // Whether a write key is built into zenml-upload; empty: whether
  // uploader::BuiltInWriteKey() is non-empty (the CMake cache variable
  // ZENML_SEGMENT_WRITE_KEY, defined once, for upload_config.cc).
  std::optional<bool> builtin_write_key;
  const core::Environment* environment = &core::ProcessEnvironment();
  const core::Clock* clock = &core::RealClock();
  // The options the spool is opened with (clock, env, sync, dir): those of
  // the writer whose spool this is (a Client passes its ClientOptions::spool).
  // The check only reads (Spool::Stats): it ingests nothing and applies no
  // bounds. `dir` empty: `<config dir>/analytics`. lock_wait is cut to
  // kAutoUploadLockWait if longer. Unset: the default SpoolOptions on
  // `<config dir>/analytics` with `clock`.
  std::optional<spool::SpoolOptions> spool;
};

struct AutoUploadResult {
  AutoUploadDecision decision = AutoUploadDecision::kSpoolEmpty;
  pid_t pid = -1;  // kStart: the uploader's pid (already detached)
};

// Gathers the inputs (cheap ones first: the spool is opened, once, only when
// everything else says go), decides, and on kStart records the attempt and
// starts the uploader detached. Never blocks on the uploader; never throws.
// Fails only on a spool error (the caller ignores it: this is best effort).
core::Result<AutoUploadResult> MaybeStartUpload(
    const AutoUploadOptions& options);

// The auto-upload settings as MaybeStartUpload would read them, for
// `zenml-analytics status`. Reads config.yaml and the marker file; creates
// and changes nothing.
struct AutoUploadSettings {
  bool env_enabled = true;     // ZENML_ANALYTICS_AUTO_UPLOAD
  bool config_enabled = true;  // analytics_auto_upload in config.yaml
  std::chrono::seconds interval = kDefaultAutoUploadInterval;
  // When a process last started an uploader (auto_upload.last); nullopt:
  // never, or the file is unreadable.
  std::optional<core::WallTime> last_start;
};
AutoUploadSettings ReadAutoUploadSettings(
    const std::filesystem::path& config_dir, const core::Environment& env);

// Parses "3600", "30m", "2h", "1d" into seconds; nullopt otherwise. The
// grammar is core::ParseDuration's (core/duration.h).
std::optional<std::chrono::seconds> ParseInterval(std::string_view text);

}  // namespace zenml::client

#endif  // ZENML_CLIENT_OPPORTUNISTIC_UPLOAD_H_
