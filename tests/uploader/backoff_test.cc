#include "uploader/backoff.h"

#include <gtest/gtest.h>

#include <vector>

namespace zenml::uploader {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, WithoutJitterDelaysDoubleFromHalfASecondToTheCap) {
  Backoff b({}, [] { return 0.0; });
  std::vector<long> got;
  for (int i = 0; i < 10; ++i) got.push_back(b.Next().count());
  EXPECT_EQ(got, (std::vector<long>{500, 1000, 2000, 4000, 8000, 16000, 32000,
                                    60000, 60000, 60000}));
}

TEST(BackoffTest, JitterAddsUpToTenPercent) {
  EXPECT_EQ(BackoffDelay({}, 0, 0.5), milliseconds(525));
  EXPECT_EQ(BackoffDelay({}, 3, 0.999), milliseconds(4399));
  EXPECT_EQ(BackoffDelay({}, 20, 0.999), milliseconds(65'994));
  for (int attempt = 0; attempt < 12; ++attempt) {
    auto lo = BackoffDelay({}, attempt, 0.0);
    auto hi = BackoffDelay({}, attempt, 0.9999);
    EXPECT_GE(hi, lo);
    EXPECT_LE(hi.count(), lo.count() * 11 / 10);
  }
}

TEST(BackoffTest, RealRandomSourceStaysWithinTheJitterBand) {
  Backoff b;
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

}  // namespace
}  // namespace zenml::uploader
