#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/dir_sync.h"
#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AtomicFileTest, WritesAndReplacesLeavingNoTemporaryFile) {
  testing::TempDir dir;
  const fs::path path = dir.path() / "state";
  ASSERT_TRUE(WriteFileAtomically(path, "one").ok());
  EXPECT_EQ(Read(path), "one");
  ASSERT_TRUE(WriteFileAtomically(path, std::string("two\0x", 5)).ok());
  EXPECT_EQ(Read(path), std::string("two\0x", 5));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
}

TEST(AtomicFileTest, SetsTheRequestedModeWhateverTheUmask) {
  testing::TempDir dir;
  const mode_t old = ::umask(0077);
  Status s = WriteFileAtomically(dir.path() / "a", "x", 0644);
  ::umask(old);
  ASSERT_TRUE(s.ok()) << s.ToString();
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "b", "x").ok());
  ASSERT_EQ(::stat((dir.path() / "b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AtomicFileTest, AMissingDirectoryIsAnIoErrorNamingThePath) {
  testing::TempDir dir;
  Status s = WriteFileAtomically(dir.path() / "no" / "such", "x");
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("no"), std::string::npos) << s.ToString();
}

TEST(AtomicFileTest, AFailedRenameKeepsTheOldContentAndNoTemporaryFile) {
  testing::TempDir dir;
  // A non-empty directory where the file should go: rename(2) refuses.
  fs::create_directories(dir.path() / "target" / "inside");
  Status s = WriteFileAtomically(dir.path() / "target", "x");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(fs::is_directory(dir.path() / "target"));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
}

TEST(DirSyncTest, SyncsAnExistingDirectoryAndReportsAMissingOne) {
  testing::TempDir dir;
  EXPECT_TRUE(SyncDirectory(dir.path()).ok());
  EXPECT_TRUE(SyncDirectory("").ok());  // the current directory
  Status s = SyncDirectory(dir.path() / "missing");
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace zenml::core
