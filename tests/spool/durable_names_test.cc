// Durable names (issue 9): before the first event is acknowledged, every
// directory the spool created is durable in its parent (config dir ->
// analytics -> spool, inbox) and the database directory is synced after
// LevelDB created its files. This test interposes fsync(2): the test binary
// defines it, so calls from the statically linked spool and from LevelDB
// resolve here first; it records which directories were synced and then
// syncs for real. A steady-state Append syncs no directory.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "spool/spool.h"
#include "tests/testing/temp_dir.h"

namespace {

std::mutex g_mu;
std::vector<std::string>* g_synced_dirs = new std::vector<std::string>();

void Record(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) return;
  char buf[4096];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return;
  std::lock_guard<std::mutex> lock(g_mu);
  g_synced_dirs->emplace_back(buf, static_cast<size_t>(n));
}

}  // namespace

extern "C" int fsync(int fd) {
  Record(fd);
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> TakeSyncedDirs() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<std::string> out = std::move(*g_synced_dirs);
  g_synced_dirs->clear();
  return out;
}

bool Contains(const std::vector<std::string>& v, const fs::path& p) {
  const std::string want = fs::canonical(p).string();
  for (const auto& s : v) {
    if (s == want) return true;
  }
  return false;
}

TEST(DurableNamesTest, FirstAppendMakesEveryNewNameDurable) {
  testing::TempDir dir;
  const fs::path config = dir.path() / "config";  // does not exist yet
  SpoolOptions o;
  o.dir = config / "analytics";
  TakeSyncedDirs();
  Spool spool(o);
  ASSERT_TRUE(spool.Append(std::vector<std::string>{"{}"}).ok());
  const auto synced = TakeSyncedDirs();
  EXPECT_TRUE(Contains(synced, dir.path())) << "config/ in its parent";
  EXPECT_TRUE(Contains(synced, config)) << "analytics/ in config/";
  EXPECT_TRUE(Contains(synced, o.dir)) << "spool/ and inbox/ in analytics/";
  EXPECT_TRUE(Contains(synced, o.dir / "spool")) << "CURRENT, the log";

  // Steady state: appends sync the log, never a directory.
  ASSERT_TRUE(spool.Append(std::vector<std::string>{"{}"}).ok());
  const auto again = TakeSyncedDirs();
  EXPECT_TRUE(again.empty()) << again.front();
}

TEST(DurableNamesTest, AnInboxFileIsDurableBeforeAppendToInboxReturns) {
  testing::TempDir dir;
  SpoolOptions o;
  o.dir = dir.path() / "analytics";
  Spool spool(o);
  TakeSyncedDirs();
  ASSERT_TRUE(spool.AppendToInbox(std::vector<std::string>{"{}"}).ok());
  const auto synced = TakeSyncedDirs();
  EXPECT_TRUE(Contains(synced, dir.path())) << "analytics/ in its parent";
  EXPECT_TRUE(Contains(synced, o.dir)) << "inbox/ in analytics/";
  EXPECT_TRUE(Contains(synced, o.dir / "inbox")) << "the renamed file";
}

}  // namespace
}  // namespace zenml::spool
