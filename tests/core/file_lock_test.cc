#include "core/file_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

namespace fs = std::filesystem;

TEST(FileLockTest, ASecondLockerIsToldItIsHeldUntilTheFirstReleases) {
  testing::TempDir dir;
  const fs::path path = dir.path() / "x.lock";
  auto first = FileLock::TryLock(path);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto second = FileLock::TryLock(path);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->has_value());

  first->reset();  // released
  auto third = FileLock::TryLock(path);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->has_value());
}

TEST(FileLockTest, LocksADirectoryAndTheLockDiesWithItsHolder) {
  testing::TempDir dir;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto held = FileLock::Lock(dir.path());
    ::_exit(held.ok() ? 0 : 1);  // exits holding it: the kernel drops it
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto lock = FileLock::Lock(dir.path());  // would hang if it were kept
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_GE(lock->fd(), 0);
  auto other = FileLock::TryLock(dir.path());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

TEST(FileLockTest, MovingKeepsTheLockHeld) {
  testing::TempDir dir;
  const fs::path path = dir.path() / "m.lock";
  auto r = FileLock::Lock(path);
  ASSERT_TRUE(r.ok());
  FileLock moved = std::move(*r);
  EXPECT_FALSE(FileLock::TryLock(path)->has_value());
  { FileLock sink = std::move(moved); }
  EXPECT_TRUE(FileLock::TryLock(path)->has_value());
}

TEST(FileLockTest, ReleasingDropsTheLockEvenIfAForkedChildHasTheDescriptor) {
  // A host that forks (another thread, multiprocessing) while a lock is
  // held gives the child the descriptor; close-on-exec does not help before
  // an exec. Closing ours alone would leave the lock held by the child for
  // as long as it lives, and every FileLock::Lock() would wait for it.
  testing::TempDir dir;
  const fs::path path = dir.path() / "f.lock";
  auto held = FileLock::TryLock(path);
  ASSERT_TRUE(held.ok() && held->has_value());
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[1]);
    char c;
    (void)::read(pipe_fds[0], &c, 1);  // until the parent is done
    ::_exit(0);
  }
  ::close(pipe_fds[0]);
  held->reset();  // released while the child still has the descriptor
  auto again = FileLock::TryLock(path);
  ::close(pipe_fds[1]);  // lets the child exit
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->has_value());
}

TEST(FileLockTest, ASymlinkOrMissingDirectoryIsAnError) {
  testing::TempDir dir;
  fs::create_symlink(dir.path() / "target", dir.path() / "link");
  auto link = FileLock::TryLock(dir.path() / "link");
  EXPECT_FALSE(link.ok());
  auto missing = FileLock::TryLock(dir.path() / "no" / "x.lock");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kIoError);
  EXPECT_NE(missing.status().message().find("x.lock"), std::string::npos);
}

}  // namespace
}  // namespace zenml::core
