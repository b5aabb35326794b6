// Bundle: the file format that carries spooled events off an air-gapped
// machine (docs/bundle-format.md is the reference).
//
//   {"zenml_analytics_bundle":1,"created":"2026-11-27T10:00:00.000Z","origin":"..."}
//   {"batch":[<message>,<message>,...]}        one batch body per line
//   ...
//   {"zenml_analytics_bundle_end":{"batches":N,"messages":M,"sha256":"<hex>"}}
//
// Every line is one compact JSON object ended by '\n', so `jq` reads a bundle.
// A body line is the JSON the network would get minus `sentAt` and
// `writeKey`, both of which belong to the moment and the machine that sends;
// the messages in it are byte-for-byte the spooled ones (their messageIds,
// hence Segment's deduplication, survive the trip). The trailer's `sha256`
// covers the body lines, each with its '\n', in order.
//
// Lifecycle of a written bundle: BundleWriter::Create opens a temp file next
// to the target; AddBatch appends body lines; Commit writes the trailer,
// fsyncs, renames onto the target and fsyncs the directory. Only after Commit
// returned OK may a caller delete what the bundle holds. A writer destroyed
// without Commit removes its temp file: no half bundle ever has the target
// name.
//
// Reading is in two passes so that a damaged bundle sends nothing:
// VerifyBundle checks the whole file (header, every body, trailer count and
// checksum), then ReadBundle streams the bodies. Both hold one line in memory
// at a time.
//
// Thread safety: a BundleWriter is thread-compatible; the free functions are
// thread-safe.

#ifndef ZENML_UPLOADER_BUNDLE_H_
#define ZENML_UPLOADER_BUNDLE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/status.h"

namespace zenml::uploader {

using core::Result;
using core::Status;

// The version this code writes and the only one it reads.
inline constexpr int kBundleFormatVersion = 1;

// The longest line a reader accepts. Body lines are cut at the request budget
// (475,000 bytes), so a longer line means a foreign or damaged file; the cap
// keeps a reader from swallowing a huge file without newlines.
inline constexpr size_t kMaxBundleLineBytes = 4u << 20;

// What a bundle holds, from its trailer (after verification) or as written.
struct BundleSummary {
  int version = kBundleFormatVersion;
  std::string created;  // header's creation time, as written
  std::string origin;   // header's origin ("zenml-upload --to-file", ...)
  uint64_t batches = 0;
  uint64_t messages = 0;
  std::string sha256;  // lowercase hex of the body lines
  uint64_t file_bytes = 0;
};

// Writes one bundle. See the class comment of the file for the lifecycle.
class BundleWriter {
 public:
  // Creates `path`'s temp sibling (`<path>.tmp-<pid>`, mode 0600) and writes
  // the header with `created` and `origin`. Fails with IoError naming the
  // path if the file cannot be created, and with FailedPrecondition if
  // `path` already exists (a bundle is never overwritten).
  static Result<std::unique_ptr<BundleWriter>> Create(
      const std::filesystem::path& path, core::WallTime created,
      std::string_view origin);

  ~BundleWriter();  // removes the temp file unless Commit succeeded
  BundleWriter(const BundleWriter&) = delete;
  BundleWriter& operator=(const BundleWriter&) = delete;

  // Appends one body line holding `messages` (each a serialized JSON object,
  // copied byte for byte). An empty span writes nothing. IoError on a failed
  // write; the writer is then unusable (Commit fails).
  Status AddBatch(std::span<const std::string> messages);

  // Writes the trailer, fsyncs the file, renames it onto the target path and
  // fsyncs the directory. After OK the bundle is durable under its name.
  Result<BundleSummary> Commit();

  const std::filesystem::path& path() const { return path_; }

 private:
  BundleWriter(std::filesystem::path path, std::filesystem::path temp_path,
               int fd);
  Status Write(std::string_view bytes);

  struct Hash;  // OpenSSL stays out of this header
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  int fd_ = -1;
  bool committed_ = false;
  Status error_;
  std::unique_ptr<Hash> hash_;
  BundleSummary summary_;
};

// The body line for `messages`, without the trailing '\n':
// `{"batch":[m1,m2,...]}`.
std::string MakeBatchLine(std::span<const std::string> messages);

// Splits a body line written by MakeBatchLine back into the exact bytes of
// its messages. Each message must be a JSON object with a string
// `messageId`. Anything else is Corruption with a reason ("not a batch
// body", "message 3 has no messageId", ...).
Result<std::vector<std::string>> SplitBatchLine(std::string_view line);

// Checks the whole bundle at `path` without acting on it: a header of a known
// version, every line a batch body, a trailer last whose counts and SHA-256
// match. Errors (one line each, naming the path and, where it helps, the
// line number):
//   NotFound / IoError      the file cannot be opened or read;
//   Corruption              foreign file, unknown version, truncated (no
//                           trailer, or a last line without '\n'), a body
//                           that is not a batch, wrong count or checksum,
//                           anything after the trailer.
Result<BundleSummary> VerifyBundle(const std::filesystem::path& path);

// Streams the bodies of the bundle at `path` in order, calling
// `visit(batch_index, messages)` for each (batch_index counts from 0). Stops
// at and returns the first non-OK Status `visit` returns. Checks each line as
// VerifyBundle does, but the checksum only at the end: call VerifyBundle
// first when nothing may happen before the whole file is known good.
Status ReadBundle(
    const std::filesystem::path& path,
    const std::function<Status(uint64_t batch_index,
                               std::vector<std::string> messages)>& visit);

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_BUNDLE_H_
