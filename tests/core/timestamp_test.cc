#include "core/timestamp.h"

#include <gtest/gtest.h>

#include <regex>

namespace zenml::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

WallTime At(int64_t ms) {
  return WallTime(
      std::chrono::duration_cast<WallTime::duration>(milliseconds(ms)));
}

TEST(TimestampTest, FormatsUtcWithExactlyThreeFractionalDigits) {
  // 2026-11-27T10:00:00.123Z
  EXPECT_EQ(FormatTimestamp(At(1795773600123)), "2026-11-27T10:00:00.123Z");
  EXPECT_EQ(FormatTimestamp(At(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestamp(At(1795773600005)), "2026-11-27T10:00:00.005Z");
}

TEST(TimestampTest, TruncatesSubMillisecondsInsteadOfRounding) {
  WallTime t = At(1795773600123) + std::chrono::microseconds(999);
  EXPECT_EQ(FormatTimestamp(t), "2026-11-27T10:00:00.123Z");
}

TEST(TimestampTest, HandlesLeapDaysAndYearEnds) {
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("2024-02-29T23:59:59.999Z")),
            "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("2000-12-31T23:59:59.999Z") +
                            milliseconds(1)),
            "2001-01-01T00:00:00.000Z");
}

TEST(TimestampTest, NowMatchesTheSegmentFormat) {
  const std::string s = FormatTimestamp(std::chrono::system_clock::now());
  EXPECT_TRUE(std::regex_match(
      s, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")))
      << s;
}

TEST(TimestampTest, ParseIsTheInverseOfFormat) {
  for (int64_t ms :
       {0LL, 1LL, 951782400000LL, 1795773600123LL, 4102444799999LL}) {
    auto parsed = ParseTimestamp(FormatTimestamp(At(ms)));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, At(ms));
  }
}

TEST(TimestampTest, ParseAcceptsCommonUtcVariants) {
  EXPECT_EQ(*ParseTimestamp("2026-11-27T10:00:00Z"), At(1795773600000));
  EXPECT_EQ(*ParseTimestamp("2026-11-27T10:00:00.1Z"), At(1795773600100));
  EXPECT_EQ(*ParseTimestamp("2026-11-27T10:00:00.123456789Z"),
            At(1795773600123));
  EXPECT_EQ(*ParseTimestamp("2026-11-27T10:00:00.123+00:00"),
            At(1795773600123));
}

TEST(TimestampTest, ParseRefusesWhatIsNotAUtcTimestamp) {
  for (const char* bad :
       {"", "2026-11-27", "2026-11-27T10:00:00", "2026-11-27T10:00:00+01:00",
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-27T24:00:00Z",
        "2026-11-27T10:00:00.Z", "2026-11-27T10:00:00.000Zjunk",
        "2026-11-27 10:00:00Z", "20261127T100000Z"}) {
    auto r = ParseTimestamp(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    }
  }
}

// WallTime counts nanoseconds in 64 bits; a year past its range used to
// overflow in the conversion (undefined behaviour, found by
// fuzz_message_fields on a spooled message dated 1013).
TEST(TimestampTest, ParseRefusesTimesTheSystemClockCannotHold) {
  EXPECT_TRUE(ParseTimestamp("2262-04-11T23:47:16.854Z").ok());
  EXPECT_TRUE(ParseTimestamp("1677-09-21T00:12:43.146Z").ok());
  for (const char* bad :
       {"2262-04-11T23:47:16.855Z", "1677-09-21T00:12:43.145Z",
        "1013-11-27T10:00:00.123Z", "9999-12-31T23:59:59.999Z",
        "0000-01-01T00:00:00Z"}) {
    auto r = ParseTimestamp(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace zenml::core
