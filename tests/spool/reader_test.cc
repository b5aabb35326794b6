// spool::Reader and spool::SpoolHold (spool/reader.h, spool/spool_hold.h):
// one open across transactions, a turn for a process that says it waits,
// the idle and slice limits, the cursor, and reads that ingest or not.
// Opens are counted through the Env seam (LevelDB locks the database once
// per open); a waiting process is a second Turns object (flock's locks
// belong to open file descriptions, so it conflicts as a process would).

#include "spool/reader.h"

#include <gtest/gtest.h>
#include <leveldb/env.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "spool/spool_hold.h"
#include "spool/turns.h"
#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Counts the database's opens and closes (its LOCK file's lock and unlock).
class OpenCountingEnv : public leveldb::EnvWrapper {
 public:
  OpenCountingEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}
  leveldb::Status LockFile(const std::string& f,
                           leveldb::FileLock** l) override {
    leveldb::Status s = target()->LockFile(f, l);
    if (s.ok()) ++opens;
    return s;
  }
  leveldb::Status UnlockFile(leveldb::FileLock* l) override {
    ++closes;
    return target()->UnlockFile(l);
  }
  std::atomic<int> opens{0};
  std::atomic<int> closes{0};
};

std::vector<std::string> Messages(int n, const std::string& tag = "m") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("{\"event\":\"" + tag + std::to_string(i) + "\"}");
  }
  return out;
}

class ReaderTest : public ::testing::Test {
 protected:
  ReaderTest() {
    options_.dir = tmp_.path() / "analytics";
    options_.env = &env_;
    options_.sync = false;
    spool_.emplace(options_);
  }
  Spool& spool() { return *spool_; }
  // The events of a whole read through `reader`, a transaction per chunk.
  std::vector<std::string> ReadAll(Reader& reader, size_t chunk) {
    std::vector<std::string> got;
    for (;;) {
      EXPECT_TRUE(reader.Begin().ok());
      auto entries = reader.Read(1 << 20, chunk);
      reader.End();
      EXPECT_TRUE(entries.ok()) << entries.status();
      if (!entries.ok() || entries->empty()) return got;
      for (const Entry& e : *entries) got.push_back(e.json);
    }
  }

  testing::TempDir tmp_;
  OpenCountingEnv env_;
  SpoolOptions options_;
  std::optional<Spool> spool_;
};

// Visit walks as Read does, under either policy (in place for a pure
// read, copies of a Peek's when it ingests), and a visitor that stops it
// leaves the cursor at the last event it was given.
TEST_F(ReaderTest, VisitWalksAsReadDoesAndStopsWhereTheVisitorSays) {
  ASSERT_TRUE(spool().Append(Messages(10)).ok());
  for (bool ingest : {false, true}) {
    SCOPED_TRACE(ingest ? "ingest" : "pure read");
    Reader reader(spool(), ReaderPolicy{.ingest = ingest});
    std::vector<std::string> got;
    auto visit_until = [&](size_t stop_after) {
      return [&got, stop_after](const EntryView& e) {
        got.emplace_back(e.json);
        return got.size() % stop_after != 0;
      };
    };
    ASSERT_TRUE(reader.Begin().ok());
    auto n = reader.Visit(1 << 20, 4, visit_until(100));  // a chunk of 4
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 4u);
    n = reader.Visit(1 << 20, 100, visit_until(6));  // stops at the 6th
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 2u);
    n = reader.Visit(1 << 20, 100, visit_until(100));  // the rest
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 4u);
    n = reader.Visit(1 << 20, 100, visit_until(100));
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u);
    reader.End();
    EXPECT_EQ(got, Messages(10));
  }
}

