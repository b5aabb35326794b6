// 10,000 processes that each append one event and exit (the `zenml-analytics
// track` pattern) must not leave one file per process behind: the spool's
// file count stays small. Slow by nature (~10,000 fork+exec+open+sync), so it
// is its own binary with a long ctest TIMEOUT. Sanitizer builds run 1,000
// processes (ZENML_SPOOL_MANY_PROCESSES): an instrumented process starts ~5x
// slower and the point there is memory errors, not the file count.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "spool/spool.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;

size_t FileCount(const fs::path& dir) {
  size_t n = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) ++n;
  }
  return n;
}

TEST(SpoolManyProcessesTest, TenThousandOneEventProcessesLeaveFewFiles) {
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "analytics";
#ifdef ZENML_SPOOL_MANY_PROCESSES
  constexpr int kProcesses = ZENML_SPOOL_MANY_PROCESSES;
#else
  constexpr int kProcesses = 10'000;
#endif
  size_t max_files = 0;
  for (int i = 0; i < kProcesses; ++i) {
    // Built with +=, not `"p" + std::to_string(i)`: GCC 12 at -O3 misreports
    // that form (-Wrestrict, a known false positive).
    std::string id = "p";
    id += std::to_string(i);
    auto r = testing::Run({testing::TestBinPath("spool_helper"), "append",
                           "--dir", dir.string(), "--count", "1", "--id", id});
    ASSERT_EQ(r.exit_code, 0) << "process " << i << ": " << r.err;
    if (i % 500 == 499) max_files = std::max(max_files, FileCount(dir));
  }
  SpoolOptions o;
  o.dir = dir;
  Spool spool(o);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, static_cast<uint64_t>(kProcesses));
  const size_t files = FileCount(dir);
  RecordProperty("spool_files", static_cast<int>(files));
  RecordProperty("spool_files_max", static_cast<int>(max_files));
  std::printf("spool files at the end: %zu, at most seen: %zu\n", files,
              max_files);
  EXPECT_LE(max_files, 24u);
}

}  // namespace
}  // namespace zenml::spool
