// Power cuts (issue 9): through the leveldb::Env seam, PowerCutEnv turns the
// machine off at a random mutating operation during the creation of a fresh
// config dir, appends, inbox writing and ingestion, then drops what a power
// cut drops (file data past the last fsync, names whose directory was not
// fsynced after they appeared; LevelDB's fault_injection_test model). After
// each cut a healthy spool must hold every event the spool had acknowledged
// (Append or AppendToInbox returned OK): 0 lost. 150 rounds from a fresh
// config dir, 150 on an existing spool.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "spool/spool.h"
#include "tests/spool/power_cut_env.h"
#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kRounds = 150;

std::string Event(int round, int n) {
  return fmt::format(R"({{"event":"power cut","round":{},"n":{}}})", round, n);
}

// The workload: every step the spool takes on the way in. Returns the
// events acknowledged before the first failure (after it the machine is
// off and every call fails).
std::vector<std::string> Workload(const fs::path& analytics, leveldb::Env* env,
                                  int round) {
  SpoolOptions o;
  o.dir = analytics;
  o.env = env;
  o.lock_wait = 50ms;
  std::vector<std::string> acked;
  int n = 0;
  auto batch = [&](int count) {
    std::vector<std::string> events;
    for (int i = 0; i < count; ++i) events.push_back(Event(round, n++));
    return events;
  };
  auto append = [&](Spool& spool, int count) {
    auto events = batch(count);
    if (!spool.Append(events).ok()) return false;
    acked.insert(acked.end(), events.begin(), events.end());
    return true;
  };
  auto to_inbox = [&](Spool& spool, int count) {
    auto events = batch(count);
    if (!spool.AppendToInbox(events).ok()) return false;
    acked.insert(acked.end(), events.begin(), events.end());
    return true;
  };
  {
    Spool spool(o);  // a first tracking process: creates everything
    if (!append(spool, 3) || !append(spool, 1)) return acked;
  }
  {
    Spool spool(o);  // a Client at exit, past its timeout: the inbox
    if (!to_inbox(spool, 2) || !to_inbox(spool, 2)) return acked;
  }
  {
    Spool spool(o);  // the next writer ingests, then appends
    if (!append(spool, 2)) return acked;
    if (!to_inbox(spool, 1)) return acked;
  }
  {
    Spool spool(o);  // an uploader's Peek ingests too
    if (!spool.Peek("", 1 << 20, 1000).ok()) return acked;
    if (!append(spool, 1)) return acked;
  }
  return acked;
}

// Everything a healthy spool gives an uploader: Peek (which ingests) until
// empty, keys ascending.
std::set<std::string> Recovered(const fs::path& analytics) {
  SpoolOptions o;
  o.dir = analytics;
  Spool spool(o);
  std::set<std::string> out;
  std::string after;
  for (;;) {
    auto got = spool.Peek(after, 1 << 20, 1000);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->empty()) break;
    for (const auto& e : *got) out.insert(e.json);
    after = got->back().key;
  }
  return out;
}

struct Tally {
  int rounds = 0;
  long acknowledged = 0;
  long lost = 0;
};

// One round: run the workload with the power cut at operation `cut`, apply
// the cut, check. `existing`: events acknowledged before this round.
void Round(PowerCutEnv& env, const fs::path& analytics, int round, long cut,
           const std::vector<std::string>& existing, Tally* tally) {
  env.CutAfter(cut);
  std::vector<std::string> acked = Workload(analytics, &env, round);
  env.PowerCut();  // every Spool of the workload is closed
  acked.insert(acked.end(), existing.begin(), existing.end());
  const std::set<std::string> found = Recovered(analytics);
  long lost = 0;
  for (const auto& e : acked) {
    if (!found.contains(e)) {
      if (lost == 0)
        ADD_FAILURE() << "round " << round << ", cut " << cut << ": lost " << e;
      ++lost;
    }
  }
  tally->rounds++;
  tally->acknowledged += static_cast<long>(acked.size());
  tally->lost += lost;
}

