#include "core/global_config.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "core/config_dir.h"
#include "core/global_config_internal.h"
#include "core/uuid.h"

namespace zenml::core {

struct GlobalConfig::Impl {
  YAML::Node root = YAML::Node(YAML::NodeType::Map);
};

namespace {

constexpr char kOptInKey[] = "analytics_opt_in";
constexpr char kUserIdKey[] = "user_id";

Status ErrnoStatus(int err, std::string_view what,
                   const std::filesystem::path& path) {
  std::string msg =
      fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err));
  if (err == EACCES || err == EPERM) {
    return Status::PermissionDenied(std::move(msg));
  }
  return Status::IoError(std::move(msg));
}

// Emits `node` keeping what yaml-cpp's own emitter would lose: a scalar that
// was quoted in the file (tag "!") stays quoted, so '123' or 'true' keep
// being strings for ZenML's Python, which reads the same file.
void Emit(YAML::Emitter& out, const YAML::Node& node) {
  const std::string& tag = node.Tag();
  if (!tag.empty() && tag != "?" && tag != "!") out << YAML::VerbatimTag(tag);
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out << YAML::Null;
      break;
    case YAML::NodeType::Scalar:
      if (tag == "!") out << YAML::DoubleQuoted;
      out << node.Scalar();
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const YAML::Node& child : node) Emit(out, child);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& kv : node) {
        out << YAML::Key;
        Emit(out, kv.first);
        out << YAML::Value;
        Emit(out, kv.second);
      }
      out << YAML::EndMap;
      break;
  }
}

// Makes `dir` and any missing parents with mode 0700. Existing directories
// keep their mode: they may be ZenML's, and are not ours to change.
Status MakeDirs(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Status::OK();
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    ZENML_TRY(MakeDirs(dir.parent_path()));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create directory", dir);
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::IoError(
        fmt::format("{} exists but is not a directory", dir.string()));
  }
  return Status::OK();
}

// Holds flock(LOCK_EX) on a directory for one read-modify-write.
class DirLock {
 public:
  DirLock() = default;
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  Status Lock(const std::filesystem::path& dir) {
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return ErrnoStatus(errno, "open", dir);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) return ErrnoStatus(errno, "lock", dir);
    }
    return Status::OK();
  }

 private:
  int fd_ = -1;
};

Status WriteAll(int fd, std::string_view data,
                const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status FsyncDir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync", dir);
  return Status::OK();
}

Status AtomicWrite(const std::filesystem::path& path, std::string_view data) {
  const std::filesystem::path dir = path.parent_path();
  const std::filesystem::path tmp =
      dir / fmt::format(".{}.tmp-{}-{}", path.filename().string(), ::getpid(),
                        NewUuid4().substr(0, 8));
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "create", tmp);
  Status s = WriteAll(fd, data, tmp);
  if (s.ok() && ::fchmod(fd, 0600) != 0) s = ErrnoStatus(errno, "chmod", tmp);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus(errno, "fsync", tmp);
  if (::close(fd) != 0 && s.ok()) s = ErrnoStatus(errno, "close", tmp);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = ErrnoStatus(errno, "rename into place", path);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return FsyncDir(dir);
}

Result<std::string> ReadWholeFile(const std::filesystem::path& path,
                                  bool* exists) {
  *exists = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    return ErrnoStatus(errno, "read", path);
  }
  *exists = true;
  std::string data;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "read", path);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

}  // namespace

GlobalConfig::GlobalConfig() : impl_(std::make_unique<Impl>()) {}
GlobalConfig::~GlobalConfig() = default;
GlobalConfig::GlobalConfig(const GlobalConfig& other)
    : impl_(std::make_unique<Impl>()), exists_(other.exists_) {
  impl_->root = YAML::Clone(other.impl_->root);
}
GlobalConfig& GlobalConfig::operator=(const GlobalConfig& other) {
  if (this != &other) {
    impl_->root = YAML::Clone(other.impl_->root);
    exists_ = other.exists_;
  }
  return *this;
}
GlobalConfig::GlobalConfig(GlobalConfig&&) noexcept = default;
GlobalConfig& GlobalConfig::operator=(GlobalConfig&&) noexcept = default;

Result<GlobalConfig> GlobalConfig::Parse(std::string_view yaml,
                                         std::string_view source) {
  GlobalConfig config;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (root.IsNull() || !root.IsDefined()) return config;  // empty file
    if (!root.IsMap()) {
      return Status::Corruption(
          fmt::format("{} is not a YAML map of settings", source));
    }
    config.impl_->root = root;
  } catch (const YAML::Exception& e) {
    return Status::Corruption(fmt::format("{} is not valid YAML (line {}: {})",
                                          source, e.mark.line + 1, e.msg));
  } catch (const std::exception& e) {
    return Status::Corruption(
        fmt::format("{} cannot be parsed: {}", source, e.what()));
  }
  return config;
}

