#include "uploader/file_transport.h"

#include <string_view>
#include <vector>

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

}  // namespace

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
