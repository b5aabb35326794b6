#include "spool/bounds.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace zenml::spool {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr int64_t kNow = 1'000'000'000;  // ms
constexpr int64_t kHour = 3'600'000;

struct Case {
  std::string name;
  BoundsState meta;
  std::vector<BoundsEvent> head;
  bool head_is_all;
  std::vector<BoundsEvent> incoming;
  SpoolLimits limits;
  // Expected:
  bool needs_more_head;
  size_t head_drops;
  std::vector<bool> incoming_dropped;
  uint64_t events, bytes, age;  // drops by reason
  uint64_t count_after, bytes_after;
};

SpoolLimits Limits(uint64_t events, uint64_t bytes, seconds age) {
  return {events, bytes, age};
}

TEST(ApplyBoundsTest, Table) {
  const SpoolLimits roomy = Limits(100, 1000, hours(1));
  const BoundsEvent fresh{kNow, 10};
  const BoundsEvent stale{kNow - 2 * kHour, 10};
  const std::vector<Case> cases = {
      {"empty spool, batch fits",
       {0, 0},
       {},
       true,
       {fresh, fresh},
       roomy,
       false,
       0,
       {false, false},
       0,
       0,
       0,
       2,
       20},
      {"steady state: head fresh, under every bound",
       {3, 30},
       {fresh},
       false,
       {fresh},
       roomy,
       false,
       0,
       {false},
       0,
       0,
       0,
       4,
       40},
      {"count bound drops the oldest stored first",
       {3, 30},
       {fresh, fresh, fresh},
       true,
       {fresh, fresh},
       Limits(4, 1000, hours(1)),
       false,
       1,
       {false, false},
       1,
       0,
       0,
       4,
       40},
      {"one head event given, more needed",
       {3, 30},
       {fresh},
       false,
       {fresh, fresh},
       Limits(2, 1000, hours(1)),
       true,
       0,
       {false, false},
       0,
       0,
       0,
       0,
       0},
      {"batch larger than the bound keeps its newest",
       {2, 20},
       {fresh, fresh},
       true,
       {fresh, fresh, fresh},
       Limits(2, 1000, hours(1)),
       false,
       2,
       {true, false, false},
       3,
       0,
       0,
       2,
       20},
      {"byte bound",
       {2, 20},
       {fresh, fresh},
       true,
       {{kNow, 25}},
       Limits(100, 30, hours(1)),
       false,
       2,
       {false},
       0,
       2,
       0,
       1,
       25},
      {"age bound drops stale head, stops at a fresh one",
       {3, 30},
       {stale, stale, fresh},
       false,
       {fresh},
       roomy,
       false,
       2,
       {false},
       0,
       0,
       2,
       2,
       20},
      {"age bound drops a stale incoming event whatever the head",
       {1, 10},
       {fresh},
       false,
       {stale, fresh},
       roomy,
       false,
       0,
       {true, false},
       0,
       0,
       1,
       2,
       20},
      {"age beats count in the reason",
       {2, 20},
       {stale, fresh},
       true,
       {fresh},
       Limits(2, 1000, hours(1)),
       false,
       1,
       {false},
       0,
       0,
       1,
       2,
       20},
      {"unbounded keeps everything",
       {5, 50},
       {stale},
       false,
       {stale, fresh, fresh},
       SpoolLimits::Unbounded(),
       false,
       0,
       {false, false, false},
       0,
       0,
       0,
       8,
       80},
      {"metadata says events, head is empty: all of head gone",
       {2, 20},
       {},
       true,
       {fresh, fresh, fresh},
       Limits(2, 1000, hours(1)),
       false,
       0,
       {true, true, true},
       3,
       0,
       0,
       2,
       20},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    BoundsDrops d =
        ApplyBounds(c.meta, c.head, c.head_is_all, c.incoming, kNow, c.limits);
    EXPECT_EQ(d.needs_more_head, c.needs_more_head);
    if (c.needs_more_head) continue;
    EXPECT_EQ(d.head, c.head_drops);
    ASSERT_EQ(d.incoming.size(), c.incoming_dropped.size());
    for (size_t i = 0; i < d.incoming.size(); ++i) {
      EXPECT_EQ(d.incoming[i].has_value(), c.incoming_dropped[i]) << i;
    }
    EXPECT_EQ(d.by_reason[static_cast<int>(DropReason::kMaxEvents)], c.events);
    EXPECT_EQ(d.by_reason[static_cast<int>(DropReason::kMaxBytes)], c.bytes);
    EXPECT_EQ(d.by_reason[static_cast<int>(DropReason::kMaxAge)], c.age);
    EXPECT_EQ(d.by_reason[static_cast<int>(DropReason::kCorruption)], 0u);
    EXPECT_EQ(d.count, c.count_after);
    EXPECT_EQ(d.bytes, c.bytes_after);
  }
}

TEST(ApplyBoundsTest, HugeAgeDoesNotOverflow) {
  const BoundsEvent ancient{0, 1};
  BoundsDrops d = ApplyBounds({1, 1}, {&ancient, 1}, true, {&ancient, 1}, kNow,
                              SpoolLimits::Unbounded());
  EXPECT_EQ(d.head, 0u);
  EXPECT_FALSE(d.incoming[0].has_value());
  SpoolLimits l;
  l.max_age = seconds::max();
  d = ApplyBounds({0, 0}, {}, true, {&ancient, 1}, INT64_MIN + 5, l);
  EXPECT_FALSE(d.incoming[0].has_value());
}

}  // namespace
}  // namespace zenml::spool
