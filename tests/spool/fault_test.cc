// Fault injection (leveldb's fault_injection_test style): an Env wrapper that
// fails the Nth file write or sync from now on, over an in-memory env, so no
// disk is involved. Failing writes must be reported and counted, and the
// spool must stay readable and consistent.

#include <gtest/gtest.h>
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "spool/spool.h"
#include "tests/spool/fault_env.h"
#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

using core::Status;

std::vector<std::string> Messages(int n, int start) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("{\"messageId\":\"m" + std::to_string(start + i) + "\"}");
  }
  return out;
}

class SpoolFaultTest : public ::testing::Test {
 protected:
  SpoolFaultTest()
      : mem_(leveldb::NewMemEnv(leveldb::Env::Default())), fault_(mem_.get()) {}

  SpoolOptions Options() {
    SpoolOptions o;
    o.dir = dir_.path() / "analytics";
    o.env = &fault_;
    o.lock_wait = std::chrono::milliseconds(100);
    return o;
  }

  std::vector<Entry> All(Spool& spool) {
    auto entries = spool.Peek("", 1 << 24, 1'000'000);
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    return entries.ok() ? *entries : std::vector<Entry>{};
  }

  testing::TempDir dir_;
  std::unique_ptr<leveldb::Env> mem_;
  FaultEnv fault_;
};

TEST_F(SpoolFaultTest, AFailedWriteIsReportedCountedAndLeavesTheSpoolReadable) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(10, 0)).ok());

  fault_.FailFromNthWrite(1);
  auto failed = spool.Append(Messages(5, 10));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kIoError);
  EXPECT_NE(failed.status().message().find("injected"), std::string::npos)
      << failed.status().ToString();
  fault_.Heal();

  // Still readable, nothing of the failed batch visible.
  auto entries = All(spool);
  EXPECT_EQ(entries.size(), 10u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->write_errors, 1u);
  EXPECT_EQ(stats->count, 10u);

  // Writes work again, and the error count is now on disk.
  ASSERT_TRUE(spool.Append(Messages(5, 10)).ok());
  Spool other(Options());
  stats = other.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 15u);
  EXPECT_EQ(All(other).size(), 15u);
}

// Fails the Nth write from now for every N that the next few operations
// reach (the log, its sync, a new log or MANIFEST on reopen, ...). Whatever
// fails: the counters match the events that are there, every event whose
// Append succeeded is there, and nothing appears twice.
TEST_F(SpoolFaultTest, FailingTheNthWriteNeverLeavesCountsAndEventsApart) {
  int next_id = 0;
  std::vector<std::string> accepted;
  for (int n = 1; n <= 12; ++n) {
    Spool spool(Options());
    fault_.FailFromNthWrite(n);
    for (int round = 0; round < 4; ++round) {
      auto batch = Messages(3, next_id);
      next_id += 3;
      auto r = spool.Append(batch);
      if (r.ok()) accepted.insert(accepted.end(), batch.begin(), batch.end());
    }
    fault_.Heal();
    auto entries = All(spool);
    auto stats = spool.Stats();
    ASSERT_TRUE(stats.ok()) << "n=" << n << " " << stats.status().ToString();
    EXPECT_EQ(stats->count, entries.size()) << "n=" << n;
    std::set<std::string> present;
    for (const auto& e : entries) {
      EXPECT_TRUE(present.insert(e.json).second) << "twice: " << e.json;
    }
    for (const auto& m : accepted) {
      EXPECT_TRUE(present.count(m)) << "n=" << n << " lost " << m;
    }
  }
  EXPECT_GT(fault_.failures(), 0);
  EXPECT_LT(accepted.size(), static_cast<size_t>(next_id));  // some failed
}

TEST(SpoolMemEnvTest, RunsEntirelyInMemory) {
  std::unique_ptr<leveldb::Env> mem(
      leveldb::NewMemEnv(leveldb::Env::Default()));
  testing::TempDir dir;
  SpoolOptions o;
  o.dir = dir.path() / "analytics";
  o.env = mem.get();
  Spool spool(o);
  ASSERT_TRUE(spool.Append(std::vector<std::string>{"{}"}).ok());
  EXPECT_EQ(spool.Stats()->count, 1u);
  // The database itself lives in the env, not on disk.
  EXPECT_FALSE(std::filesystem::exists(o.dir / "spool" / "CURRENT"));
}

// RequeueDeadLetters is one WriteBatch: a write that fails part-way leaves
// every dead letter where it was and queues none of them; the next requeue
// moves all of them, once.
TEST_F(SpoolFaultTest, AFailedRequeueMovesNothingAndARetryMovesAllOnce) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(4, 0)).ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 4u);
  for (const Entry& e : entries) {
    ASSERT_TRUE(spool.DeadLetter(e.key, 400, "bad").ok());
  }
  fault_.FailFromNthWrite(0);
  auto failed = spool.RequeueDeadLetters({});
  EXPECT_FALSE(failed.ok());
  fault_.Heal();
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dead_letters, 4u);
  EXPECT_EQ(stats->count, 0u);
  EXPECT_TRUE(All(spool).empty());
  auto dead = spool.PeekDeadLetters(0, 10);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->size(), 4u);

  auto moved = spool.RequeueDeadLetters({});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->requeued, 4u);
  EXPECT_EQ(All(spool).size(), 4u);
  EXPECT_EQ(spool.Stats()->dead_letters, 0u);
  auto again = spool.RequeueDeadLetters({});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->requeued, 0u);
  EXPECT_EQ(All(spool).size(), 4u);
}

}  // namespace
}  // namespace zenml::spool
