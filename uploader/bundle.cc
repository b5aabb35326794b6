#include "uploader/bundle.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "core/dir_sync.h"
#include "core/json_writer.h"
#include "core/timestamp.h"

namespace zenml::uploader {
namespace {

constexpr std::string_view kHeaderKey = "zenml_analytics_bundle";
constexpr std::string_view kTrailerPrefix = "{\"zenml_analytics_bundle_end\":";
constexpr std::string_view kBatchPrefix = "{\"batch\":[";
constexpr std::string_view kBatchSuffix = "]}";

std::string Errno(int err) { return std::strerror(err); }

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

// SHA-256 through OpenSSL's EVP interface (the low-level SHA256_* calls are
// deprecated in OpenSSL 3).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ != nullptr) EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes) {
    if (ctx_ != nullptr) EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
  }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (ctx_ == nullptr || EVP_DigestFinal_ex(ctx_, digest, &len) != 1) {
      return "";
    }
    return Hex(digest, len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Reads '\n'-terminated lines with a length cap. `Next` returns nullopt at a
// clean end of file; a last line without '\n' is reported as truncated.
class LineReader {
 public:
  explicit LineReader(FILE* file) : file_(file) {}

  // OK and a line (without '\n'), OK and nullopt at EOF, or an error.
  Status Next(std::optional<std::string>& line) {
    line.reset();
    std::string out;
    for (;;) {
      int c = getc_unlocked(file_);
      if (c == EOF) {
        if (std::ferror(file_)) return Status::IoError(Errno(errno));
        if (out.empty()) return Status::OK();
        return Status::Corruption("truncated: the last line has no newline");
      }
      if (c == '\n') break;
      out.push_back(static_cast<char>(c));
      if (out.size() > kMaxBundleLineBytes) {
        return Status::Corruption(
            "a line is longer than any bundle line can be");
      }
    }
    ++line_number_;
    line = std::move(out);
    return Status::OK();
  }
  uint64_t line_number() const { return line_number_; }

 private:
  FILE* file_;
  uint64_t line_number_ = 0;
};

// Finds the end of the JSON object starting at `pos` (which holds '{'),
// honouring strings and escapes. Returns the index one past its '}', or
// npos when the object does not close.
size_t ObjectEnd(std::string_view s, size_t pos) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

Status CheckMessage(std::string_view message, size_t index) {
  rapidjson::Document doc;
  doc.Parse(message.data(), message.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::Corruption(
        fmt::format("message {} of the batch is not a JSON object", index + 1));
  }
  auto id = std::as_const(doc).FindMember("messageId");
  if (id == std::as_const(doc).MemberEnd() || !id->value.IsString() ||
      id->value.GetStringLength() == 0) {
    return Status::Corruption(
        fmt::format("message {} of the batch has no messageId", index + 1));
  }
  return Status::OK();
}

struct Header {
  int version = 0;
  std::string created;
  std::string origin;
};

Result<Header> ParseHeader(std::string_view line) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::Corruption("not a zenml analytics bundle");
  }
  auto version = std::as_const(doc).FindMember(
      rapidjson::StringRef(kHeaderKey.data(), kHeaderKey.size()));
  if (version == std::as_const(doc).MemberEnd()) {
    return Status::Corruption("not a zenml analytics bundle");
  }
  if (!version->value.IsInt()) {
    return Status::Corruption("the bundle header's version is not a number");
  }
  Header header;
  header.version = version->value.GetInt();
  if (header.version != kBundleFormatVersion) {
    return Status::Corruption(
        fmt::format("bundle format version {} is not supported (this tool "
                    "reads version {})",
                    header.version, kBundleFormatVersion));
  }
  if (auto it = std::as_const(doc).FindMember("created");
      it != std::as_const(doc).MemberEnd() && it->value.IsString()) {
    header.created = it->value.GetString();
  }
  if (auto it = std::as_const(doc).FindMember("origin");
      it != std::as_const(doc).MemberEnd() && it->value.IsString()) {
    header.origin = it->value.GetString();
  }
  return header;
}

struct Trailer {
  uint64_t batches = 0;
  uint64_t messages = 0;
  std::string sha256;
};

