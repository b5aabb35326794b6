// Context: the metadata every event carries (the seed: "the ZenML version",
// "operating system information, e.g. Ubuntu Linux 16.04"), plus the
// library's own name and version as Segment expects in `context.library`.
//
// Deliberately nothing else: no hostname, user name, path, IP or machine id
// ever goes in here (DESIGN.md promise 4). Thread-safe (pure functions).

#ifndef ZENML_CORE_CONTEXT_H_
#define ZENML_CORE_CONTEXT_H_

#include <filesystem>
#include <string>

namespace zenml::core {

struct Context {
  std::string library_name = "zenml-analytics";
  std::string
      library_version;        // this library's version (DetectContext sets it)
  std::string zenml_version;  // the ZenML version of the caller
  std::string os_name;        // e.g. "Debian GNU/Linux", or uname's "Linux"
  std::string os_version;     // e.g. "12", or uname's release
};

// This library's version (the CMake project version).
std::string_view LibraryVersion();

// Detects the context of this process. `zenml_version` empty means the
// build-time default (CMake cache variable ZENML_DEFAULT_ZENML_VERSION).
// OS name and version come from NAME and VERSION_ID in `os_release` (quotes
// and escapes removed); when the file is missing or lacks NAME, from
// uname(2) (sysname and release). Never fails: unknown fields stay empty.
Context DetectContext(
    std::string zenml_version = {},
    const std::filesystem::path& os_release = "/etc/os-release");

// "<os_name> <os_version>" (e.g. "Debian GNU/Linux 12"), or just the name
// when the version is empty: what `zenml-analytics status` shows.
std::string OsString(const Context& context);

}  // namespace zenml::core

#endif  // ZENML_CORE_CONTEXT_H_
