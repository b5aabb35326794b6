// Dead letters (spool/dead_letters.h): bounded and aged where they enter
// (Spool::DeadLetter), the oldest dropped first and counted by reason; put
// back in their original order by RequeueDeadLetters, in one batch, never
// past the queue's bounds.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "spool/keys.h"
#include "spool/spool.h"
#include "tests/spool/read_all.h"
#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

using core::FakeClock;

std::vector<std::string> Messages(int n, const std::string& prefix = "m") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("{\"messageId\":\"" + prefix + std::to_string(i) + "\"}");
  }
  return out;
}

class DeadLettersTest : public ::testing::Test {
 protected:
  SpoolOptions Options() {
    SpoolOptions o;
    o.dir = dir_.path() / "analytics";
    o.clock = &clock_;
    o.sync = false;
    return o;
  }

  // Dead-letters the first `n` pending events, one at a time.
  void DeadLetterFirst(Spool& spool, size_t n) {
    auto entries = spool.Peek("", SIZE_MAX, n);
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), n);
    for (const Entry& e : *entries) {
      ASSERT_TRUE(spool.DeadLetter(e.key, 400, "bad").ok());
    }
  }

  std::vector<uint64_t> DeadSeqs(Spool& spool) {
    auto dead = spool.PeekDeadLetters(0, 1000);
    EXPECT_TRUE(dead.ok());
    std::vector<uint64_t> out;
    for (const auto& d : *dead) out.push_back(d.seq);
    return out;
  }

  std::vector<std::string> PendingJson(Spool& spool) {
    std::vector<std::string> out;
    for (const Entry& e : ReadAll(spool)) out.push_back(e.json);
    return out;
  }

  testing::TempDir dir_;
  FakeClock clock_;
};

TEST_F(DeadLettersTest, TheCountBoundDropsTheOldestAndCountsThem) {
  SpoolOptions o = Options();
  o.max_dead_letters = 3;
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(5)).ok());
  DeadLetterFirst(spool, 5);
  EXPECT_EQ(DeadSeqs(spool), (std::vector<uint64_t>{3, 4, 5}));
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dead_letters, 3u);
  EXPECT_EQ(stats->dead_letters_dropped["max_events"], 2u);
  EXPECT_EQ(stats->dead_letter_limits.max_count, 3u);
  EXPECT_EQ(stats->count, 0u);

  // The bound is stored: another Spool with no options keeps it.
  Spool other(Options());
  ASSERT_TRUE(other.Append(Messages(1, "x")).ok());
  DeadLetterFirst(other, 1);
  EXPECT_EQ(DeadSeqs(other), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(other.Stats()->dead_letters_dropped["max_events"], 3u);
}

TEST_F(DeadLettersTest, AnOlderEventEnteringAFullAreaIsTheOneDropped) {
  SpoolOptions o = Options();
  o.max_dead_letters = 2;
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(3)).ok());
  auto entries = spool.Peek("", SIZE_MAX, 3);
  ASSERT_TRUE(entries.ok());
  ASSERT_TRUE(spool.DeadLetter((*entries)[1].key, 400, "b").ok());
  ASSERT_TRUE(spool.DeadLetter((*entries)[2].key, 400, "c").ok());
  // Seq 1 is the oldest of the three: it goes, the others stay.
  ASSERT_TRUE(spool.DeadLetter((*entries)[0].key, 400, "a").ok());
  EXPECT_EQ(DeadSeqs(spool), (std::vector<uint64_t>{2, 3}));
  auto stats = spool.Stats();
  EXPECT_EQ(stats->dead_letters, 2u);
  EXPECT_EQ(stats->count, 0u);
  EXPECT_EQ(stats->dead_letters_dropped["max_events"], 1u);
}

TEST_F(DeadLettersTest, TheByteBoundHoldsAndTheBytesAreCounted) {
  Spool probe(Options());
  ASSERT_TRUE(probe.Append(Messages(1, "p")).ok());
  DeadLetterFirst(probe, 1);
  const uint64_t one = probe.Stats()->dead_letter_bytes;
  ASSERT_GT(one, 0u);
  ASSERT_TRUE(probe.RequeueDeadLetters({}).ok());
  EXPECT_EQ(probe.Stats()->dead_letter_bytes, 0u);
  ASSERT_TRUE(probe.Ack(std::vector<std::string>{EventKey(1)}).ok());

  SpoolOptions o = Options();
  o.max_dead_letter_bytes = one * 2 + one / 2;  // room for two
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(4, "q")).ok());
  DeadLetterFirst(spool, 4);
  EXPECT_EQ(DeadSeqs(spool), (std::vector<uint64_t>{4, 5}));
  auto stats = spool.Stats();
  EXPECT_EQ(stats->dead_letter_bytes, 2 * one);
  EXPECT_EQ(stats->dead_letters_dropped["max_bytes"], 2u);
}

