#include "core/config_dir.h"

namespace zenml::core {
namespace {

std::optional<std::string> NonEmpty(const Environment& env,
                                    std::string_view name) {
  auto v = env.Get(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

}  // namespace

Result<std::filesystem::path> ResolveConfigDir(const Environment& env) {
  if (auto p = NonEmpty(env, "ZENML_CONFIG_PATH")) {
    return std::filesystem::path(*p);
  }
  if (auto p = NonEmpty(env, "XDG_CONFIG_HOME")) {
    return std::filesystem::path(*p) / "zenml";
  }
  if (auto p = NonEmpty(env, "HOME")) {
    return std::filesystem::path(*p) / ".config" / "zenml";
  }
  return Status::FailedPrecondition(
      "cannot find the ZenML config directory: set ZENML_CONFIG_PATH, "
      "XDG_CONFIG_HOME or HOME");
}

std::filesystem::path AnalyticsDir(const std::filesystem::path& config_dir) {
  return config_dir / "analytics";
}

std::filesystem::path ConfigFilePath(const std::filesystem::path& config_dir) {
  return config_dir / "config.yaml";
}

}  // namespace zenml::core
