#include "core/environment.h"

#include <cctype>

#include <cstdlib>

namespace zenml::core {
namespace {

class ProcessEnv final : public Environment {
 public:
  std::optional<std::string> Get(std::string_view name) const override {
    // getenv needs a NUL-terminated name.
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  }
};

}  // namespace

Environment::~Environment() = default;

std::optional<bool> ParseBoolSetting(std::string_view value) {
  while (!value.empty() &&
         std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() &&
         std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  std::string v(value);
  for (char& c : v)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return std::nullopt;
}

const Environment& ProcessEnvironment() {
  static const ProcessEnv* const env = new ProcessEnv();
  return *env;
}

MapEnvironment::MapEnvironment(
    std::initializer_list<std::pair<const std::string, std::string>> vars)
    : vars_(vars.begin(), vars.end()) {}

std::optional<std::string> MapEnvironment::Get(std::string_view name) const {
  auto it = vars_.find(name);
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

void MapEnvironment::Set(std::string name, std::string value) {
  vars_.insert_or_assign(std::move(name), std::move(value));
}

void MapEnvironment::Unset(std::string_view name) {
  auto it = vars_.find(name);
  if (it != vars_.end()) vars_.erase(it);
}

}  // namespace zenml::core
