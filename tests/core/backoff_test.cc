#include "core/backoff.h"

#include <gtest/gtest.h>

#include <vector>

namespace zenml::core {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(BackoffTest, WithoutJitterDelaysDoubleFromHalfASecondToTheCap) {
  Backoff b({}, [] { return 0.0; });
  std::vector<long> got;
  for (int i = 0; i < 10; ++i) {
    got.push_back(duration_cast<milliseconds>(b.Next()).count());
  }
  EXPECT_EQ(got, (std::vector<long>{500, 1000, 2000, 4000, 8000, 16000, 32000,
                                    60000, 60000, 60000}));
}

TEST(BackoffTest, JitterAddsUpToTenPercent) {
  EXPECT_EQ(BackoffDelay({}, 0, 0.5), milliseconds(525));
  EXPECT_EQ(duration_cast<milliseconds>(BackoffDelay({}, 3, 0.999)),
            milliseconds(4399));
  EXPECT_EQ(duration_cast<milliseconds>(BackoffDelay({}, 20, 0.999)),
            milliseconds(65'994));
  for (int attempt = 0; attempt < 12; ++attempt) {
    auto lo = BackoffDelay({}, attempt, 0.0);
    auto hi = BackoffDelay({}, attempt, 0.9999);
    EXPECT_GE(hi, lo);
    EXPECT_LE(hi.count(), lo.count() * 11 / 10);
  }
}

TEST(BackoffTest, RealRandomSourceStaysWithinTheJitterBand) {
  for (int i = 0; i < 200; ++i) {
    Backoff fresh;
    auto d = fresh.Next();
    EXPECT_GE(d, milliseconds(500));
    EXPECT_LE(d, milliseconds(550));
  }
}

TEST(BackoffTest, ResetStartsOverAndHugeAttemptsDoNotOverflow) {
  Backoff b({}, [] { return 0.0; });
  b.Next();
  b.Next();
  EXPECT_EQ(b.attempt(), 2);
  b.Reset();
  EXPECT_EQ(b.Next(), milliseconds(500));
  EXPECT_EQ(BackoffDelay({}, 1'000'000, 0.0), milliseconds(60'000));
}

TEST(BackoffTest, TheSpoolLockScheduleIsUniformInHalfToWholeOfADoublingDelay) {
  // spool/lock_backoff.h's schedule: d = 1 ms doubling to 50 ms, each wait
  // in [d/2, d]: initial 0.5 ms, cap 25 ms, jitter 100 %.
  const BackoffOptions lock{microseconds(500), microseconds(25'000), 1.0};
  EXPECT_EQ(BackoffDelay(lock, 0, 0.0), microseconds(500));
  EXPECT_EQ(BackoffDelay(lock, 0, 1.0), microseconds(1'000));
  EXPECT_EQ(BackoffDelay(lock, 6, 0.0), microseconds(25'000));
  EXPECT_EQ(BackoffDelay(lock, 6, 1.0), microseconds(50'000));
}

TEST(BackoffTest, WithoutJitterTheClientWriterScheduleIsExact) {
  Backoff b({milliseconds(50), milliseconds(5000), 0.0});
  std::vector<long> got;
  for (int i = 0; i < 9; ++i) {
    got.push_back(duration_cast<milliseconds>(b.Next()).count());
  }
  EXPECT_EQ(
      got, (std::vector<long>{50, 100, 200, 400, 800, 1600, 3200, 5000, 5000}));
}

}  // namespace
}  // namespace zenml::core
