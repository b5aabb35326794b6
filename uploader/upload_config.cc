#include "uploader/upload_config.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/global_config.h"  // kConfigMaxBytes
#include "core/yaml_limits.h"
#include "uploader/uploader.h"  // kDefaultEndpoint

#ifndef ZENML_SEGMENT_WRITE_KEY
#define ZENML_SEGMENT_WRITE_KEY ""
#endif

namespace zenml::uploader {
namespace {

// Whether `path` exists (its stat in *st); fails if it cannot be looked at
// or is not a regular file. The common start of both files' rules.
core::Result<bool> StatRegularFile(const std::filesystem::path& path,
                                   struct stat* st) {
  if (::stat(path.c_str(), st) != 0) {
    if (errno == ENOENT) return false;
    return core::Status::IoError(
        fmt::format("{}: {}", path.string(), std::strerror(errno)));
  }
  if (!S_ISREG(st->st_mode)) {
    return core::Status::FailedPrecondition(
        fmt::format("{} is not a regular file", path.string()));
  }
  return true;
}

// Whether `path` exists (its stat in *st); fails unless it is a regular
// file only its owner (this user, or root) can access, as a file holding a
// secret must be.
core::Result<bool> CheckPrivate(const std::filesystem::path& path,
                                struct stat* st) {
  ZENML_TRY_ASSIGN(bool exists, StatRegularFile(path, st));
  if (!exists) return false;
  if ((st->st_mode & 077) != 0) {
    return core::Status::FailedPrecondition(fmt::format(
        "{} holds a write key but group or others may access it (mode {:04o});"
        " refused: chmod 600 {}",
        path.string(), st->st_mode & 07777, path.string()));
  }
  if (st->st_uid != ::geteuid() && st->st_uid != 0) {
    return core::Status::FailedPrecondition(
        fmt::format("{} belongs to another user (uid {}); refused",
                    path.string(), st->st_uid));
  }
  return true;
}

// The system-wide file: whether it exists (its stat in *st). It must be a
// regular file that belongs to root and that nobody else may write (it
// says where events go). Whether it may be readable by others depends on
// what it holds (LoadUploadConfig).
core::Result<bool> CheckSystemWide(const std::filesystem::path& path,
                                   struct stat* st) {
  ZENML_TRY_ASSIGN(bool exists, StatRegularFile(path, st));
  if (!exists) return false;
  if (st->st_uid != 0) {
    return core::Status::FailedPrecondition(
        fmt::format("{} is a system-wide file but belongs to uid {}, not "
                    "root; refused",
                    path.string(), st->st_uid));
  }
  if ((st->st_mode & 022) != 0) {
    return core::Status::FailedPrecondition(fmt::format(
        "{} may be written by group or others (mode {:04o}), and it says "
        "where events are sent; refused: chmod go-w {}",
        path.string(), st->st_mode & 07777, path.string()));
  }
  return true;
}

core::Result<std::string> ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::Status::IoError(
        fmt::format("{}: {}", path.string(), std::strerror(errno)));
  }
  // Never more than one byte past the limit (CheckYamlLimits refuses it):
  // a huge file costs no memory or time.
  std::string text(core::kConfigMaxBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

}  // namespace

std::filesystem::path UploadConfigPath(
    const std::filesystem::path& config_dir) {
  return config_dir / "analytics" / "upload.yaml";
}

core::Result<UploadConfig> LoadUploadConfig(const std::filesystem::path& path,
                                            bool system_wide) {
  struct stat st {};
  ZENML_TRY_ASSIGN(bool exists, system_wide ? CheckSystemWide(path, &st)
                                            : CheckPrivate(path, &st));
  UploadConfig config;
  if (!exists) return config;
  if (system_wide && ::access(path.c_str(), R_OK) != 0 && errno == EACCES) {
    // 0600 root, say, and this is another user: the file is root's (the
    // system unit's), not this user's.
    config.unreadable = true;
    return config;
  }
  ZENML_TRY_ASSIGN(std::string text, ReadAll(path));
  auto bad = [&path](const std::string& why) {
    return core::Status::FailedPrecondition(
        fmt::format("{}: {}", path.string(), why));
  };
  YAML::Node root;
  try {
    // config.yaml's limits (size, nesting, nodes with aliases expanded),
    // before any tree is built: a hostile file is refused at once.
    if (std::string over = core::CheckYamlLimits(text); !over.empty()) {
      return bad(over + "; refused");
    }
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return bad(std::string("not valid YAML: ") + e.what());
  }
  if (root.IsNull()) return config;  // empty
  if (!root.IsMap()) return bad("not a mapping of key: value");
  for (const auto& item : root) {
    std::string key = item.first.as<std::string>("");
    const YAML::Node& value = item.second;
    try {
      if (key == "write_key") {
        config.write_key = value.as<std::string>();
      } else if (key == "endpoint") {
        config.endpoint = value.as<std::string>();
      } else if (key == "ca_file") {
        config.ca_file = value.as<std::string>();
      } else if (key == "max_time") {
        double seconds = value.as<double>();
        if (!(seconds > 0)) return bad("max_time must be a positive number");
        config.max_time = seconds;
      } else {
        return bad(fmt::format(
            "unknown key '{}' (known: write_key, endpoint, ca_file, max_time)",
            key));
      }
    } catch (const YAML::Exception&) {
      return bad(fmt::format("'{}' has a value of the wrong type", key));
    }
  }
  if (config.write_key && config.write_key->empty()) config.write_key.reset();
  if (system_wide && config.write_key && (st.st_mode & 007) != 0) {
    return bad(fmt::format(
        "holds a write key but every user may read it (mode {:04o}); refused: "
        "chmod 600 (or 640, for a group you choose) {}",
        st.st_mode & 07777, path.string()));
  }
  return config;
}

core::Result<std::string> ReadWriteKeyFile(const std::filesystem::path& path) {
  struct stat st {};
  ZENML_TRY_ASSIGN(bool exists, CheckPrivate(path, &st));
  if (!exists) {
    return core::Status::FailedPrecondition(
        fmt::format("{} (--write-key-file) does not exist", path.string()));
  }
  ZENML_TRY_ASSIGN(std::string text, ReadAll(path));
  std::string line = text.substr(0, text.find('\n'));
  const char* space = " \t\r";
  size_t begin = line.find_first_not_of(space);
  size_t end = line.find_last_not_of(space);
  if (begin == std::string::npos) {
    return core::Status::FailedPrecondition(
        fmt::format("{} (--write-key-file) is empty", path.string()));
  }
  return line.substr(begin, end - begin + 1);
}

std::filesystem::path SystemUploadConfigPath(const core::Environment& env) {
  auto v = env.Get("ZENML_SYSTEM_UPLOAD_CONFIG");
  if (v && !v->empty()) return *v;
  return kSystemUploadConfig;
}

std::string_view BuiltInWriteKey() { return ZENML_SEGMENT_WRITE_KEY; }

core::Result<ResolvedUploadConfig> ResolveUploadConfig(
    const UploadConfigFlags& flags, const std::filesystem::path& config_dir,
    const core::Environment& env) {
  ResolvedUploadConfig r;
  r.user_config = UploadConfigPath(config_dir);
  r.system_config = SystemUploadConfigPath(env);
  ZENML_TRY_ASSIGN(r.file, LoadUploadConfig(r.user_config));
  ZENML_TRY_ASSIGN(UploadConfig system,
                   LoadUploadConfig(r.system_config, /*system_wide=*/true));
  r.system_config_unreadable = system.unreadable;

  auto set_key = [&r](std::string key, std::string_view source) {
    if (!r.write_key.empty() || key.empty()) return;
    r.write_key = std::move(key);
    r.write_key_source = source;
  };
  set_key(flags.write_key, "flag");
  if (r.write_key.empty() && !flags.write_key_file.empty()) {
    auto from_file = ReadWriteKeyFile(flags.write_key_file);
    if (!from_file.ok()) {
      return core::Status::FailedPrecondition(from_file.status().message());
    }
    set_key(*from_file, "key_file");
  }
  set_key(env.Get("ZENML_SEGMENT_WRITE_KEY").value_or(""), "env");
  set_key(r.file.write_key.value_or(""), "user_config");
  set_key(system.write_key.value_or(""), "system_config");
  set_key(std::string(BuiltInWriteKey()), "built_in");
  if (r.write_key.empty()) r.write_key_source = "none";

  auto set_endpoint = [&r](std::string url, std::string_view source) {
    if (!r.endpoint.empty() || url.empty()) return;
    r.endpoint = std::move(url);
    r.endpoint_source = source;
  };
  set_endpoint(flags.endpoint, "flag");
  set_endpoint(env.Get("ZENML_ANALYTICS_ENDPOINT").value_or(""), "env");
  set_endpoint(r.file.endpoint.value_or(""), "user_config");
  set_endpoint(system.endpoint.value_or(""), "system_config");
  set_endpoint(std::string(kDefaultEndpoint), "default");
  // The user's file wins key by key; the system's fills what it leaves out.
  if (!r.file.ca_file) r.file.ca_file = system.ca_file;
  if (!r.file.max_time) r.file.max_time = system.max_time;
  return r;
}

std::string MaskWriteKey(std::string_view key) {
  if (key.empty()) return "";
  if (key.size() <= 8) return "…";
  return std::string(key.substr(0, 4)) + "…";
}

}  // namespace zenml::uploader