// How many mutating operations the whole workload does without a cut.
long CountOps(const fs::path& root, bool existing) {
  PowerCutEnv env;
  const fs::path analytics = root / "count" / "analytics";
  if (existing) {
    SpoolOptions o;
    o.dir = analytics;
    EXPECT_TRUE(Spool(o).Append(std::vector<std::string>{"{}"}).ok());
  }
  env.CutAfter(0);
  Workload(analytics, &env, -1);
  return env.ops();
}

TEST(PowerCutTest, FreshConfigDirLosesNoAcknowledgedEvent) {
  testing::TempDir dir;
  const long ops = CountOps(dir.path(), /*existing=*/false);
  ASSERT_GT(ops, 20);
  std::mt19937 rng(20261130);
  PowerCutEnv env;
  Tally tally;
  for (int round = 0; round < kRounds; ++round) {
    // The config dir does not exist yet: the spool creates every directory.
    const fs::path config = dir.path() / fmt::format("r{}", round) / "config";
    fs::create_directories(config.parent_path());
    const long cut = std::uniform_int_distribution<long>(1, ops + 1)(rng);
    Round(env, config / "analytics", round, cut, {}, &tally);
  }
  std::cout << "[ measure  ] fresh config dir: " << tally.rounds
            << " power cuts (workload: " << ops << " operations), "
            << tally.acknowledged << " acknowledged events, " << tally.lost
            << " lost\n";
  EXPECT_EQ(tally.lost, 0);
}

TEST(PowerCutTest, ExistingSpoolLosesNoAcknowledgedEvent) {
  testing::TempDir dir;
  const long ops = CountOps(dir.path(), /*existing=*/true);
  ASSERT_GT(ops, 10);
  std::mt19937 rng(20261201);
  PowerCutEnv env;
  Tally tally;
  for (int round = 0; round < kRounds; ++round) {
    const fs::path analytics =
        dir.path() / fmt::format("r{}", round) / "config" / "analytics";
    std::vector<std::string> existing;
    {
      // Made before the env watches: everything on disk is durable.
      SpoolOptions o;
      o.dir = analytics;
      Spool spool(o);
      for (int i = 0; i < 3; ++i) {
        existing.push_back(Event(-2, round * 10 + i));
        ASSERT_TRUE(
            spool.Append(std::vector<std::string>{existing.back()}).ok());
      }
    }
    const long cut = std::uniform_int_distribution<long>(1, ops + 1)(rng);
    Round(env, analytics, round, cut, existing, &tally);
  }
  std::cout << "[ measure  ] existing spool: " << tally.rounds
            << " power cuts (workload: " << ops << " operations), "
            << tally.acknowledged << " acknowledged events, " << tally.lost
            << " lost\n";
  EXPECT_EQ(tally.lost, 0);
}

// A process that created analytics/ and analytics/inbox/ died before it
// fsynced their names (a power cut then loses both, and all below). The
// next inbox write, seeing the directories there, must make their names
// durable before it acknowledges its events.
TEST(PowerCutTest,
     InboxDirectoriesACreatorLeftUnsyncedAreSyncedByTheNextWrite) {
  testing::TempDir dir;
  const fs::path config = dir.path() / "config";
  fs::create_directories(config);  // durable: made before the env watches
  const fs::path analytics = config / "analytics";
  PowerCutEnv env;
  ASSERT_TRUE(env.CreateDir(analytics.string()).ok());  // never synced
  ASSERT_TRUE(env.CreateDir((analytics / "inbox").string()).ok());
  fs::permissions(analytics, fs::perms::owner_all);
  fs::permissions(analytics / "inbox", fs::perms::owner_all);

  const std::vector<std::string> events = {Event(-3, 0), Event(-3, 1)};
  {
    SpoolOptions o;
    o.dir = analytics;
    o.env = &env;
    Spool spool(o);
    ASSERT_TRUE(spool.AppendToInbox(events).ok());
  }
  env.PowerCut();
  {
    SpoolOptions o;  // the next tracker creates the database and ingests
    o.dir = analytics;
    ASSERT_TRUE(Spool(o).Append(std::vector<std::string>{Event(-3, 2)}).ok());
  }
  const std::set<std::string> found = Recovered(analytics);
  for (const std::string& e : events) EXPECT_TRUE(found.contains(e)) << e;
}

}  // namespace
}  // namespace zenml::spool
