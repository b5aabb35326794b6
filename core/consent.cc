#include "core/consent.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/config_dir.h"
#include "core/environment.h"
#include "core/global_config.h"
#include "core/global_config_internal.h"

namespace zenml::core {

namespace {

std::string Normalize(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) {
    v.remove_prefix(1);
  }
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) {
    v.remove_suffix(1);
  }
  std::string out(v);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return out;
}

}  // namespace

std::string_view ConsentSourceName(ConsentSource source) {
  switch (source) {
    case ConsentSource::kEnvOptIn:
      return "ZENML_ANALYTICS_OPT_IN";
    case ConsentSource::kDoNotTrack:
      return "DO_NOT_TRACK";
    case ConsentSource::kConfigFile:
      return "config.yaml";
    case ConsentSource::kDefault:
      return "default";
  }
  return "default";
}

Consent DecideConsent(const std::filesystem::path& config_dir,
                      const Environment& env) {
  return DecideConsent(config_dir, env,
                       [&] { return GlobalConfig::Load(config_dir); });
}

Consent DecideConsent(const std::filesystem::path& config_dir,
                      const Environment& env,
                      const std::function<Result<GlobalConfig>()>& load) {
  std::string notes;  // why a source that was present did not decide
  auto note = [&](std::string text) {
    if (!notes.empty()) notes += "; ";
    notes += text;
  };

  if (auto v = env.Get("ZENML_ANALYTICS_OPT_IN")) {
    if (auto in = ParseBoolSetting(*v)) {
      return {*in, ConsentSource::kEnvOptIn,
              fmt::format("ZENML_ANALYTICS_OPT_IN={}", *v)};
    }
    note(fmt::format("ZENML_ANALYTICS_OPT_IN='{}' is not a yes or no, ignored",
                     *v));
  }
  if (auto v = env.Get("DO_NOT_TRACK")) {
    const std::string n = Normalize(*v);
    if (!n.empty() && n != "0" && n != "false") {
      return {false, ConsentSource::kDoNotTrack,
              fmt::format("DO_NOT_TRACK={}", *v)};
    }
  }
  const std::string path = ConfigFilePath(config_dir).string();
  Result<GlobalConfig> config = load();
  if (!config.ok()) {
    note(fmt::format("{}; ignored", config.status().message()));
  } else {
    Result<std::optional<bool>> in = config->analytics_opt_in();
    if (!in.ok()) {
      note(fmt::format("{}; ignored", in.status().message()));
    } else if (in->has_value()) {
      return {**in, ConsentSource::kConfigFile,
              fmt::format("analytics_opt_in: {} in {}", **in ? "true" : "false",
                          path)};
    }
  }
  std::string detail = "nothing set; ZenML's default is opted in";
  if (!notes.empty()) detail = notes + "; using the default (opted in)";
  return {true, ConsentSource::kDefault, std::move(detail)};
}

Status SetOptIn(const std::filesystem::path& config_dir, bool opt_in) {
  return internal::UpdateOptIn(config_dir, opt_in);
}

Result<std::optional<std::filesystem::path>> ForceOptOut(
    const std::filesystem::path& config_dir) {
  return internal::ForceOptOut(config_dir);
}

}  // namespace zenml::core
