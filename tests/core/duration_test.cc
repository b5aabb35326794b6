#include "core/duration.h"

#include <gtest/gtest.h>

namespace zenml::core {
namespace {

using std::chrono::seconds;

TEST(DurationTest, ParsesEachUnitAndABareNumberAsSeconds) {
  EXPECT_EQ(ParseDuration("90"), seconds(90));
  EXPECT_EQ(ParseDuration("45s"), seconds(45));
  EXPECT_EQ(ParseDuration("30m"), seconds(1800));
  EXPECT_EQ(ParseDuration("2h"), seconds(7200));
  EXPECT_EQ(ParseDuration("1d"), seconds(86400));
  EXPECT_EQ(ParseDuration("1w"), seconds(7 * 86400));
  EXPECT_EQ(ParseDuration("0"), seconds(0));
  EXPECT_EQ(ParseDuration("0m"), seconds(0));
}

TEST(DurationTest, RefusesEverythingElse) {
  for (const char* bad : {"", "s", "h", "-1", "-1h", "+1h", " 1h", "1h ",
                          "1.5h", "1h30m", "1x", "yesterday", "1H", "h1",
                          "99999999999999999999", "9223372036854775807m"}) {
    EXPECT_EQ(ParseDuration(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseDuration("9223372036854775807"),
            seconds(9223372036854775807LL));
}

TEST(DurationTest, FormatsTheLargestWholeUnit) {
  EXPECT_EQ(FormatDuration(seconds(45)), "45s");
  EXPECT_EQ(FormatDuration(seconds(60)), "1m");
  EXPECT_EQ(FormatDuration(seconds(3599)), "59m");
  EXPECT_EQ(FormatDuration(seconds(7200)), "2h");
  EXPECT_EQ(FormatDuration(seconds(10 * 86400)), "10d");
  EXPECT_EQ(FormatDuration(seconds(-90)), "-1m");
  EXPECT_EQ(FormatDuration(seconds(INT64_MIN)), "-106751991167300d");
}

TEST(DurationTest, WhatIsFormattedParsesBack) {
  for (int64_t s : {0, 5, 60, 3600, 86400, 7 * 86400}) {
    EXPECT_EQ(ParseDuration(FormatDuration(seconds(s))), seconds(s)) << s;
  }
}

TEST(DurationTest, ADeadlineSaturatesInsteadOfOverflowing) {
  using Steady = std::chrono::steady_clock;
  const Steady::time_point now = Steady::now();
  EXPECT_EQ(SaturatingDeadline<Steady>(now, std::chrono::milliseconds::max()),
            Steady::time_point::max());
  EXPECT_EQ(SaturatingDeadline<Steady>(now, std::chrono::hours::max()),
            Steady::time_point::max());
  EXPECT_EQ(SaturatingDeadline<Steady>(now, seconds(5)), now + seconds(5));
  EXPECT_EQ(SaturatingDeadline<Steady>(now, seconds(-5)), now - seconds(5));
  EXPECT_EQ(SaturatingDeadline<Steady>(now, seconds(0)), now);
}

}  // namespace
}  // namespace zenml::core
