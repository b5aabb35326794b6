#include "uploader/response_policy.h"

#include <gtest/gtest.h>

namespace zenml::uploader {
namespace {

using std::chrono::seconds;

const core::WallTime kNow =
    core::WallTime(std::chrono::seconds(1'767'225'600));  // 2026-01-01

core::Result<HttpResponse> Answer(int status, std::string body = "",
                                  std::string retry_after = "") {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  if (!retry_after.empty()) r.headers.emplace_back("retry-after", retry_after);
  return r;
}

struct Row {
  int status;
  size_t count;
  UploadAction action;
};

TEST(ResponsePolicyTest, StatusTableAsSegmentDocumentsIt) {
  const Row rows[] = {
      {200, 10, UploadAction::kSuccess},
      {201, 10, UploadAction::kSuccess},
      {204, 1, UploadAction::kSuccess},
      {299, 1, UploadAction::kSuccess},
      {429, 10, UploadAction::kRateLimited},
      {429, 1, UploadAction::kRateLimited},
      {408, 10, UploadAction::kRetry},
      {410, 10, UploadAction::kRetry},
      {460, 10, UploadAction::kRetry},
      {500, 10, UploadAction::kRetry},
      {502, 1, UploadAction::kRetry},
      {503, 10, UploadAction::kRetry},
      {504, 10, UploadAction::kRetry},
      {599, 10, UploadAction::kRetry},
      {400, 10, UploadAction::kSplit},
      {400, 2, UploadAction::kSplit},
      {400, 1, UploadAction::kDeadLetter},
      {413, 10, UploadAction::kSplit},
      {413, 1, UploadAction::kDeadLetter},
      {422, 10, UploadAction::kSplit},
      {501, 10, UploadAction::kSplit},
      {505, 1, UploadAction::kDeadLetter},
      {418, 1, UploadAction::kDeadLetter},
      {401, 10, UploadAction::kConfigError},
      {403, 1, UploadAction::kConfigError},
      {404, 10, UploadAction::kConfigError},
      {301, 10, UploadAction::kConfigError},
      {307, 10, UploadAction::kConfigError},
  };
  for (const Row& row : rows) {
    ResponseDecision d = DecideResponse(Answer(row.status), row.count, kNow);
    EXPECT_EQ(d.action, row.action)
        << row.status << " with " << row.count << " messages: got "
        << UploadActionName(d.action);
    EXPECT_EQ(d.http_status, row.status);
  }
}

TEST(ResponsePolicyTest, KeyRejectedOnlyFor401And403) {
  EXPECT_TRUE(DecideResponse(Answer(401), 1, kNow).key_rejected);
  EXPECT_TRUE(DecideResponse(Answer(403), 1, kNow).key_rejected);
  EXPECT_FALSE(DecideResponse(Answer(404), 1, kNow).key_rejected);
}

TEST(ResponsePolicyTest, TransportErrorsRetryUnlessTheyAreConfiguration) {
  using core::Status;
  struct {
    Status status;
    UploadAction action;
  } rows[] = {
      {Status::Unavailable("refused"), UploadAction::kRetry},
      {Status::DeadlineExceeded("timeout"), UploadAction::kRetry},
      {Status::IoError("disk"), UploadAction::kRetry},
      {Status::FailedPrecondition("bad CA file"), UploadAction::kConfigError},
  };
  for (const auto& row : rows) {
    ResponseDecision d =
        DecideResponse(core::Result<HttpResponse>(row.status), 5, kNow);
    EXPECT_EQ(d.action, row.action) << row.status.ToString();
    EXPECT_EQ(d.http_status, 0);
    EXPECT_EQ(d.reason, row.status.message());
  }
}

TEST(ResponsePolicyTest, RetryAfterIsHonouredAndCappedAt300Seconds) {
  EXPECT_EQ(DecideResponse(Answer(429, "", "7"), 3, kNow).wait, seconds(7));
  EXPECT_EQ(DecideResponse(Answer(429, "", "300"), 3, kNow).wait, seconds(300));
  EXPECT_EQ(DecideResponse(Answer(429, "", "301"), 3, kNow).wait, seconds(300));
  EXPECT_EQ(
      DecideResponse(Answer(429, "", "99999999999999999999"), 3, kNow).wait,
      seconds(300));
  EXPECT_EQ(DecideResponse(Answer(429), 3, kNow).wait, std::nullopt);
  EXPECT_EQ(DecideResponse(Answer(429, "", "soon"), 3, kNow).wait,
            std::nullopt);
}

TEST(ResponsePolicyTest, RetryAfterIsAtLeastOneSecond) {
  EXPECT_EQ(DecideResponse(Answer(429, "", "0"), 3, kNow).wait, seconds(1));
  EXPECT_EQ(
      DecideResponse(Answer(429, "", "Wed, 31 Dec 2025 00:00:00 GMT"), 3, kNow)
          .wait,
      seconds(1));
  EXPECT_EQ(DecideResponse(Answer(429, "", "1"), 3, kNow).wait, seconds(1));
  EXPECT_EQ(DecideResponse(Answer(429, "", "2"), 3, kNow).wait, seconds(2));
}

TEST(ResponsePolicyTest, RetryAfterAcceptsSecondsAndHttpDates) {
  EXPECT_EQ(ParseRetryAfter(" 120 ", kNow), seconds(120));
  EXPECT_EQ(ParseRetryAfter("0", kNow), seconds(0));
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Jan 2026 00:01:30 GMT", kNow),
            seconds(90));
  EXPECT_EQ(ParseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", kNow), seconds(0));
  EXPECT_EQ(ParseRetryAfter("-5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("12abc", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Foo 2026 00:01:30 GMT", kNow),
            std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
}

// Found by fuzz_response (docs/FUZZING.md): a 5-digit year overflowed the
// nanosecond clock (undefined behaviour; UBSan reported it).
TEST(ResponsePolicyTest, RetryAfterDatesOutsideFourDigitYearsAreIgnored) {
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 20157 0:28:00 GMT", kNow),
            std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct -2015 00:28:00 GMT", kNow),
            std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 -1:28:00 GMT", kNow),
            std::nullopt);
  // A far but 4-digit year is a long wait, which DecideResponse caps.
  EXPECT_GT(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", kNow),
            seconds(100LL * 365 * 24 * 3600));
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Jan 2026 00:01:30 GMT",
                            kNow + std::chrono::milliseconds(500)),
            seconds(90));
}

TEST(ResponsePolicyTest, ReasonIsTheServerBodyOnOneShortLine) {
  ResponseDecision d = DecideResponse(
      Answer(400, "Exceed payload\nlimit\r\n" + std::string(500, 'x')), 1,
      kNow);
  EXPECT_TRUE(d.reason.starts_with("HTTP 400: Exceed payload limit xxx"))
      << d.reason;
  EXPECT_EQ(d.reason.find('\n'), std::string::npos);
  EXPECT_LE(d.reason.size(), 220u);
  EXPECT_EQ(DecideResponse(Answer(400), 1, kNow).reason, "HTTP 400");
}

TEST(ResponsePolicyTest, HeaderLookupIgnoresCase) {
  HttpResponse r;
  r.headers = {{"Retry-AFTER", "5"}};
  EXPECT_EQ(r.Header("retry-after"), "5");
  EXPECT_EQ(r.Header("Retry-After"), "5");
  EXPECT_EQ(r.Header("Retry"), std::nullopt);
}

}  // namespace
}  // namespace zenml::uploader
