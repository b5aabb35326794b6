#include "core/status.h"

#include <gtest/gtest.h>

#include "core/result.h"

namespace zenml::core {
namespace {

TEST(StatusTest, DefaultIsOkAndPrintsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(fmt::format("{}", s), "OK");
}

TEST(StatusTest, ErrorCarriesCodeMessageAndContext) {
  Status s = Status::IoError("disk full").WithContext("appending");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_EQ(s.ToString(), "IO error: appending: disk full");
  EXPECT_TRUE(Status::OK().WithContext("x").ok());
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ZENML_TRY_ASSIGN(int h, Half(x));
  ZENML_TRY_ASSIGN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  ZENML_TRY(Half(x));
  return Status::OK();
}

TEST(ResultTest, TryAssignPropagatesFirstFailure) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "odd");
  EXPECT_EQ(bad.value_or(-1), -1);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace zenml::core
