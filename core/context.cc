#include "core/context.h"

#include <sys/utsname.h>

#include <fstream>
#include <map>
#include <string_view>

#ifndef ZENML_ANALYTICS_VERSION
#define ZENML_ANALYTICS_VERSION "0.0.0"
#endif
#ifndef ZENML_DEFAULT_ZENML_VERSION
#define ZENML_DEFAULT_ZENML_VERSION ""
#endif

namespace zenml::core {
namespace {

// One os-release value: strips one level of '…' or "…" quoting and, inside
// double quotes, backslash escapes (os-release(5) uses shell quoting).
std::string Unquote(std::string_view v) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r'))
    v.remove_suffix(1);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') &&
      v.back() == v.front()) {
    const char q = v.front();
    v = v.substr(1, v.size() - 2);
    if (q == '\'') return std::string(v);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      out.push_back(v[i]);
    }
    return out;
  }
  return std::string(v);
}

std::map<std::string, std::string> ReadOsRelease(
    const std::filesystem::path& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    out[line.substr(0, eq)] = Unquote(std::string_view(line).substr(eq + 1));
  }
  return out;
}

}  // namespace

std::string_view LibraryVersion() { return ZENML_ANALYTICS_VERSION; }

Context DetectContext(std::string zenml_version,
                      const std::filesystem::path& os_release) {
  Context c;
  c.library_version = std::string(LibraryVersion());
  c.zenml_version = zenml_version.empty()
                        ? std::string(ZENML_DEFAULT_ZENML_VERSION)
                        : std::move(zenml_version);
  const auto fields = ReadOsRelease(os_release);
  auto name = fields.find("NAME");
  if (name != fields.end() && !name->second.empty()) {
    c.os_name = name->second;
    auto version = fields.find("VERSION_ID");
    if (version != fields.end()) c.os_version = version->second;
    return c;
  }
  // Only sysname and release: nodename (the hostname) is never read out.
  struct utsname u;
  if (::uname(&u) == 0) {
    c.os_name = u.sysname;
    c.os_version = u.release;
  }
  return c;
}

std::string OsString(const Context& context) {
  if (context.os_version.empty()) return context.os_name;
  if (context.os_name.empty()) return context.os_version;
  return context.os_name + " " + context.os_version;
}

}  // namespace zenml::core
