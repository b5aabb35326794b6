// Where ZenML keeps its global configuration, and the analytics files in it.
//
// The config dir is `$ZENML_CONFIG_PATH`, else `$XDG_CONFIG_HOME/zenml`, else
// `$HOME/.config/zenml`: the same place ZenML's own Python CLI uses. Pure
// functions of the environment given; thread-safe.

#ifndef ZENML_CORE_CONFIG_DIR_H_
#define ZENML_CORE_CONFIG_DIR_H_

#include <filesystem>

#include "core/environment.h"
#include "core/result.h"

namespace zenml::core {

// Resolves the config dir from `env`. A variable set to the empty string
// counts as unset. Creates nothing and does not check that the directory
// exists. Fails with FailedPrecondition ("cannot find the ZenML config
// directory: set ZENML_CONFIG_PATH or HOME") when none of the three is set.
Result<std::filesystem::path> ResolveConfigDir(const Environment& env);

// `config_dir/"analytics"`: the spool, the inbox and the upload lock live
// there (DESIGN.md "Configuration and consent"). Creates nothing.
std::filesystem::path AnalyticsDir(const std::filesystem::path& config_dir);

// `config_dir/"config.yaml"`: ZenML's global config file.
std::filesystem::path ConfigFilePath(const std::filesystem::path& config_dir);

}  // namespace zenml::core

#endif  // ZENML_CORE_CONFIG_DIR_H_
