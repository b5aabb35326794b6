#include "uploader/file_transport.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "core/atomic_file.h"
#include "uploader/upload_lock.h"

namespace zenml::uploader {
namespace {

// How much one Peek reads: small enough that the spool is held only briefly
// and memory stays flat, large enough that a million events take few opens.
constexpr size_t kPeekBytes = 1u << 20;
constexpr size_t kPeekCount = 1000;

// The bytes `{"batch":[` + messages joined by ',' + `]}` take.
size_t LineBytes(size_t count, size_t message_bytes) {
  return 12 + message_bytes + (count > 0 ? count - 1 : 0);
}

// The bundle's checksum as recorded by a completed import, or "".
std::string ReadMarker(const std::filesystem::path& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[128];
  size_t n = std::fread(buf, 1, sizeof(buf), f);
  std::fclose(f);
  out.assign(buf, n);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

// Writes `content` and a newline to `path` durably (core/atomic_file.h).
Status WriteMarker(const std::filesystem::path& path,
                   std::string_view content) {
  std::string text(content);
  text += '\n';
  return core::WriteFileAtomically(path, text);
}

}  // namespace

std::filesystem::path BundleProgressDir(const std::filesystem::path& bundle) {
  std::filesystem::path dir = bundle;
  dir += ".progress";
  return dir;
}

Result<FromFileResult> SendBundle(const std::filesystem::path& bundle,
                                  Transport& transport,
                                  const core::Clock& clock,
                                  UploaderOptions options) {
  FromFileResult result;
  // Verify everything before anything is sent or even imported.
  ZENML_TRY_ASSIGN(result.bundle, VerifyBundle(bundle));

  result.progress_dir = BundleProgressDir(bundle);
  const std::filesystem::path analytics = result.progress_dir / "analytics";
  const std::filesystem::path marker = result.progress_dir / "imported";
  std::error_code ec;
  std::filesystem::create_directories(analytics, ec);
  if (ec) {
    return Status::IoError(
        fmt::format("{}: {}", analytics.string(), ec.message()));
  }
  std::filesystem::permissions(result.progress_dir,
                               std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  ZENML_TRY_ASSIGN(std::optional<UploadLock> lock,
                   UploadLock::TryAcquire(analytics));
  if (!lock) {
    return Status::Busy(fmt::format(
        "{}: another process is sending this bundle", bundle.string()));
  }

  spool::SpoolOptions spool_options;
  spool_options.dir = analytics;
  // A bundle's events are kept until delivered, however many and however
  // old: the bounds guard a user's machine, not a bundle being sent.
  const spool::SpoolLimits unbounded = spool::SpoolLimits::Unbounded();
  spool_options.max_events = unbounded.max_events;
  spool_options.max_bytes = unbounded.max_bytes;
  spool_options.max_age = unbounded.max_age;
  spool_options.clock = &clock;
  spool::Spool progress(spool_options);

  if (ReadMarker(marker) != result.bundle.sha256) {
    // First run, an import cut short, or another bundle of the same name.
    std::filesystem::remove(marker, ec);
    ZENML_TRY(progress.Purge().status());
    Status s = ReadBundle(bundle, [&](uint64_t, std::vector<std::string> m) {
      return progress.Append(m).status();
    });
    if (!s.ok()) return s;
    ZENML_TRY(WriteMarker(marker, result.bundle.sha256));
    result.imported = true;
  }

  Uploader uploader(progress, transport, clock, std::move(options));
  ZENML_TRY_ASSIGN(result.upload, uploader.Run());
  return result;
}

Result<ToFileResult> WriteSpoolToBundle(spool::Spool& spool,
                                        const std::filesystem::path& bundle,
                                        const ToFileOptions& options) {
  ZENML_TRY_ASSIGN(
      auto writer,
      BundleWriter::Create(bundle, options.clock->Now(), options.origin));

  // Pass 1: copy, cutting lines at the budget.
  std::vector<std::string> line;
  size_t line_bytes = 0;
  std::string after;
  std::string last_written;
  for (;;) {
    ZENML_TRY_ASSIGN(std::vector<spool::Entry> chunk,
                     spool.Peek(after, kPeekBytes, kPeekCount));
    if (chunk.empty()) break;
    for (auto& entry : chunk) {
      if (!line.empty() &&
          (line.size() + 1 > options.max_line_messages ||
           LineBytes(line.size() + 1, line_bytes + entry.json.size()) >
               options.max_line_bytes)) {
        ZENML_TRY(writer->AddBatch(line));
        line.clear();
        line_bytes = 0;
      }
      line_bytes += entry.json.size();
      line.push_back(std::move(entry.json));
      last_written = entry.key;
    }
    after = chunk.back().key;
  }
  ZENML_TRY(writer->AddBatch(line));
  line.clear();

  ToFileResult result;
  ZENML_TRY_ASSIGN(result.summary, writer->Commit());
  if (!options.drain || last_written.empty()) return result;

  // Pass 2: the bundle is durable; acknowledge exactly what it holds (every
  // key up to the last one written; later keys were appended meanwhile).
  after.clear();
  for (;;) {
    ZENML_TRY_ASSIGN(std::vector<spool::Entry> chunk,
                     spool.Peek(after, kPeekBytes, kPeekCount));
    std::vector<std::string> keys;
    bool done = chunk.empty();
    for (auto& entry : chunk) {
      if (entry.key > last_written) {
        done = true;
        break;
      }
      keys.push_back(std::move(entry.key));
    }
    if (!keys.empty()) {
      ZENML_TRY(spool.Ack(keys));
      result.acknowledged += keys.size();
      after = keys.back();
    }
    if (done || keys.empty()) break;
  }
  return result;
}

}  // namespace zenml::uploader
