// Consent queries: whether this user agreed to anonymous usage analytics,
// what decided it, and how to change it.
//
// Precedence, first that applies (docs/zenml-analytics.md):
//   1. ZENML_ANALYTICS_OPT_IN (true/1/yes/on or false/0/no/off),
//   2. DO_NOT_TRACK set to anything but empty/0/false: out,
//   3. `analytics_opt_in` in <config dir>/config.yaml,
//   4. default: in, as ZenML's own default.
// The config dir is `config_dir` when given, else ZENML_CONFIG_PATH, else
// the platform's ZenML config dir. Thread-safe; nothing throws. C++17.

#ifndef ZENML_ANALYTICS_CONSENT_H_
#define ZENML_ANALYTICS_CONSENT_H_

#include <string>
#include <string_view>

#include "zenml/analytics/export.h"
#include "zenml/analytics/result.h"
#include "zenml/analytics/status.h"

namespace zenml::analytics {

enum class ConsentSource {
  kEnvOptIn,    // ZENML_ANALYTICS_OPT_IN
  kDoNotTrack,  // DO_NOT_TRACK
  kConfigFile,  // analytics_opt_in in config.yaml
  kDefault,     // nothing said anything: opted in
};

// "ZENML_ANALYTICS_OPT_IN", "DO_NOT_TRACK", "config.yaml", "default".
ZENML_ANALYTICS_EXPORT std::string_view ConsentSourceName(ConsentSource source);

struct Consent {
  bool allowed = true;
  ConsentSource source = ConsentSource::kDefault;
  // One line for humans: the value that decided, or why a source was
  // ignored (an unreadable config.yaml is "no opinion", never an error).
  std::string detail;
};

// Decides consent as a Client constructed now would. Creates and changes
// nothing. Fails only when no config dir can be resolved.
ZENML_ANALYTICS_EXPORT Result<Consent> QueryConsent(
    const std::string& config_dir = {});

// Writes `analytics_opt_in: <opt_in>` to config.yaml, keeping every other
// key (creating the file 0600 and the dir 0700 if needed). Fails, leaving the
// file as it was, if it cannot be read, parsed or rewritten. The environment
// may still override it: call QueryConsent to report the outcome.
ZENML_ANALYTICS_EXPORT Status SetOptIn(bool opt_in,
                                       const std::string& config_dir = {});

}  // namespace zenml::analytics

#endif  // ZENML_ANALYTICS_CONSENT_H_