Result<Trailer> ParseTrailer(std::string_view line) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  const char* kBad = "the bundle trailer is malformed";
  if (doc.HasParseError() || !doc.IsObject()) return Status::Corruption(kBad);
  auto end = std::as_const(doc).FindMember("zenml_analytics_bundle_end");
  if (end == std::as_const(doc).MemberEnd() || !end->value.IsObject()) {
    return Status::Corruption(kBad);
  }
  const auto& o = end->value;
  auto batches = o.FindMember("batches");
  auto messages = o.FindMember("messages");
  auto sha = o.FindMember("sha256");
  if (batches == o.MemberEnd() || !batches->value.IsUint64() ||
      messages == o.MemberEnd() || !messages->value.IsUint64() ||
      sha == o.MemberEnd() || !sha->value.IsString()) {
    return Status::Corruption(kBad);
  }
  return Trailer{batches->value.GetUint64(), messages->value.GetUint64(),
                 sha->value.GetString()};
}

// The one reading loop behind VerifyBundle and ReadBundle. `visit` may be
// empty (verification only).
Result<BundleSummary> Scan(
    const std::filesystem::path& path,
    const std::function<Status(uint64_t, std::vector<std::string>)>* visit) {
  const std::string name = path.string();
  FILE* file = std::fopen(name.c_str(), "rb");
  if (file == nullptr) {
    int err = errno;
    if (err == ENOENT) {
      return Status::NotFound(fmt::format("{}: no such bundle", name));
    }
    return Status::IoError(fmt::format("{}: {}", name, Errno(err)));
  }
  struct Closer {
    FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{file};

  auto fail = [&](uint64_t line, const Status& s) -> Status {
    if (line == 0)
      return Status(s.code(), fmt::format("{}: {}", name, s.message()));
    return Status(s.code(),
                  fmt::format("{}: line {}: {}", name, line, s.message()));
  };

  LineReader reader(file);
  std::optional<std::string> line;
  Status s = reader.Next(line);
  if (!s.ok()) return fail(0, s);
  if (!line) return fail(0, Status::Corruption("empty file, not a bundle"));
  auto header = ParseHeader(*line);
  if (!header.ok()) return fail(0, header.status());

  BundleSummary summary;
  summary.version = header->version;
  summary.created = header->created;
  summary.origin = header->origin;
  Sha256 hash;
  std::optional<Trailer> trailer;
  for (;;) {
    s = reader.Next(line);
    if (!s.ok()) return fail(reader.line_number() + 1, s);
    if (!line) break;
    if (trailer) {
      return fail(reader.line_number(),
                  Status::Corruption("data after the trailer"));
    }
    if (line->starts_with(kTrailerPrefix)) {
      auto t = ParseTrailer(*line);
      if (!t.ok()) return fail(reader.line_number(), t.status());
      trailer = *t;
      continue;
    }
    auto messages = SplitBatchLine(*line);
    if (!messages.ok()) return fail(reader.line_number(), messages.status());
    hash.Update(*line);
    hash.Update("\n");
    summary.messages += messages->size();
    if (visit != nullptr) {
      Status v = (*visit)(summary.batches, std::move(*messages));
      if (!v.ok()) return v;
    }
    ++summary.batches;
  }
  if (!trailer) {
    return fail(0, Status::Corruption("truncated: the trailer is missing"));
  }
  summary.sha256 = hash.HexDigest();
  if (trailer->batches != summary.batches ||
      trailer->messages != summary.messages) {
    return fail(0, Status::Corruption(fmt::format(
                       "the trailer counts {} batches and {} messages, the "
                       "file holds {} and {}",
                       trailer->batches, trailer->messages, summary.batches,
                       summary.messages)));
  }
  if (trailer->sha256 != summary.sha256) {
    return fail(0, Status::Corruption(
                       "checksum mismatch: the body lines do not match the "
                       "trailer's SHA-256"));
  }
  struct stat st {};
  if (::fstat(fileno(file), &st) == 0) {
    summary.file_bytes = static_cast<uint64_t>(st.st_size);
  }
  return summary;
}

}  // namespace

struct BundleWriter::Hash {
  Sha256 sha;
};

std::string MakeBatchLine(std::span<const std::string> messages) {
  size_t size = kBatchPrefix.size() + kBatchSuffix.size() + messages.size();
  for (const auto& m : messages) size += m.size();
  std::string line;
  line.reserve(size);
  line.append(kBatchPrefix);
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i > 0) line.push_back(',');
    line.append(messages[i]);
  }
  line.append(kBatchSuffix);
  return line;
}