Result<GlobalConfig> GlobalConfig::Load(
    const std::filesystem::path& config_dir) {
  const std::filesystem::path path = ConfigFilePath(config_dir);
  bool exists = false;
  ZENML_TRY_ASSIGN(std::string text, ReadWholeFile(path, &exists));
  ZENML_TRY_ASSIGN(GlobalConfig config, Parse(text, path.string()));
  config.exists_ = exists;
  return config;
}

Result<std::optional<bool>> GlobalConfig::analytics_opt_in() const {
  try {
    const YAML::Node& root = impl_->root;
    const YAML::Node node = root[kOptInKey];
    if (!node.IsDefined() || node.IsNull()) return std::optional<bool>();
    bool value = false;
    if (node.IsScalar() && YAML::convert<bool>::decode(node, value)) {
      return std::optional<bool>(value);
    }
    return Status::Corruption(
        fmt::format("analytics_opt_in in config.yaml is not true or false"));
  } catch (const std::exception& e) {
    return Status::Corruption(
        fmt::format("analytics_opt_in in config.yaml: {}", e.what()));
  }
}

void GlobalConfig::set_analytics_opt_in(bool opt_in) {
  impl_->root[kOptInKey] = opt_in;
}

Result<std::optional<std::string>> GlobalConfig::user_id() const {
  try {
    const YAML::Node& root = impl_->root;
    const YAML::Node node = root[kUserIdKey];
    if (!node.IsDefined() || node.IsNull()) {
      return std::optional<std::string>();
    }
    if (!node.IsScalar()) {
      return Status::Corruption("user_id in config.yaml is not a string");
    }
    return std::optional<std::string>(node.Scalar());
  } catch (const std::exception& e) {
    return Status::Corruption(
        fmt::format("user_id in config.yaml: {}", e.what()));
  }
}

void GlobalConfig::set_user_id(const std::string& user_id) {
  impl_->root[kUserIdKey] = user_id;
}

std::string GlobalConfig::ToYaml() const {
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  Emit(out, impl_->root);
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  return text;
}

Status GlobalConfig::Save(const std::filesystem::path& config_dir) const {
  ZENML_TRY(MakeDirs(config_dir));
  std::string text;
  try {
    text = ToYaml();
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("cannot write YAML: {}", e.what()));
  }
  // A config.yaml that is a symlink (dotfile managers do this) stays one:
  // the file it points to is replaced, not the link.
  std::filesystem::path path = ConfigFilePath(config_dir);
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec)) {
    std::filesystem::path target = std::filesystem::canonical(path, ec);
    if (!ec) path = target;
  }
  return AtomicWrite(path, text);
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                 (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

namespace {

Result<std::optional<std::string>> ValidId(const GlobalConfig& config,
                                           const std::filesystem::path& dir) {
  ZENML_TRY_ASSIGN(std::optional<std::string> id, config.user_id());
  if (id && !IsUuid(*id)) {
    return Status::Corruption(
        fmt::format("user_id in {} is not a UUID; fix or remove it",
                    ConfigFilePath(dir).string()));
  }
  return id;
}

}  // namespace

Result<std::optional<std::string>> ReadAnonymousId(
    const std::filesystem::path& config_dir) {
  ZENML_TRY_ASSIGN(GlobalConfig config, GlobalConfig::Load(config_dir));
  return ValidId(config, config_dir);
}

Result<std::string> EnsureAnonymousId(const std::filesystem::path& config_dir) {
  // Fast path, no lock and no write: the id is usually there.
  {
    ZENML_TRY_ASSIGN(std::optional<std::string> id,
                     ReadAnonymousId(config_dir));
    if (id) return *id;
  }
  ZENML_TRY(MakeDirs(config_dir));
  DirLock lock;
  ZENML_TRY(lock.Lock(config_dir));
  // Re-read under the lock: another process may have just written one.
  ZENML_TRY_ASSIGN(GlobalConfig config, GlobalConfig::Load(config_dir));
  ZENML_TRY_ASSIGN(std::optional<std::string> id, ValidId(config, config_dir));
  if (id) return *id;
  std::string fresh = NewUuid4();
  config.set_user_id(fresh);
  ZENML_TRY(config.Save(config_dir));
  return fresh;
}

namespace internal {

Status UpdateOptIn(const std::filesystem::path& config_dir, bool opt_in) {
  ZENML_TRY(MakeDirs(config_dir));
  DirLock lock;
  ZENML_TRY(lock.Lock(config_dir));
  ZENML_TRY_ASSIGN(GlobalConfig config, GlobalConfig::Load(config_dir));
  config.set_analytics_opt_in(opt_in);
  return config.Save(config_dir);
}

}  // namespace internal

}  // namespace zenml::core
