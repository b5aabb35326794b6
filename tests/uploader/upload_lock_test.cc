#include "uploader/upload_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/testing/temp_dir.h"

namespace zenml::uploader {
namespace {

TEST(UploadLockTest, SecondHolderIsRefusedUntilTheFirstReleases) {
  testing::TempDir dir;
  auto first = UploadLock::TryAcquire(dir / "analytics");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->has_value());
  // flock belongs to the open file description: a second open conflicts
  // even inside one process, exactly as another process would.
  auto second = UploadLock::TryAcquire(dir / "analytics");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
  first->reset();
  auto third = UploadLock::TryAcquire(dir / "analytics");
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->has_value());
}

TEST(UploadLockTest, CreatesThePrivateDirectoryAndFile) {
  testing::TempDir dir;
  auto lock = UploadLock::TryAcquire(dir / "a" / "analytics");
  ASSERT_TRUE(lock.ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "a" / "analytics").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir / "a" / "analytics" / "upload.lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(UploadLockTest, MovedLockStaysHeld) {
  testing::TempDir dir;
  auto a = UploadLock::TryAcquire(dir.path());
  ASSERT_TRUE(a.ok() && a->has_value());
  UploadLock moved = std::move(**a);
  a->reset();  // destroying the moved-from lock must not release it
  auto b = UploadLock::TryAcquire(dir.path());
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->has_value());
}

TEST(UploadLockTest, DirectoryThatCannotBeCreatedIsAnError) {
  testing::TempDir dir;
  testing::WriteFile(dir / "file", "not a directory");
  auto lock = UploadLock::TryAcquire(dir / "file" / "analytics");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), core::Status::Code::kIoError);
}

}  // namespace
}  // namespace zenml::uploader
