// The spool across real processes: LevelDB's lock is per process, so these
// tests start spool_helper (tests/spool/spool_helper.cc) as children.

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "spool/keys.h"
#include "spool/spool.h"
#include "spool/turns.h"
#include "tests/spool/read_all.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::Child;
using testing::ProcessOptions;
using testing::TestBinPath;

std::string Helper() { return TestBinPath("spool_helper"); }

// The messageId of a helper message; empty if it does not parse.
std::string IdOf(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("messageId") ||
      !d["messageId"].IsString()) {
    return "";
  }
  return d["messageId"].GetString();
}

void Touch(const fs::path& p) { std::ofstream(p).put('\n'); }

size_t InboxFileCount(const fs::path& dir) {
  size_t n = 0;
  if (!fs::exists(dir / "inbox")) return 0;
  for (const auto& f : fs::directory_iterator(dir / "inbox")) {
    if (f.path().extension() == ".inbox") ++n;
  }
  return n;
}

class SpoolProcessTest : public ::testing::Test {
 protected:
  fs::path Dir() { return tmp_.path() / "analytics"; }

  SpoolOptions Options() {
    SpoolOptions o;
    o.dir = Dir();
    o.lock_wait = std::chrono::milliseconds(10'000);
    return o;
  }

  std::vector<Entry> All(Spool& spool) { return ReadAll(spool); }

  // No i/ marker is left once the inbox is empty.
  size_t MarkerCount() {
    leveldb::DB* raw = nullptr;
    EXPECT_TRUE(
        leveldb::DB::Open(leveldb::Options(), (Dir() / "spool").string(), &raw)
            .ok());
    std::unique_ptr<leveldb::DB> db(raw);
    size_t n = 0;
    std::unique_ptr<leveldb::Iterator> it(
        db->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(std::string(kInboxMarkerPrefix));
         it->Valid() && it->key().starts_with(std::string(kInboxMarkerPrefix));
         it->Next()) {
      ++n;
    }
    return n;
  }

  testing::TempDir tmp_;
};

TEST_F(SpoolProcessTest, ADoubleOpenInOneProcessCannotLetASecondProcessIn) {
  Spool a(Options());
  Spool b(Options());
  ASSERT_TRUE(a.Hold().ok());
  // b shares a's handle: it neither waits for nor reopens the database
  // (a second DB::Open here would drop the POSIX lock).
  auto target = b.Append(std::vector<std::string>{"{\"messageId\":\"b\"}"});
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(*target, AppendTarget::kDatabase);
  ASSERT_TRUE(b.Stats().ok());
  {
    Spool c(Options());
    ASSERT_TRUE(c.Peek("", 100, 10).ok());
  }

  auto child =
      testing::Run({Helper(), "append", "--dir", Dir().string(), "--count", "1",
                    "--id", "child", "--report", "--lock-wait-ms", "300"});
  EXPECT_EQ(child.exit_code, 0) << child.err;
  EXPECT_EQ(child.out, "ok inbox child-0\n");

  a.Release();
  child =
      testing::Run({Helper(), "append", "--dir", Dir().string(), "--count", "1",
                    "--id", "later", "--report", "--lock-wait-ms", "5000"});
  EXPECT_EQ(child.exit_code, 0) << child.err;
  EXPECT_EQ(child.out, "ok database later-0\n");
  EXPECT_EQ(All(a).size(), 3u);
}

TEST_F(SpoolProcessTest, EightWritersAndAConsumerAccountForEveryIdExactlyOnce) {
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 2000;
  const fs::path stop = tmp_.path() / "stop";
  const fs::path acked = tmp_.path() / "acked.jsonl";
  // Create the spool first so that every writer races on an existing one.
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.RecordUpload(UploadRecord{}).ok());
  }
  Child consumer({Helper(), "consume", "--dir", Dir().string(), "--out",
                  acked.string(), "--stop-file", stop.string()});
  std::vector<std::unique_ptr<Child>> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.push_back(std::make_unique<Child>(std::vector<std::string>{
        Helper(), "append", "--dir", Dir().string(), "--count",
        std::to_string(kPerWriter), "--max-batch", "64", "--id",
        "w" + std::to_string(w), "--seed", std::to_string(w + 1)}));
  }
  for (auto& w : writers) {
    auto r = w->Wait(std::chrono::seconds(100));
    EXPECT_EQ(r.exit_code, 0) << "writer failed or timed out";
  }
  Touch(stop);
  auto c = consumer.Wait(std::chrono::seconds(60));
  EXPECT_EQ(c.exit_code, 0);

  std::map<std::string, int> seen;
  size_t from_consumer = 0;
  std::ifstream in(acked);
  for (std::string line; std::getline(in, line);) {
    seen[IdOf(line)]++;
    ++from_consumer;
  }
  Spool spool(Options());
  for (const auto& e : All(spool)) seen[IdOf(e.json)]++;
  EXPECT_GT(from_consumer, 0u);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kWriters * kPerWriter));
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kPerWriter; ++i) {
      const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
      ASSERT_EQ(seen[id], 1) << id;
    }
  }
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inbox_files, 0u);
  EXPECT_TRUE(stats->dropped.empty());
}