TEST_F(ReaderTest, ReadsEverythingInOrderWithOneOpen) {
  ASSERT_TRUE(spool().Append(Messages(10)).ok());
  const int opens_before = env_.opens;
  Reader reader(spool());
  EXPECT_EQ(ReadAll(reader, 3), Messages(10));  // 4 reads and an empty one
  EXPECT_TRUE(reader.held());
  EXPECT_EQ(env_.opens - opens_before, 1);
  const int closes_before = env_.closes;
  reader.Release();
  EXPECT_FALSE(reader.held());
  EXPECT_EQ(env_.closes - closes_before, 1);
}

TEST_F(ReaderTest, TheCursorGoesOnAfterTheLastEntryRead) {
  ASSERT_TRUE(spool().Append(Messages(5)).ok());
  Reader reader(spool());
  ASSERT_TRUE(reader.Begin().ok());
  auto first = reader.Read(1 << 20, 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ(reader.cursor(), first->back().key);
  auto rest = reader.Read(1 << 20, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ((*rest)[0].json, Messages(5)[2]);
  reader.End();
}

TEST_F(ReaderTest, AtHeadSaysTheReadStoppedAtTheSpoolsEnd) {
  ASSERT_TRUE(spool().Append(Messages(5)).ok());
  Reader reader(spool());
  bool at_head = true;
  ASSERT_TRUE(reader.Read(1 << 20, 2, 100, &at_head).ok());
  EXPECT_FALSE(at_head);  // stopped at max_count
  ASSERT_TRUE(reader.Read(1 << 20, 10, 100, &at_head).ok());
  EXPECT_TRUE(at_head);
  ASSERT_TRUE(spool().Append(Messages(5, "n")).ok());
  // Room for fewer bytes than the largest message: stopped at the limit.
  ASSERT_TRUE(reader.Read(60, 10, 1 << 20, &at_head).ok());
  EXPECT_FALSE(at_head);
}

TEST_F(ReaderTest, AWaitingWriterGetsTheDatabaseAtTheNextBegin) {
  ASSERT_TRUE(spool().Append(Messages(4)).ok());
  Reader reader(spool());
  ASSERT_TRUE(reader.Begin().ok());
  ASSERT_TRUE(reader.Read(1 << 20, 2).ok());
  reader.End();
  const int closes_before = env_.closes;
  const int opens_before = env_.opens;

  Turns writer(options_.dir);  // another process's writer, queued
  writer.QueueWriter();
  ASSERT_TRUE(reader.Begin().ok());  // gives a turn, then holds again
  EXPECT_EQ(env_.closes - closes_before, 1);
  EXPECT_EQ(env_.opens - opens_before, 1);
  writer.Leave();
  auto rest = reader.Read(1 << 20, 10);  // the cursor survived the turn
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 2u);
  reader.End();
  ASSERT_TRUE(reader.Begin().ok());  // nobody waits: no turn
  EXPECT_EQ(env_.closes - closes_before, 1);
}

TEST_F(ReaderTest, WithoutYieldOnlyTheSliceGivesTurns) {
  ASSERT_TRUE(spool().Append(Messages(4)).ok());
  Reader reader(spool(), ReaderPolicy{.yield = false, .max_hold = 1h});
  ASSERT_TRUE(reader.Begin().ok());
  reader.End();
  const int closes_before = env_.closes;
  Turns writer(options_.dir);
  writer.QueueWriter();
  Turns other_reader(options_.dir);
  other_reader.Queue();
  ASSERT_TRUE(reader.Begin().ok());
  reader.End();
  reader.Idle();  // idle for less than max_idle_hold
  EXPECT_TRUE(reader.held());
  EXPECT_EQ(env_.closes, closes_before);
  writer.Leave();
  other_reader.Leave();
}

TEST_F(ReaderTest, IdleLetsGoAfterMaxIdleHoldOrAtOnceForAWaiter) {
  ASSERT_TRUE(spool().Append(Messages(1)).ok());
  Reader patient(spool(), ReaderPolicy{.max_idle_hold = 1h});
  ASSERT_TRUE(patient.Begin().ok());
  patient.End();
  patient.Idle();
  EXPECT_TRUE(patient.held());  // idle for less than an hour
  Turns reader(options_.dir);   // another process's reader, queued
  reader.Queue();
  patient.Idle();
  EXPECT_FALSE(patient.held());  // yielded
  reader.Leave();

  Reader brief(spool(), ReaderPolicy{.max_idle_hold = 0ms});
  ASSERT_TRUE(brief.Begin().ok());
  brief.End();
  brief.Idle();
  EXPECT_FALSE(brief.held());
}

TEST_F(ReaderTest, MaxHoldEndsASliceAtTheNextBegin) {
  ASSERT_TRUE(spool().Append(Messages(3)).ok());
  Reader reader(spool(), ReaderPolicy{.max_hold = 1ms});
  ASSERT_TRUE(reader.Begin().ok());
  reader.End();
  std::this_thread::sleep_for(5ms);
  const int closes_before = env_.closes;
  ASSERT_TRUE(reader.Begin().ok());
  EXPECT_EQ(env_.closes - closes_before, 1);  // closed, and held again
  EXPECT_TRUE(reader.held());
}

TEST_F(ReaderTest, AReaderWithoutHoldOpensForEachCall) {
  ASSERT_TRUE(spool().Append(Messages(3)).ok());
  Reader reader(spool(), ReaderPolicy{.hold = false});
  ASSERT_TRUE(reader.Begin().ok());
  EXPECT_FALSE(reader.held());
  const int opens_before = env_.opens;
  EXPECT_EQ(ReadAll(reader, 1), Messages(3));
  EXPECT_EQ(env_.opens - opens_before, 4);  // 3 reads and the empty one
}

TEST_F(ReaderTest, AScanningReaderLeavesTheInboxAPeekingOneIngestsIt) {
  ASSERT_TRUE(spool().Append(Messages(2)).ok());
  ASSERT_TRUE(spool().AppendToInbox(Messages(3, "inbox")).ok());
  auto inbox_files = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(options_.dir / "inbox")) {
      (void)e;
      ++n;
    }
    return n;
  };
  ASSERT_EQ(inbox_files(), 1);
  {
    Reader scan(spool(), ReaderPolicy{.ingest = false});
    EXPECT_EQ(ReadAll(scan, 10), Messages(2));
  }
  EXPECT_EQ(inbox_files(), 1);  // a read changed nothing
  Reader peek(spool());
  std::vector<std::string> want = Messages(2);
  for (const std::string& m : Messages(3, "inbox")) want.push_back(m);
  EXPECT_EQ(ReadAll(peek, 10), want);
  EXPECT_EQ(inbox_files(), 0);
}

