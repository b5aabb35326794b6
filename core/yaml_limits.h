// The limits on a YAML file this project reads (kConfigMaxBytes, depth,
// nodes with aliases expanded, expanded bytes: core/global_config.h), checked
// on yaml-cpp's parse events before any tree is built, so that a hostile
// file (an alias bomb, 100 MB, `[[[[...`) is refused in milliseconds and
// constant memory instead of taking minutes and gigabytes. Used for
// config.yaml (global_config.cc) and upload.yaml (uploader/upload_config.cc).
//
// Thread-safe (no state).

#ifndef ZENML_CORE_YAML_LIMITS_H_
#define ZENML_CORE_YAML_LIMITS_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace zenml::core {

// Empty when `text` is within the limits, else what is wrong ("is larger
// than 65536 bytes", "nests deeper than 32 levels", ...), to follow the
// file's name in a message. Syntax errors are not its business: yaml-cpp's
// exception (YAML::Exception) propagates, for the caller to report with the
// line.
std::string CheckYamlLimits(const std::string& text);

// The offset of the first character that PyYAML's reader refuses (ZenML
// could not read the file) or of a CR not followed by LF; npos when none.
size_t FindUnacceptableInYaml(std::string_view text);

}  // namespace zenml::core

#endif  // ZENML_CORE_YAML_LIMITS_H_
