#include "core/consent_watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>

#include "core/config_dir.h"
#include "core/consent.h"
#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

class ConsentWatcherTest : public ::testing::Test {
 protected:
  ConsentWatcherTest() { std::filesystem::create_directories(dir()); }
  std::filesystem::path dir() const { return tmp_ / "zenml"; }
  std::filesystem::path file() const { return ConfigFilePath(dir()); }

  // Rewrites config.yaml in place (same inode) and sets its modification
  // time back to `mtime`: a change that neither size, inode nor time shows.
  void RewriteInPlaceKeepingTime(const std::string& text,
                                 const struct timespec& mtime) {
    {
      std::ofstream out(file(), std::ios::in | std::ios::out);
      out << text;
    }
    struct timespec times[2] = {mtime, mtime};
    ASSERT_EQ(::utimensat(AT_FDCWD, file().c_str(), times, 0), 0);
  }

  testing::TempDir tmp_;
  MapEnvironment env_;
  FakeClock clock_;
};

TEST_F(ConsentWatcherTest, AnOptOutThatReplacesTheFileIsSeenAtTheNextCall) {
  ConsentWatcher watcher(dir(), env_, clock_);
  EXPECT_TRUE(watcher.Allowed());  // no file: ZenML's default
  ASSERT_TRUE(SetOptIn(dir(), false).ok());
  EXPECT_FALSE(watcher.Allowed());
  ASSERT_TRUE(SetOptIn(dir(), true).ok());
  EXPECT_TRUE(watcher.Allowed());
}

TEST_F(ConsentWatcherTest, AnUnchangedFileIsNotReadAgainWithinMaxAge) {
  ASSERT_TRUE(SetOptIn(dir(), false).ok());
  ConsentWatcher watcher(dir(), env_, clock_);
  EXPECT_FALSE(watcher.Allowed());
  struct stat st {};
  ASSERT_EQ(::stat(file().c_str(), &st), 0);
  // Same size, same inode, same time: the cached answer stands...
  std::string text = testing::ReadFile(file());
  const auto at = text.find("false");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 5, "true ");
  RewriteInPlaceKeepingTime(text, st.st_mtim);
  ASSERT_TRUE(DecideConsent(dir(), env_).allowed);
  EXPECT_FALSE(watcher.Allowed());
  // ...until kMaxAge has passed.
  clock_.Advance(ConsentWatcher::kMaxAge);
  EXPECT_TRUE(watcher.Allowed());
}

TEST_F(ConsentWatcherTest, TheEnvironmentStillComesFirst) {
  ASSERT_TRUE(SetOptIn(dir(), true).ok());
  env_.Set("DO_NOT_TRACK", "1");
  ConsentWatcher watcher(dir(), env_, clock_);
  EXPECT_FALSE(watcher.Allowed());
}

}  // namespace
}  // namespace zenml::core