Result<std::vector<std::string>> SplitBatchLine(std::string_view line) {
  if (!line.starts_with(kBatchPrefix) || !line.ends_with(kBatchSuffix)) {
    return Status::Corruption("not a batch body");
  }
  std::vector<std::string> messages;
  size_t pos = kBatchPrefix.size();
  const size_t end = line.size() - kBatchSuffix.size();
  if (pos == end) return Status::Corruption("an empty batch body");
  for (;;) {
    if (pos >= end || line[pos] != '{') {
      return Status::Corruption(
          "not a batch body (a message is not an object)");
    }
    size_t stop = ObjectEnd(line, pos);
    if (stop == std::string_view::npos || stop > end) {
      return Status::Corruption("not a batch body (a message does not close)");
    }
    std::string_view message = line.substr(pos, stop - pos);
    Status s = CheckMessage(message, messages.size());
    if (!s.ok()) return s;
    messages.emplace_back(message);
    pos = stop;
    if (pos == end) break;
    if (line[pos] != ',') {
      return Status::Corruption("not a batch body (junk between messages)");
    }
    ++pos;
  }
  return messages;
}

BundleWriter::BundleWriter(std::filesystem::path path,
                           std::filesystem::path temp_path, int fd)
    : path_(std::move(path)),
      temp_path_(std::move(temp_path)),
      fd_(fd),
      hash_(std::make_unique<Hash>()) {}

BundleWriter::~BundleWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

Result<std::unique_ptr<BundleWriter>> BundleWriter::Create(
    const std::filesystem::path& path, core::WallTime created,
    std::string_view origin) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    return Status::FailedPrecondition(fmt::format(
        "{}: already exists; a bundle is never overwritten", path.string()));
  }
  std::filesystem::path temp = path;
  temp += fmt::format(".tmp-{}", ::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IoError(fmt::format("{}: {}", temp.string(), Errno(errno)));
  }
  std::unique_ptr<BundleWriter> writer(new BundleWriter(path, temp, fd));
  writer->summary_.created = core::FormatTimestamp(created);
  writer->summary_.origin = std::string(origin);
  std::string header = fmt::format(
      "{{\"{}\":{},\"created\":{},\"origin\":{}}}\n", kHeaderKey,
      kBundleFormatVersion, core::JsonString(writer->summary_.created),
      core::JsonString(origin));
  Status s = writer->Write(header);
  if (!s.ok()) return s;
  return writer;
}

Status BundleWriter::Write(std::string_view bytes) {
  if (!error_.ok()) return error_;
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = Status::IoError(
          fmt::format("{}: write: {}", temp_path_.string(), Errno(errno)));
      return error_;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    summary_.file_bytes += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

Status BundleWriter::AddBatch(std::span<const std::string> messages) {
  if (committed_) return Status::Internal("AddBatch after Commit");
  if (messages.empty()) return Status::OK();
  std::string line = MakeBatchLine(messages);
  line.push_back('\n');
  Status s = Write(line);
  if (!s.ok()) return s;
  hash_->sha.Update(line);
  summary_.batches += 1;
  summary_.messages += messages.size();
  return Status::OK();
}

Result<BundleSummary> BundleWriter::Commit() {
  if (committed_) return Status::Internal("Commit twice");
  summary_.sha256 = hash_->sha.HexDigest();
  Status s = Write(fmt::format(
      "{}{{\"batches\":{},\"messages\":{},\"sha256\":\"{}\"}}}}\n",
      kTrailerPrefix, summary_.batches, summary_.messages, summary_.sha256));
  if (!s.ok()) return s;
  if (::fsync(fd_) != 0) {
    return Status::IoError(
        fmt::format("fsync {}: {}", temp_path_.string(), Errno(errno)));
  }
  ::close(fd_);
  fd_ = -1;
  // link(2), unlike rename(2), fails if the target appeared meanwhile: a
  // bundle is never overwritten, even by a race.
  if (::link(temp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    if (err == EEXIST) {
      return Status::FailedPrecondition(fmt::format(
          "{}: already exists; a bundle is never overwritten", path_.string()));
    }
    return Status::IoError(fmt::format("{}: {}", path_.string(), Errno(err)));
  }
  committed_ = true;
  ::unlink(temp_path_.c_str());
  s = core::SyncDirectory(path_.parent_path());
  if (!s.ok()) return s;
  return summary_;
}

Result<BundleSummary> VerifyBundle(const std::filesystem::path& path) {
  return Scan(path, nullptr);
}

Status ReadBundle(
    const std::filesystem::path& path,
    const std::function<Status(uint64_t batch_index,
                               std::vector<std::string> messages)>& visit) {
  return Scan(path, &visit).status();
}

}  // namespace zenml::uploader
