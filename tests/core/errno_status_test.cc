#include "core/errno_status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace zenml::core {
namespace {

TEST(ErrnoStatusTest, NamesTheStepThePathAndTheReason) {
  Status s = ErrnoStatus(ENOENT, "open", "/x/y");
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_EQ(s.message(), "cannot open /x/y: No such file or directory");
}

TEST(ErrnoStatusTest, AccessErrorsArePermissionDenied) {
  EXPECT_EQ(ErrnoStatus(EACCES, "read", "a").code(),
            Status::Code::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(EPERM, "chmod", "a").code(),
            Status::Code::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(ENOSPC, "write", "a").code(), Status::Code::kIoError);
}

}  // namespace
}  // namespace zenml::core
