// Internal to zenml::core (not installed): the locked read-modify-write that
// SetOptIn (consent.cc) shares with EnsureAnonymousId (global_config.cc).

#ifndef ZENML_CORE_GLOBAL_CONFIG_INTERNAL_H_
#define ZENML_CORE_GLOBAL_CONFIG_INTERNAL_H_

#include <filesystem>
#include <optional>

#include "core/result.h"
#include "core/status.h"

namespace zenml::core::internal {

// Sets analytics_opt_in in config_dir/config.yaml under the directory lock,
// creating the directory (0700) and file (0600) if needed.
Status UpdateOptIn(const std::filesystem::path& config_dir, bool opt_in);

// ForceOptOut (consent.h), under the same lock.
Result<std::optional<std::filesystem::path>> ForceOptOut(
    const std::filesystem::path& config_dir);

}  // namespace zenml::core::internal

#endif  // ZENML_CORE_GLOBAL_CONFIG_INTERNAL_H_