TEST(SpoolHoldTest, TheScopeEndReleasesAndTurnsAreGivenOnlyToWaiters) {
  testing::TempDir tmp;
  OpenCountingEnv env;
  SpoolOptions options;
  options.dir = tmp.path() / "analytics";
  options.env = &env;
  options.sync = false;
  Spool spool(options);
  ASSERT_TRUE(spool.Append(Messages(1)).ok());
  const int closes_before = env.closes;
  {
    SpoolHold hold(spool, Role::kWriter);
    EXPECT_FALSE(hold.held());
    ASSERT_TRUE(hold.Acquire().ok());
    ASSERT_TRUE(hold.Acquire().ok());    // held already: no second hold
    EXPECT_FALSE(hold.YieldToReader());  // nobody waits
    EXPECT_FALSE(hold.Yield());
    EXPECT_TRUE(hold.held());
    EXPECT_EQ(env.closes, closes_before);
    Turns reader(options.dir);
    reader.Queue();
    EXPECT_TRUE(hold.YieldToReader());
    EXPECT_FALSE(hold.held());
    EXPECT_EQ(env.closes - closes_before, 1);
    reader.Leave();
    ASSERT_TRUE(hold.Acquire().ok());
  }
  EXPECT_EQ(env.closes - closes_before, 2);  // the scope's end released it
}

}  // namespace
}  // namespace zenml::spool