// Kills an appending child at random moments, 60 times: whatever it
// reported as written must be in the spool afterwards, once, in order. Most
// rounds time the kill from the start, so it lands anywhere (exec, open,
// recovery, a write); every third times it from the child's first report, so
// the rounds also kill mid-append and the test has reported events to check
// however loaded the machine (a round that reports nothing within 60 s fails
// the test: the helper is broken).
TEST_F(SpoolProcessTest, SigkillAtRandomMomentsNeverLosesAReportedEvent) {
  constexpr int kRounds = 60;
  constexpr int kRoundsAfterFirstReport = kRounds / 3;
  std::mt19937 rng(20261127);
  std::uniform_int_distribution<int> delay_ms(2, 60);
  std::uniform_int_distribution<int> batch(1, 24);
  std::set<std::string> reported_all;
  uint64_t killed_mid_run = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> argv = {Helper(),
                                     "append",
                                     "--dir",
                                     Dir().string(),
                                     "--count",
                                     "1000000",
                                     "--report",
                                     "--id",
                                     "r" + std::to_string(round),
                                     "--max-batch",
                                     std::to_string(batch(rng))};
    if (round % 2 == 1) argv.push_back("--hold");
    Child child(argv);
    std::vector<std::string> reported;
    const auto delay = std::chrono::milliseconds(delay_ms(rng));
    if (round % 3 == 2) {
      auto first = child.ReadLine(std::chrono::seconds(60));
      ASSERT_TRUE(first.has_value())
          << "round " << round << ": the helper reported nothing in 60 s";
      reported.push_back(*first);
    }
    const auto deadline = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = child.ReadLine(std::chrono::milliseconds(1));
      if (line) reported.push_back(*line);
    }
    child.Kill(SIGKILL);
    // Whatever it printed before dying was durable: read to EOF.
    while (auto line = child.ReadLine(std::chrono::seconds(5))) {
      reported.push_back(*line);
    }
    auto r = child.Wait();
    if (r.signal == SIGKILL) ++killed_mid_run;

    Spool spool(Options());
    std::set<std::string> present;
    uint64_t last_seq = 0;
    for (const auto& e : All(spool)) {
      EXPECT_GT(e.seq, last_seq) << "round " << round;
      last_seq = e.seq;
      const std::string id = IdOf(e.json);
      ASSERT_FALSE(id.empty())
          << "unparsable record in round " << round << ": " << e.json;
      EXPECT_TRUE(present.insert(id).second) << "twice: " << id;
    }
    for (const std::string& line : reported) {
      ASSERT_TRUE(line.starts_with("ok ")) << line;
      const std::string id = line.substr(line.rfind(' ') + 1);
      reported_all.insert(id);
    }
    for (const std::string& id : reported_all) {
      ASSERT_TRUE(present.count(id)) << "round " << round << " lost " << id;
    }
    auto stats = spool.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->count, present.size());
    EXPECT_TRUE(stats->dropped.empty());
  }
  EXPECT_GE(killed_mid_run, 50u);
  // At least one reported event from each round timed from its first report.
  EXPECT_GE(reported_all.size(), static_cast<size_t>(kRoundsAfterFirstReport));
}

