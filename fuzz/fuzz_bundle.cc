// libFuzzer target: the bundle reader (uploader/bundle.h), which reads a
// file carried in from another machine. Input: the bundle's bytes, written
// to a temporary file. Checks: ReadBundle never hands over more batches
// than VerifyBundle counted when the bundle verifies; SplitBatchLine of each
// line is undone by MakeBatchLine.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "uploader/bundle.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// In memory (/dev/shm) when there is one: the reader wants a path.
std::filesystem::path TempPath() {
  static const std::filesystem::path path =
      (std::filesystem::is_directory("/dev/shm")
           ? std::filesystem::path("/dev/shm")
           : std::filesystem::temp_directory_path()) /
      ("zenml-fuzz-bundle-" + std::to_string(::getpid()));
  static const bool cleanup = [] {
    return std::atexit([] { ::unlink(path.c_str()); }) == 0;
  }();
  (void)cleanup;
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace uploader = zenml::uploader;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Each line on its own, as the reader splits them.
  for (size_t start = 0; start < bytes.size();) {
    size_t eol = bytes.find('\n', start);
    if (eol == std::string_view::npos) eol = bytes.size();
    auto messages = uploader::SplitBatchLine(bytes.substr(start, eol - start));
    if (messages.ok()) {
      auto again = uploader::SplitBatchLine(uploader::MakeBatchLine(*messages));
      Check(again.ok() && *again == *messages);
    }
    start = eol + 1;
  }
  {
    std::ofstream out(TempPath(), std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto summary = uploader::VerifyBundle(TempPath());
  uint64_t batches = 0;
  uint64_t messages = 0;
  zenml::core::Status read = uploader::ReadBundle(
      TempPath(), [&](uint64_t index, std::vector<std::string> batch) {
        Check(index == batches);
        ++batches;
        messages += batch.size();
        return zenml::core::Status::OK();
      });
  if (summary.ok()) {
    Check(read.ok());
    Check(batches == summary->batches);
    Check(messages == summary->messages);
  }
  return 0;
}
