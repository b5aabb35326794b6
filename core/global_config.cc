#include "core/global_config.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/atomic_file.h"
#include "core/config_dir.h"
#include "core/errno_status.h"
#include "core/file_lock.h"
#include "core/global_config_internal.h"
#include "core/uuid.h"
#include "core/yaml_limits.h"

namespace zenml::core {

struct GlobalConfig::Impl {
  YAML::Node root = YAML::Node(YAML::NodeType::Map);
};

namespace {

constexpr char kOptInKey[] = "analytics_opt_in";
constexpr char kUserIdKey[] = "user_id";
constexpr char kMergeKey[] = "<<";

bool IsPlainScalarKey(const YAML::Node& key, std::string_view text) {
  return key.IsScalar() && key.Tag() != "!" && key.Scalar() == text;
}

// PyYAML (ZenML's reader) builds a dict: of keys written twice in one map the
// LAST value wins, at the position of the first. yaml-cpp keeps both pairs
// and its lookups find the first, and a rewrite would keep both. Returns
// `map` with each repeated scalar key once, holding its last value; `map`
// itself when nothing repeats. Keys compare by their text.
YAML::Node LastValueWins(const YAML::Node& map) {
  std::vector<std::pair<YAML::Node, YAML::Node>> pairs;
  std::unordered_map<std::string, size_t> first;  // key text -> index
  bool repeated = false;
  for (const auto& kv : map) {
    // Every `<<` counts (merges are applied in turn), so none is dropped.
    if (kv.first.IsScalar() && !IsPlainScalarKey(kv.first, kMergeKey)) {
      auto [it, fresh] = first.emplace(kv.first.Scalar(), pairs.size());
      if (!fresh) {
        pairs[it->second].second.reset(kv.second);  // rebind, not assign
        repeated = true;
        continue;
      }
    }
    pairs.emplace_back(kv.first, kv.second);
  }
  if (!repeated) return map;
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& [key, value] : pairs) out.force_insert(key, value);
  return out;
}

// The value of `key` in `map` as PyYAML's safe_load sees it: the last pair
// with that key, else through merge keys (`<<: *base` or `<<: [*a, *b]`),
// where a key written in the map beats a merged one, a later `<<` beats an
// earlier one and, in a list, an earlier map beats a later one. Depth is
// bounded by the nesting limit checked at parse.
std::optional<YAML::Node> Lookup(const YAML::Node& map, std::string_view key) {
  std::optional<YAML::Node> found;
  std::vector<YAML::Node> merges;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) continue;
    if (kv.first.Scalar() == key) {
      found.emplace(kv.second);
    } else if (IsPlainScalarKey(kv.first, kMergeKey)) {
      merges.push_back(kv.second);
    }
  }
  if (found) return found;
  for (auto merge = merges.rbegin(); merge != merges.rend(); ++merge) {
    if (merge->IsMap()) {
      if (auto v = Lookup(*merge, key)) return v;
    } else if (merge->IsSequence()) {
      for (const YAML::Node& m : *merge) {
        if (!m.IsMap()) continue;
        if (auto v = Lookup(m, key)) return v;
      }
    }
  }
  return std::nullopt;
}

// `map` with `key` set to `value`: in place of the first pair with that key,
// else at the end. Builds a new map rather than assigning through
// map[key]: in yaml-cpp an aliased value is one node shared with its anchor,
// and assigning to it would change the other places too.
YAML::Node WithKey(const YAML::Node& map, std::string_view key,
                   const YAML::Node& value) {
  YAML::Node out(YAML::NodeType::Map);
  bool set = false;
  for (const auto& kv : map) {
    if (!set && kv.first.IsScalar() && kv.first.Scalar() == key) {
      out.force_insert(kv.first, value);
      set = true;
    } else {
      out.force_insert(kv.first, kv.second);
    }
  }
  if (!set) out.force_insert(std::string(key), value);
  return out;
}

