// GlobalConfig: ZenML's global `config.yaml`, as far as analytics cares.
//
// The file lives in the config dir (see config_dir.h) and is shared with
// ZenML's own Python CLI, which keeps many keys there (`active_stack_id`,
// `store` (a nested map), `user_id`, `version`, `analytics_opt_in`, ...). We
// read and write only `analytics_opt_in` and `user_id`; every other key and
// value survives a rewrite as it was (values, key order and scalar quoting;
// YAML comments and anchors are not kept, as yaml-cpp drops them on parse).
//
// Failure rules (issue 2): a file that cannot be read, is not YAML, or is not
// a map at the top is reported with a clear Status and is NEVER overwritten.
// A missing file (or an empty one) is an empty config.
//
// Limits (issue 13): the file is shared with anything that can write to the
// user's home, and is read on the caller's thread by Client (consent at
// construction, user_id at the first Track). ZenML's own config.yaml is under
// 2 KB. A file over any of these limits is Corruption, found before a YAML
// tree is built, so reading any config.yaml costs at most what parsing
// 64 KiB of at most 10,000 nodes costs (docs/zenml-analytics.md, "Limits",
// gives the measured bound):
//   kConfigMaxBytes  64 KiB (32 times ZenML's file); Load never reads more
//                    than this (+1 byte);
//   kConfigMaxDepth  32 levels of nested maps and lists;
//   kConfigMaxNodes  10,000 nodes, an alias counting as the size of the node
//                    it names (so a "billion laughs" alias bomb stops at the
//                    first alias over the limit), and an alias to a node that
//                    contains it (a cycle) is refused;
//   kConfigMaxExpandedBytes  1 MiB of scalar text, aliases expanded (what a
//                    rewrite writes, as it writes aliases out in full);
//   one YAML document (PyYAML's safe_load refuses more, too);
//   UTF-8 text of the characters YAML allows (no control characters), as
//   PyYAML requires, with CRLF or LF line ends: other bytes would come back
//   changed from a rewrite.
// Keys written twice: the last value wins, as in PyYAML (ZenML's reader);
// merge keys (`<<: *base`) are followed for the two keys we read, as PyYAML
// does. A rewrite keeps each repeated key once, with that last value.
//
// Writes are atomic: a temp file in the same directory, written, fsynced,
// renamed over `config.yaml`, then the directory fsynced. The file is 0600,
// the directory (created if needed) 0700.
//
// Thread safety: a GlobalConfig object is thread-compatible (it is a value).
// Across processes, EnsureAnonymousId() and SetOptIn() (consent.h) hold an
// flock(2) on the config directory around their read-modify-write, so two
// of our processes never mint two ids; ZenML's Python CLI does not take
// that lock, and the last rename wins, as with any two writers of the file.

#ifndef ZENML_CORE_GLOBAL_CONFIG_H_
#define ZENML_CORE_GLOBAL_CONFIG_H_

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/status.h"

namespace zenml::core {

inline constexpr size_t kConfigMaxBytes = size_t{64} << 10;
inline constexpr size_t kConfigMaxDepth = 32;
inline constexpr size_t kConfigMaxNodes = 10'000;
inline constexpr size_t kConfigMaxExpandedBytes = size_t{1} << 20;

class GlobalConfig {
 public:
  // An empty config not tied to a file yet; Save() needs a config dir.
  GlobalConfig();
  ~GlobalConfig();
  GlobalConfig(const GlobalConfig& other);
  GlobalConfig& operator=(const GlobalConfig& other);
  GlobalConfig(GlobalConfig&&) noexcept;
  GlobalConfig& operator=(GlobalConfig&&) noexcept;

  // Loads `config_dir/config.yaml`. A missing or empty (or whitespace and
  // comments only) file gives an empty config with exists() false or true
  // respectively. Errors, all naming the file:
  //   PermissionDenied / IoError  the file exists but cannot be read, or is
  //                               not a regular file (a FIFO, a device);
  //   Corruption                  not YAML, the top level is not a map, or
  //                               over a limit (see the class comment).
  // Creates nothing.
  static Result<GlobalConfig> Load(const std::filesystem::path& config_dir);

  // Parses YAML text (used by Load and by tests). `source` names the text in
  // error messages.
  static Result<GlobalConfig> Parse(std::string_view yaml,
                                    std::string_view source = "config.yaml");

  // True when Load found a file.
  bool exists() const { return exists_; }

  // `analytics_opt_in`: nullopt when the key is absent. A value that is not
  // a YAML boolean (true/false/yes/no/on/off, any case) is Corruption.
  Result<std::optional<bool>> analytics_opt_in() const;
  void set_analytics_opt_in(bool opt_in);

  // `user_id`: nullopt when absent or null. A value that is not a scalar is
  // Corruption. The value is returned as written; callers check its shape.
  Result<std::optional<std::string>> user_id() const;
  void set_user_id(const std::string& user_id);

  // The whole config as YAML text, unknown keys included, in their order.
  std::string ToYaml() const;

  // Writes ToYaml() atomically to `config_dir/config.yaml` (see the class
  // comment), creating `config_dir` (0700, parents too) if needed. When
  // config.yaml is a symlink, the file it points to is replaced instead. Fails
  // with IoError/PermissionDenied naming the path and the OS error, and with
  // FailedPrecondition when the text written would not read back to the same
  // analytics_opt_in and user_id (YAML that yaml-cpp parses but cannot write
  // back); on failure the old file is untouched and no temp file is left
  // behind.
  Status Save(const std::filesystem::path& config_dir) const;

 private:
  struct Impl;  // holds the YAML::Node; yaml-cpp stays out of this header
  std::unique_ptr<Impl> impl_;
  bool exists_ = false;
};

// The anonymous id (`user_id`) from `config_dir/config.yaml`, creating it
// (NewUuid4) and the file and directory when absent, under the directory
// lock. Errors: those of Load (the file is then left untouched), Corruption
// when `user_id` exists but is not a UUID (we never replace an id a user or
// ZenML wrote), and those of Save.
Result<std::string> EnsureAnonymousId(const std::filesystem::path& config_dir);

// The anonymous id if config.yaml already holds a valid one; nullopt when the
// file or the key is absent. Creates nothing (for `status` when opted out).
// Errors as for Load, plus Corruption for a user_id that is not a UUID.
Result<std::optional<std::string>> ReadAnonymousId(
    const std::filesystem::path& config_dir);

// True for any canonical UUID "8-4-4-4-12" hex (any version): ZenML's
// Python writes str(uuid4()), but we accept what it may write in future.
bool IsUuid(std::string_view text);

}  // namespace zenml::core

#endif  // ZENML_CORE_GLOBAL_CONFIG_H_