TEST_F(SpoolProcessTest, AnAppendPastLockWaitLandsInTheInboxAndIsIngestedOnce) {
  const fs::path release = tmp_.path() / "release";
  Child holder({Helper(), "hold", "--dir", Dir().string(), "--until-file",
                release.string()});
  ASSERT_EQ(holder.ReadLine(std::chrono::seconds(10)), "held");

  auto o = Options();
  o.lock_wait = std::chrono::milliseconds(200);
  Spool spool(o);
  const std::vector<std::string> messages = {"{\"messageId\":\"i0\"}",
                                             "{\"messageId\":\"i1\"}",
                                             "{\"messageId\":\"i2\"}"};
  auto target = spool.Append(messages);
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(*target, AppendTarget::kInbox);
  EXPECT_EQ(InboxFileCount(Dir()), 1u);
  auto busy = spool.Stats();
  EXPECT_EQ(busy.status().code(), core::Status::Code::kBusy);

  Touch(release);
  EXPECT_EQ(holder.Wait().exit_code, 0);
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(entries[i].json, messages[i]);
  EXPECT_EQ(InboxFileCount(Dir()), 0u);
  EXPECT_EQ(All(spool).size(), 3u);
  EXPECT_EQ(spool.Stats()->count, 3u);
  EXPECT_EQ(MarkerCount(), 0u);
}

TEST_F(SpoolProcessTest,
       IngestionKilledBetweenBatchAndUnlinkNeverIngestsTwice) {
  Spool spool(Options());
  ASSERT_TRUE(
      spool.Append(std::vector<std::string>{"{\"messageId\":\"db\"}"}).ok());
  ASSERT_TRUE(spool
                  .AppendToInbox(std::vector<std::string>{
                      "{\"messageId\":\"x0\"}", "{\"messageId\":\"x1\"}"})
                  .ok());
  ASSERT_EQ(InboxFileCount(Dir()), 1u);

  auto r = testing::Run(
      {Helper(), "peek", "--dir", Dir().string(), "--crash-after-ingest"});
  EXPECT_EQ(r.signal, SIGKILL) << r.out << r.err;
  // The batch (events + marker) is in; the file is still there.
  EXPECT_EQ(InboxFileCount(Dir()), 1u);

  auto again = testing::Run({Helper(), "peek", "--dir", Dir().string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "count 3\n");
  EXPECT_EQ(InboxFileCount(Dir()), 0u);
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(IdOf(entries[1].json), "x0");
  EXPECT_EQ(IdOf(entries[2].json), "x1");
  EXPECT_EQ(spool.Stats()->count, 3u);
  EXPECT_EQ(MarkerCount(), 0u);
}

// The real clock, which on every reading also looks whether a process says
// it waits for the database (spool/turns.h): the spool reads its clock
// while it waits for LevelDB's lock, so what it announced is seen here.
class QueueWatchingClock final : public core::Clock {
 public:
  explicit QueueWatchingClock(const fs::path& dir) : turns_(dir) {
    turns_.Refresh(/*create=*/false);
  }
  core::WallTime Now() const override { return core::RealClock().Now(); }
  core::MonoTime Monotonic() const override {
    std::lock_guard<std::mutex> lock(mu_);
    writer_seen_ = writer_seen_ || turns_.WriterWaiting();
    reader_seen_ = reader_seen_ || turns_.ReaderWaiting();
    return core::RealClock().Monotonic();
  }
  void SleepFor(std::chrono::nanoseconds d) const override {
    core::RealClock().SleepFor(d);
  }
  bool writer_seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return writer_seen_;
  }
  bool reader_seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reader_seen_;
  }

 private:
  mutable std::mutex mu_;
  mutable Turns turns_;
  mutable bool writer_seen_ = false;
  mutable bool reader_seen_ = false;
};

