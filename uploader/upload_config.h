// The upload config file, `<config dir>/analytics/upload.yaml`, and
// `--write-key-file`: where zenml-upload's write key (and endpoint, CA file,
// time budget) can live instead of argv, which every local user can read
// in `ps`.
//
//   write_key: abcd...        # the Segment write key
//   endpoint: https://...     # the batch endpoint
//   ca_file: /etc/ssl/ca.pem  # --cacert
//   max_time: 120             # --max-time, seconds
//
// A system-wide file with the same keys, /etc/zenml/upload.yaml (or the path
// in ZENML_SYSTEM_UPLOAD_CONFIG, for tests and unusual layouts), is read
// after the user's: the user's file wins key by key. It is shared by every
// user of the machine, so its rules differ:
//   - it must belong to root, and group and others may not write it (it
//     says where events go);
//   - without a write key it may be readable by all (0644): an endpoint, a
//     CA file and a time budget are no secret;
//   - with a write key, others may not read it: 0600 (for root's own runs,
//     the system units), or 0640 with a group the administrator chose;
//   - a user who may not read it (0600 root) runs without it: it is
//     skipped, not an error, and `zenml-analytics status` says so.
//
// Every key is optional; any other key is an error (a typo must not be
// silently ignored). The user's file must be private: one that group or
// others may access, or that belongs to another user (root aside), is
// refused.
//
// ResolveUploadConfig is the one precedence rule (command line, environment,
// upload.yaml, built-in) that zenml-upload runs by and `zenml-analytics
// status` reports, so the two never disagree about which key is used.
//
// Thread-compatible; reads files, never writes them.

#ifndef ZENML_UPLOADER_UPLOAD_CONFIG_H_
#define ZENML_UPLOADER_UPLOAD_CONFIG_H_

#include <filesystem>
#include <optional>
#include <string>

#include "core/environment.h"
#include "core/result.h"

namespace zenml::uploader {

struct UploadConfig {
  std::optional<std::string> write_key;
  std::optional<std::string> endpoint;
  std::optional<std::string> ca_file;
  std::optional<double> max_time;  // seconds, > 0
  // The system-wide file exists but this user may not read it (skipped).
  bool unreadable = false;
};

// `<config dir>/analytics/upload.yaml`.
std::filesystem::path UploadConfigPath(const std::filesystem::path& config_dir);

// The system-wide upload.yaml: $ZENML_SYSTEM_UPLOAD_CONFIG if set and not
// empty, else kSystemUploadConfig.
inline constexpr std::string_view kSystemUploadConfig =
    "/etc/zenml/upload.yaml";
std::filesystem::path SystemUploadConfigPath(const core::Environment& env);

// Reads `path`. A missing file is an empty config. `system_wide`: the
// system-wide file's rules above (one this user may not read is an empty
// config with `unreadable` set). Fails with FailedPrecondition (a
// configuration error, exit 78) when the file breaks its rules (access,
// owner), is not YAML, not a mapping, holds an unknown key or a value of
// the wrong type; IoError when it cannot be read.
core::Result<UploadConfig> LoadUploadConfig(const std::filesystem::path& path,
                                            bool system_wide = false);

// The write key in `path` (`--write-key-file`): its first line, surrounding
// whitespace removed. Same privacy rule as upload.yaml; the file must exist
// and the key must not be empty (FailedPrecondition).
core::Result<std::string> ReadWriteKeyFile(const std::filesystem::path& path);

// The write key built into this build (CMake cache variable
// ZENML_SEGMENT_WRITE_KEY); empty when none.
std::string_view BuiltInWriteKey();

// What the command line said; empty strings: not given.
struct UploadConfigFlags {
  std::string write_key;       // --write-key
  std::string write_key_file;  // --write-key-file
  std::string endpoint;        // --endpoint, or the URL --region names
};

// The settings in effect, each with the name of where it came from:
//   write key: "flag", "key_file", "env", "user_config", "system_config",
//              "built_in", "none"
//   endpoint:  "flag", "env", "user_config", "system_config", "default"
struct ResolvedUploadConfig {
  std::string write_key;  // empty: none anywhere
  std::string write_key_source;
  std::filesystem::path user_config;      // the user's upload.yaml
  std::filesystem::path system_config;    // the system-wide one
  bool system_config_unreadable = false;  // skipped: see LoadUploadConfig
  std::string endpoint;                   // never empty (not yet checked)
  std::string endpoint_source;
  // upload.yaml's values (ca_file, max_time for callers): the user's, with
  // what it leaves out taken from the system-wide file.
  UploadConfig file;
};

// Applies the precedence: flags, then the environment
// (ZENML_SEGMENT_WRITE_KEY, ZENML_ANALYTICS_ENDPOINT), then the user's
// upload.yaml, then the system-wide one, then the built-in key / the default
// endpoint. Both files are always read: a refused one fails the call even
// when the other holds a key. Fails as LoadUploadConfig
// and ReadWriteKeyFile do; every failure of --write-key-file is
// FailedPrecondition (a configuration error).
core::Result<ResolvedUploadConfig> ResolveUploadConfig(
    const UploadConfigFlags& flags, const std::filesystem::path& config_dir,
    const core::Environment& env);

// The key as status shows it: its first 4 characters and "…", or "…" alone
// for a key of 8 characters or fewer (which 4 would give half away); ""
// for no key.
std::string MaskWriteKey(std::string_view key);

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_UPLOAD_CONFIG_H_
