#include "core/clock.h"

#include <gtest/gtest.h>

namespace zenml::core {
namespace {

using namespace std::chrono_literals;

TEST(ClockTest, FakeClockSleepAdvancesBothTimesWithoutWaiting) {
  FakeClock clock;
  WallTime w0 = clock.Now();
  MonoTime m0 = clock.Monotonic();
  auto real0 = std::chrono::steady_clock::now();
  clock.SleepFor(3600s);
  EXPECT_LT(std::chrono::steady_clock::now() - real0, 1s);
  EXPECT_EQ(clock.Now() - w0, 3600s);
  EXPECT_EQ(clock.Monotonic() - m0, 3600s);
  EXPECT_EQ(clock.slept(), 3600s);
  clock.Advance(1s);
  EXPECT_EQ(clock.slept(), 3600s);
  EXPECT_EQ(clock.Now() - w0, 3601s);
}

TEST(ClockTest, RealClockMovesForward) {
  const Clock& clock = RealClock();
  MonoTime a = clock.Monotonic();
  clock.SleepFor(2ms);
  EXPECT_GE(clock.Monotonic() - a, 2ms);
}

}  // namespace
}  // namespace zenml::core