TEST_F(SpoolProcessTest, ACallWithNoTimeLeftToWaitNeverSaysItWaits) {
  // A holder that sees a writer waiting closes the database for it (and an
  // uploader's feed abandons a level-0 compaction to do so): a call whose
  // lock_wait is spent must not ask for a turn it will not take.
  Spool seed(Options());
  ASSERT_TRUE(
      seed.Append(std::vector<std::string>{"{\"messageId\":\"seed\"}"}).ok());
  seed.Release();
  const fs::path release = tmp_.path() / "release";
  Child holder({Helper(), "hold", "--dir", Dir().string(), "--until-file",
                release.string()});
  ASSERT_EQ(holder.ReadLine(10s), "held");

  // While the holder holds: an Append lands in the inbox, a Stats is busy.
  auto calls_while_held = [&](std::chrono::milliseconds lock_wait,
                              const core::Clock& clock, const char* id) {
    SpoolOptions o = Options();
    o.lock_wait = lock_wait;
    o.clock = &clock;
    Spool spool(o);
    auto target = spool.Append(std::vector<std::string>{
        std::string("{\"messageId\":\"") + id + "\"}"});
    ASSERT_TRUE(target.ok()) << target.status().ToString();
    EXPECT_EQ(*target, AppendTarget::kInbox);
    EXPECT_EQ(spool.Stats().status().code(), core::Status::Code::kBusy);
  };

  QueueWatchingClock no_wait_clock(Dir());
  calls_while_held(0ms, no_wait_clock, "a");
  EXPECT_FALSE(no_wait_clock.writer_seen());
  EXPECT_FALSE(no_wait_clock.reader_seen());

  // The same calls with time to wait do say so (the watch can see them).
  QueueWatchingClock waiting_clock(Dir());
  calls_while_held(100ms, waiting_clock, "b");
  EXPECT_TRUE(waiting_clock.writer_seen());
  EXPECT_TRUE(waiting_clock.reader_seen());

  Touch(release);
  EXPECT_EQ(holder.Wait().exit_code, 0);
  Spool spool(Options());
  EXPECT_EQ(All(spool).size(), 3u);  // both inbox files ingested
}

TEST_F(SpoolProcessTest, AHoldingReaderYieldsToAWaitingWriterWhoseAppendLands) {
  Spool spool(Options());
  ASSERT_TRUE(
      spool.Append(std::vector<std::string>{"{\"messageId\":\"seed\"}"}).ok());
  ASSERT_TRUE(spool.Hold().ok());
  // Nobody waits: the hold stays.
  EXPECT_FALSE(spool.YieldToWaiters());
  EXPECT_FALSE(spool.WriterWaiting());

  // A writer of another process finds LOCK taken and says it waits; its
  // budget (5 s) is far longer than the yield needs, so without the yield
  // it would land in its inbox.
  Child writer({Helper(), "append", "--dir", Dir().string(), "--count", "1",
                "--id", "w", "--report", "--lock-wait-ms", "5000"});
  bool yielded = false;
  const auto deadline = std::chrono::steady_clock::now() + 4s;
  while (!yielded && std::chrono::steady_clock::now() < deadline) {
    yielded = spool.YieldToWaiters();
    if (!yielded) std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(yielded) << "the waiting writer was never seen";
  EXPECT_EQ(writer.ReadLine(10s), "ok database w-0");
  EXPECT_EQ(writer.Wait().exit_code, 0);
  EXPECT_EQ(InboxFileCount(Dir()), 0u);
  // The hold is given up: Hold again, as the uploader's feed does.
  ASSERT_TRUE(spool.Hold().ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(IdOf(entries[1].json), "w-0");
  spool.Release();
}

}  // namespace
}  // namespace zenml::spool
