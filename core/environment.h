// Environment: read-only access to environment variables, as a seam.
//
// Every function of the library that depends on an environment variable
// (config dir, consent, write key, ...) takes an `Environment` instead of
// calling getenv(3) itself, so tests can pass a `MapEnvironment` and never
// mutate the process environment.
//
// Thread safety: `ProcessEnvironment()` is safe to read from any thread as
// long as nobody calls setenv(3) meanwhile (the usual POSIX caveat).
// `MapEnvironment` is thread-compatible: concurrent Get() calls are fine,
// Set()/Unset() need external synchronization.

#ifndef ZENML_CORE_ENVIRONMENT_H_
#define ZENML_CORE_ENVIRONMENT_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace zenml::core {

class Environment {
 public:
  virtual ~Environment();

  // The value of variable `name`, or nullopt when it is not set. A variable
  // set to the empty string is returned as "" (callers decide what empty
  // means). Never fails.
  virtual std::optional<std::string> Get(std::string_view name) const = 0;
};

// The environment of this process (getenv). Never destroyed.
const Environment& ProcessEnvironment();

// The one reading of a yes/no setting (ZENML_ANALYTICS_OPT_IN,
// ZENML_ANALYTICS_AUTO_UPLOAD): "true", "1", "yes", "on" → true; "false",
// "0", "no", "off" → false; any case, surrounding spaces ignored; anything
// else → nullopt (the caller decides what an unrecognised value means).
std::optional<bool> ParseBoolSetting(std::string_view value);

// An environment held in a map, for tests: starts empty (nothing set).
class MapEnvironment final : public Environment {
 public:
  MapEnvironment() = default;
  MapEnvironment(
      std::initializer_list<std::pair<const std::string, std::string>> vars);

  std::optional<std::string> Get(std::string_view name) const override;

  // Sets `name` to `value` (replacing any earlier value).
  void Set(std::string name, std::string value);
  // Removes `name`; a no-op when it is not set.
  void Unset(std::string_view name);

 private:
  std::map<std::string, std::string, std::less<>> vars_;
};

}  // namespace zenml::core

#endif  // ZENML_CORE_ENVIRONMENT_H_
