// Consent: whether this user agreed to send usage analytics, and why.
//
// Precedence (DESIGN.md "Configuration and consent"), first that applies:
//   1. ZENML_ANALYTICS_OPT_IN: false/0/no/off -> out, true/1/yes/on -> in
//      (any case, surrounding blanks ignored); other values are ignored
//      (and said so in `detail`).
//   2. DO_NOT_TRACK set to anything but empty/0/false -> out
//      (https://consoledonottrack.com/ ; any case, blanks ignored).
//   3. `analytics_opt_in` in config.yaml.
//   4. default: in, as ZenML's own default.
// A config.yaml that cannot be read or parsed is "no opinion": the decision
// falls to the default and `detail` says why, so tracking never breaks on a
// broken file (the CLI reports it in one line).
//
// Pure functions of the file and the environment; thread-safe.

#ifndef ZENML_CORE_CONSENT_H_
#define ZENML_CORE_CONSENT_H_

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/environment.h"
#include "core/global_config.h"
#include "core/result.h"
#include "core/status.h"

namespace zenml::core {

enum class ConsentSource {
  kEnvOptIn,    // ZENML_ANALYTICS_OPT_IN
  kDoNotTrack,  // DO_NOT_TRACK
  kConfigFile,  // analytics_opt_in in config.yaml
  kDefault,     // nothing said anything: opted in
};

// "ZENML_ANALYTICS_OPT_IN", "DO_NOT_TRACK", "config.yaml", "default".
std::string_view ConsentSourceName(ConsentSource source);

struct Consent {
  bool allowed = true;
  ConsentSource source = ConsentSource::kDefault;
  // One line for humans: the value that decided, e.g.
  // "ZENML_ANALYTICS_OPT_IN=false", "analytics_opt_in: true in
  // /home/u/.config/zenml/config.yaml", or why a source was ignored
  // ("config.yaml is not valid YAML (...); using the default").
  std::string detail;
};

// Decides consent from `env` and `config_dir/config.yaml`. Never fails, never
// creates or changes a file.
Consent DecideConsent(const std::filesystem::path& config_dir,
                      const Environment& env);

// The same, with config.yaml read through `load` (called at most once, and
// only when the environment does not decide): a caller that needs the file's
// other keys too (the Client's anonymous id) keeps what `load` read and so
// reads and parses the file once.
Consent DecideConsent(const std::filesystem::path& config_dir,
                      const Environment& env,
                      const std::function<Result<GlobalConfig>()>& load);

// Writes `analytics_opt_in: <opt_in>` to `config_dir/config.yaml`, keeping
// every other key, creating the file (0600) and directory (0700) if needed.
// Does not create a user_id. Fails (and leaves the file as it was) when the
// existing file cannot be read or parsed, or cannot be rewritten.
// Note the environment may still override the file; callers that report the
// result should call DecideConsent afterwards.
Status SetOptIn(const std::filesystem::path& config_dir, bool opt_in);

// Opting out that works whatever config.yaml holds (issue 13): as
// SetOptIn(config_dir, false) when the file can be read; when it cannot
// (not YAML, over a limit of global_config.h, unreadable, not a regular
// file), renames it to `config.yaml.bak-<UTC YYYYMMDDTHHMMSSZ>` (then `-2`,
// ... if taken; never over a file) in its directory, makes the backup 0600,
// and writes a fresh config.yaml holding only `analytics_opt_in: false` (no
// user_id: an opted-out user needs none; the old one is in the backup).
// A symlinked config.yaml stays a link; the file it points to is moved and
// replaced. Returns the backup's path, or nullopt when no backup was needed.
// Fails (IoError/PermissionDenied) only when the directory cannot be
// written; the environment route (ZENML_ANALYTICS_OPT_IN=false) remains.
Result<std::optional<std::filesystem::path>> ForceOptOut(
    const std::filesystem::path& config_dir);

}  // namespace zenml::core

#endif  // ZENML_CORE_CONSENT_H_