// Emits `node` keeping what yaml-cpp's own emitter would lose: a scalar that
// was quoted in the file (tag "!") stays quoted, so '123' or 'true' keep
// being strings for ZenML's Python, which reads the same file. A scalar
// holding what a file may not (a CR or control character from an escape
// such as "t\rue") is written double-quoted with escapes: yaml-cpp would
// write it raw, even unquoted, and the file would no longer parse (found by
// fuzz_config_yaml).
void Emit(YAML::Emitter& out, const YAML::Node& node) {
  const std::string& tag = node.Tag();
  if (!tag.empty() && tag != "?" && tag != "!") out << YAML::VerbatimTag(tag);
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out << YAML::Null;
      break;
    case YAML::NodeType::Scalar:
      if (FindUnacceptableInYaml(node.Scalar()) != std::string_view::npos) {
        out << YAML::DoubleQuoted << YAML::EscapeNonAscii;
      } else if (tag == "!") {
        out << YAML::DoubleQuoted;
      }
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

// Holds flock(LOCK_EX) on a directory for one read-modify-write
// (core/file_lock.h).
class DirLock {
 public:
  Status Lock(const std::filesystem::path& dir) {
    Result<FileLock> held = FileLock::Lock(dir);
    if (!held.ok()) return held.status();
    lock_.emplace(std::move(held).value());
    return Status::OK();
  }

 private:
  std::optional<FileLock> lock_;
};

// temp + fsync + rename + directory fsync (core/atomic_file.h).
Status AtomicWrite(const std::filesystem::path& path, std::string_view data) {
  return WriteFileAtomically(path, data);
}

// Reads at most kConfigMaxBytes + 1 bytes, enough for Parse to say "too
// large", so a huge file (or /dev/zero behind a symlink) costs no more.
// O_NONBLOCK: opening a FIFO named config.yaml must not wait for a writer.
Result<std::string> ReadConfigFile(const std::filesystem::path& path,
                                   bool* exists) {
  *exists = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    return ErrnoStatus(errno, "read", path);
  }
  *exists = true;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "read", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IoError(fmt::format(
        "cannot read {}: {}", path.string(),
        S_ISDIR(st.st_mode) ? "Is a directory" : "not a regular file"));
  }
  std::string data;
  char buf[8192];
  while (data.size() <= kConfigMaxBytes) {
    const size_t want = std::min(sizeof buf, kConfigMaxBytes + 1 - data.size());
    const ssize_t n = ::read(fd, buf, want);
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
  if (yaml.size() > kConfigMaxBytes) {  // before copying it
    return Status::Corruption(
        fmt::format("{} is larger than {} bytes, too large for a config",
                    source, kConfigMaxBytes));
  }
  try {
    const std::string text(yaml);
    // Limits first, on events only: building the tree of an alias bomb or
    // walking it (lookups, rewrite) is what takes minutes and gigabytes.
    if (std::string over = CheckYamlLimits(text); !over.empty()) {
      return Status::Corruption(
          fmt::format("{} {}, not a config we read", source, over));
    }
    YAML::Node root = YAML::Load(text);
    if (root.IsNull() || !root.IsDefined()) return config;  // empty file
    if (!root.IsMap()) {
      return Status::Corruption(
          fmt::format("{} is not a YAML map of settings", source));
    }
    config.impl_->root = LastValueWins(root);
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
  ZENML_TRY_ASSIGN(std::string text, ReadConfigFile(path, &exists));
  ZENML_TRY_ASSIGN(GlobalConfig config, Parse(text, path.string()));
  config.exists_ = exists;
  return config;
}

Result<std::optional<bool>> GlobalConfig::analytics_opt_in() const {
  try {
    const std::optional<YAML::Node> node = Lookup(impl_->root, kOptInKey);
    if (!node || !node->IsDefined() || node->IsNull()) {
      return std::optional<bool>();
    }
    bool value = false;
    if (node->IsScalar() && YAML::convert<bool>::decode(*node, value)) {
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
  impl_->root.reset(WithKey(impl_->root, kOptInKey, YAML::Node(opt_in)));
}

Result<std::optional<std::string>> GlobalConfig::user_id() const {
  try {
    const std::optional<YAML::Node> node = Lookup(impl_->root, kUserIdKey);
    if (!node || !node->IsDefined() || node->IsNull()) {
      return std::optional<std::string>();
    }
    if (!node->IsScalar()) {
      return Status::Corruption("user_id in config.yaml is not a string");
    }
    return std::optional<std::string>(node->Scalar());
  } catch (const std::exception& e) {
    return Status::Corruption(
        fmt::format("user_id in config.yaml: {}", e.what()));
  }
}

void GlobalConfig::set_user_id(const std::string& user_id) {
  impl_->root.reset(WithKey(impl_->root, kUserIdKey, YAML::Node(user_id)));
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
  // yaml-cpp's emitter cannot write back every construct its parser reads
  // (a tagged flow sequence as a map key loses its "? ", found by
  // fuzz_config_yaml): a rewrite that would not read back to the same
  // answers would break the file for ZenML too, so it is refused and the
  // file kept.
  auto again = Parse(text);
  bool same = again.ok();
  if (same) {
    auto in = analytics_opt_in();
    auto in2 = again->analytics_opt_in();
    auto id = user_id();
    auto id2 = again->user_id();
    same = in.ok() == in2.ok() && (!in.ok() || *in == *in2) &&
           id.ok() == id2.ok() && (!id.ok() || *id == *id2);
  }
  if (!same) {
    return Status::FailedPrecondition(fmt::format(
        "cannot rewrite {} without changing what it says (it uses YAML this "
        "library cannot write back); it was left unchanged",
        ConfigFilePath(config_dir).string()));
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

namespace {

// Renames `file` to `file.bak-<UTC time>` (then -2, -3, ... if taken),
// never over an existing file, and makes a regular backup 0600: it holds
// ZenML's settings, which may name a database URL.
Result<std::filesystem::path> MoveAside(const std::filesystem::path& file) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  struct tm tm;
  ::gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  for (int n = 1; n <= 100; ++n) {
    std::filesystem::path backup = file;
    backup += n == 1 ? fmt::format(".bak-{}", stamp)
                     : fmt::format(".bak-{}-{}", stamp, n);
    int rc = ::renameat2(AT_FDCWD, file.c_str(), AT_FDCWD, backup.c_str(),
                         RENAME_NOREPLACE);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
      // A file system without RENAME_NOREPLACE: check, then rename. Our
      // other writers wait on the directory lock the caller holds.
      std::error_code ec;
      if (std::filesystem::exists(
              std::filesystem::symlink_status(backup, ec))) {
        errno = EEXIST;
      } else {
        rc = ::rename(file.c_str(), backup.c_str());
      }
    }
    if (rc == 0) {
      struct stat st;
      // Best effort: a file we may not chmod (someone else's) keeps the
      // mode it had as config.yaml.
      if (::lstat(backup.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        (void)::chmod(backup.c_str(), 0600);
      }
      return backup;
    }
    if (errno != EEXIST) return ErrnoStatus(errno, "move aside", file);
  }
  return Status::IoError(
      fmt::format("cannot move aside {}: too many backups named {}.bak-{}*",
                  file.string(), file.filename().string(), stamp));
}

}  // namespace

Result<std::optional<std::filesystem::path>> internal::ForceOptOut(
    const std::filesystem::path& config_dir) {
  ZENML_TRY(MakeDirs(config_dir));
  DirLock lock;
  ZENML_TRY(lock.Lock(config_dir));
  Result<GlobalConfig> config = GlobalConfig::Load(config_dir);
  if (config.ok()) {
    config->set_analytics_opt_in(false);
    ZENML_TRY(config->Save(config_dir));
    return std::optional<std::filesystem::path>();
  }
  // As Save does, a symlinked config.yaml stays a link: the file it points
  // to is the one moved aside and replaced.
  std::filesystem::path file = ConfigFilePath(config_dir);
  std::error_code ec;
  if (std::filesystem::is_symlink(file, ec)) {
    std::filesystem::path target = std::filesystem::canonical(file, ec);
    if (!ec) file = target;
  }
  ZENML_TRY_ASSIGN(std::filesystem::path backup, MoveAside(file));
  // Fresh: only the opt-out. No user_id: an opted-out user needs none, and
  // the old one (if any) is in the backup.
  GlobalConfig fresh;
  fresh.set_analytics_opt_in(false);
  ZENML_TRY(AtomicWrite(file, fresh.ToYaml()));
  return std::optional<std::filesystem::path>(std::move(backup));
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