TEST_F(DeadLettersTest, DeadLettersOlderThanTheAgeBoundGoWhenOneEnters) {
  SpoolOptions o = Options();
  o.max_dead_letter_age = std::chrono::hours(24);
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(3)).ok());
  DeadLetterFirst(spool, 2);
  clock_.Advance(std::chrono::hours(25));
  // Reading applies nothing: both are still there.
  EXPECT_EQ(DeadSeqs(spool).size(), 2u);
  DeadLetterFirst(spool, 1);
  EXPECT_EQ(DeadSeqs(spool), (std::vector<uint64_t>{3}));
  auto stats = spool.Stats();
  EXPECT_EQ(stats->dead_letters, 1u);
  EXPECT_EQ(stats->dead_letters_dropped["max_age"], 2u);
}

TEST_F(DeadLettersTest, RequeuePutsThemBackInTheirOriginalOrder) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(6)).ok());
  // Events 1, 3 and 5 are refused; 2, 4 and 6 delivered; then 7 and 8 come.
  auto entries = spool.Peek("", SIZE_MAX, 6);
  ASSERT_TRUE(entries.ok());
  for (int i : {0, 2, 4}) {
    ASSERT_TRUE(spool.DeadLetter((*entries)[i].key, 400, "bad").ok());
  }
  ASSERT_TRUE(spool
                  .Ack(std::vector<std::string>{
                      (*entries)[1].key, (*entries)[3].key, (*entries)[5].key})
                  .ok());
  ASSERT_TRUE(spool.Append(Messages(2, "n")).ok());

  auto r = spool.RequeueDeadLetters({});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->requeued, 3u);
  EXPECT_EQ(r->first_seq, 1u);
  EXPECT_EQ(r->last_seq, 5u);
  EXPECT_EQ(r->remaining, 0u);
  EXPECT_EQ(PendingJson(spool),
            (std::vector<std::string>{
                "{\"messageId\":\"m0\"}", "{\"messageId\":\"m2\"}",
                "{\"messageId\":\"m4\"}", "{\"messageId\":\"n0\"}",
                "{\"messageId\":\"n1\"}"}));
  auto stats = spool.Stats();
  EXPECT_EQ(stats->count, 5u);
  EXPECT_EQ(stats->dead_letters, 0u);
  EXPECT_EQ(stats->dead_letter_bytes, 0u);
  // Peek from the start finds them (the first-live hint went back).
  auto head = spool.Peek("", SIZE_MAX, 1);
  ASSERT_TRUE(head.ok());
  ASSERT_EQ(head->size(), 1u);
  EXPECT_EQ((*head)[0].seq, 1u);

  // A second requeue finds nothing; nothing is twice in the queue.
  auto again = spool.RequeueDeadLetters({});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->requeued, 0u);
  EXPECT_EQ(spool.Stats()->count, 5u);
}

TEST_F(DeadLettersTest, SinceRequeuesOnlyTheRecentOnes) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(4)).ok());
  DeadLetterFirst(spool, 2);
  clock_.Advance(std::chrono::hours(3));
  const core::WallTime cut = clock_.Now();
  DeadLetterFirst(spool, 2);
  RequeueOptions ro;
  ro.since = cut - std::chrono::minutes(1);
  auto r = spool.RequeueDeadLetters(ro);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requeued, 2u);
  EXPECT_EQ(r->older, 2u);
  EXPECT_EQ(r->remaining, 2u);
  EXPECT_EQ(DeadSeqs(spool), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(PendingJson(spool),
            (std::vector<std::string>{"{\"messageId\":\"m2\"}",
                                      "{\"messageId\":\"m3\"}"}));
}

TEST_F(DeadLettersTest, RequeueStopsWhereTheQueueWouldOverflow) {
  SpoolOptions o = Options();
  o.max_events = 3;
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(3)).ok());
  DeadLetterFirst(spool, 3);
  ASSERT_TRUE(spool.Append(Messages(1, "n")).ok());
  auto r = spool.RequeueDeadLetters({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requeued, 2u);
  EXPECT_EQ(r->left_no_room, 1u);
  EXPECT_EQ(r->remaining, 1u);
  EXPECT_EQ(DeadSeqs(spool), (std::vector<uint64_t>{3}));
  auto stats = spool.Stats();
  EXPECT_EQ(stats->count, 3u);
  EXPECT_TRUE(stats->dropped.empty() || stats->dropped["max_events"] == 0u);
}

TEST_F(DeadLettersTest, RequeueOfNoSpoolCreatesNothing) {
  Spool spool(Options());
  auto r = spool.RequeueDeadLetters({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requeued, 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "analytics" / "spool"));
}

TEST_F(DeadLettersTest, PurgeClearsDeadLettersAndTheirCountersButKeepsLimits) {
  SpoolOptions o = Options();
  o.max_dead_letters = 1;
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(2)).ok());
  DeadLetterFirst(spool, 2);
  ASSERT_TRUE(spool.Purge().ok());
  auto stats = Spool(Options()).Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dead_letters, 0u);
  EXPECT_EQ(stats->dead_letter_bytes, 0u);
  EXPECT_TRUE(stats->dead_letters_dropped.empty());
  EXPECT_EQ(stats->dead_letter_limits.max_count, 1u);
}

}  // namespace
}  // namespace zenml::spool
