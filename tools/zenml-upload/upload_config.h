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
// Every key is optional; any other key is an error (a typo must not be
// silently ignored). A file holding a key must be private: one that group or
// others may read, or that belongs to another user (root aside), is refused.
//
// Thread-compatible; reads files, never writes them.

#ifndef ZENML_TOOLS_ZENML_UPLOAD_UPLOAD_CONFIG_H_
#define ZENML_TOOLS_ZENML_UPLOAD_UPLOAD_CONFIG_H_

#include <filesystem>
#include <optional>
#include <string>

#include "core/result.h"

namespace zenml::tools {

struct UploadConfig {
  std::optional<std::string> write_key;
  std::optional<std::string> endpoint;
  std::optional<std::string> ca_file;
  std::optional<double> max_time;  // seconds, > 0
};

// `<config dir>/analytics/upload.yaml`.
std::filesystem::path UploadConfigPath(const std::filesystem::path& config_dir);

// Reads `path`. A missing file is an empty config. Fails with
// FailedPrecondition (a configuration error, exit 78) when the file is group-
// or world-readable, owned by another user, not YAML, not a mapping, holds an
// unknown key or a value of the wrong type; IoError when it cannot be read.
core::Result<UploadConfig> LoadUploadConfig(const std::filesystem::path& path);

// The write key in `path` (`--write-key-file`): its first line, surrounding
// whitespace removed. Same privacy rule as upload.yaml; the file must exist
// and the key must not be empty (FailedPrecondition).
core::Result<std::string> ReadWriteKeyFile(const std::filesystem::path& path);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_UPLOAD_UPLOAD_CONFIG_H_
