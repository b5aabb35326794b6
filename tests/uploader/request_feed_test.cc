#include "uploader/request_feed.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/timestamp.h"
#include "spool/spool.h"
#include "tests/spool/fault_env.h"
#include "tests/spool/tables.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "uploader/gzip.h"

namespace zenml::uploader {
namespace {

using spool::Level0Tables;

using std::chrono::milliseconds;

// Appends one event from another process (LevelDB's lock is per process:
// a Spool in this one would share the feed's open handle) without waiting
// for the lock; returns where it landed: "database" or "inbox".
std::string AppendFromAnotherProcess(const std::filesystem::path& dir,
                                     int lock_wait_ms = 0) {
  testing::ProcessResult r =
      testing::Run({testing::TestBinPath("spool_helper"), "append", "--dir",
                    dir.string(), "--count", "1", "--id", "late", "--report",
                    "--lock-wait-ms", std::to_string(lock_wait_ms)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.out.starts_with("ok database")) return "database";
  if (r.out.starts_with("ok inbox")) return "inbox";
  return r.out;
}

// `prefix` followed by `n`. Built with +=: GCC 12 at -O3 misreports
// `"m" + std::to_string(n)` (-Wrestrict), which breaks a Release -Werror build.
std::string Id(std::string prefix, uint64_t n) {
  prefix += std::to_string(n);
  return prefix;
}

// The spool keys of a request's events, as the uploader acks them.
std::vector<std::string> KeysOf(const PreparedRequest& request) {
  std::vector<std::string> keys;
  for (const spool::Entry& e : request.entries) keys.push_back(e.key);
  return keys;
}

class RequestFeedTest : public ::testing::Test {
 protected:
  RequestFeedTest() : spool_(Options()) {}

  spool::SpoolOptions Options() {
    spool::SpoolOptions o;
    o.dir = dir_ / "analytics";
    o.sync = false;
    o.clock = &clock_;
    return o;
  }

  // A message with messageId "<id>" and `pad` bytes of padding.
  static std::string Message(const std::string& id, size_t pad = 40) {
    std::string m = R"({"type":"track","messageId":")";
    m += id;
    m += R"(","properties":{"pad":")";
    m += std::string(pad, 'x');
    m += R"("}})";
    return m;
  }

  void Fill(int from, int n, size_t pad = 40) {
    std::vector<std::string> msgs;
    for (int i = from; i < from + n; ++i) {
      msgs.push_back(Message(Id("m", i), pad));
    }
    ASSERT_TRUE(spool_.Append(msgs).ok());
  }

  RequestFeedOptions FeedOptions() {
    RequestFeedOptions o;
    o.write_key = "key";
    o.requests_per_peek = 2;
    o.max_ready = 2;
    return o;
  }

  // Every request the feed hands out until the end.
  std::vector<PreparedRequest> Drain(RequestFeed& feed) {
    std::vector<PreparedRequest> all;
    for (;;) {
      auto next = feed.Next();
      EXPECT_TRUE(next.ok()) << next.status().ToString();
      if (!next.ok() || !next->has_value()) return all;
      all.push_back(std::move(**next));
    }
  }

  uint64_t Pending() { return spool_.Stats()->count; }

  testing::TempDir dir_;
  core::FakeClock clock_;
  spool::Spool spool_;
};

TEST_F(RequestFeedTest, HandsOutEveryEventOnceInOrderWithinTheRequestLimits) {
  Fill(0, 2345);
  RequestFeed feed(spool_, clock_, FeedOptions());
  std::vector<PreparedRequest> all = Drain(feed);
  ASSERT_TRUE(feed.Stop().ok());
  ASSERT_EQ(all.size(), 5u);  // 500 x 4 + 345
  int expected = 0;
  for (const PreparedRequest& r : all) {
    EXPECT_LE(r.entries.size(), kMaxBatchMessages);
    auto json = GzipDecompress(r.body);
    ASSERT_TRUE(json.ok());
    EXPECT_LE(json->size(), kMaxRequestBytes);
    rapidjson::Document doc;
    doc.Parse(json->c_str());
    ASSERT_FALSE(doc.HasParseError());
    const auto& batch = doc["batch"].GetArray();
    ASSERT_EQ(batch.Size(), r.entries.size());
    for (size_t i = 0; i < r.entries.size(); ++i, ++expected) {
      const std::string id = Id("m", expected);
      EXPECT_EQ(batch[i]["messageId"].GetString(), id);
      EXPECT_EQ(r.entries[i].json, Message(id));  // byte for byte
    }
    EXPECT_STREQ(doc["writeKey"].GetString(), "key");
    EXPECT_EQ(doc["sentAt"].GetString(), core::FormatTimestamp(clock_.Now()));
  }
  EXPECT_EQ(expected, 2345);
  EXPECT_EQ(Pending(), 2345u);  // nothing acknowledged, nothing deleted
}

TEST_F(RequestFeedTest, AcksAreDeletedByFlushAcksAndByStop) {
  Fill(0, 1500);
  RequestFeed feed(spool_, clock_, FeedOptions());
  auto first = feed.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  std::vector<std::string> keys = KeysOf(**first);
  feed.Ack(keys);
  ASSERT_TRUE(feed.FlushAcks().ok());
  EXPECT_EQ(Pending(), 1000u);

  auto second = feed.Next();
  ASSERT_TRUE(second.ok() && second->has_value());
  keys = KeysOf(**second);
  feed.Ack(keys);
  ASSERT_TRUE(feed.Stop().ok());
  EXPECT_EQ(Pending(), 500u);
  // Stopped: nothing more is handed out.
  auto after = feed.Next();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
}

TEST_F(RequestFeedTest, AnAckIsAppliedAtOnceNotWithTheNextPeek) {
  Fill(0, 1500);
  RequestFeedOptions o = FeedOptions();
  o.requests_per_peek = 10;  // everything read ahead: no Peek is due
  o.max_ready = 10;
  RequestFeed feed(spool_, clock_, o);
  auto first = feed.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  feed.Ack(KeysOf(**first));
  // Neither FlushAcks nor Stop: the feed applies it on its own, promptly
  // (a process killed now must not resend this request).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Pending() != 1000u && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(Pending(), 1000u);
  ASSERT_TRUE(feed.Stop().ok());
}

TEST_F(RequestFeedTest, TooLargeMessagesAreDeadLetteredAndNeverHandedOut) {
  Fill(0, 2);
  Fill(2, 1, 33'000);
  Fill(3, 2);
  RequestFeed feed(spool_, clock_, FeedOptions());
  std::vector<PreparedRequest> all = Drain(feed);
  ASSERT_TRUE(feed.Stop().ok());
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].entries.size(), 4u);
  EXPECT_EQ(feed.dead_lettered(), 1u);
  auto dead = spool_.PeekDeadLetters(0, 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].seq, 3u);
}

TEST_F(RequestFeedTest, ADryRunDeadLettersNothingAndSendsPlainJson) {
  Fill(0, 3);
  Fill(3, 1, 33'000);
  RequestFeedOptions o = FeedOptions();
  o.dry_run = true;
  o.gzip = false;
  RequestFeed feed(spool_, clock_, o);
  std::vector<PreparedRequest> all = Drain(feed);
  ASSERT_TRUE(feed.Stop().ok());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].body.front(), '{');
  EXPECT_EQ(feed.dead_lettered(), 1u);  // counted only
  EXPECT_EQ(spool_.PeekDeadLetters(0, 10)->size(), 0u);
  EXPECT_EQ(Pending(), 4u);
}

TEST_F(RequestFeedTest, EventsAppendedAfterTheFeedReadTheEndAreStillHandedOut) {
  Fill(0, 10);
  RequestFeed feed(spool_, clock_, FeedOptions());
  auto first = feed.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  // Let the feed read ahead to the end of the spool (its Peek finds nothing
  // more), then append, as a tracker would while the request is in flight.
  ASSERT_TRUE(feed.FlushAcks().ok());
  Fill(10, 3);
  std::vector<PreparedRequest> rest = Drain(feed);
  ASSERT_EQ(rest.size(), 1u);
  ASSERT_EQ(rest[0].entries.size(), 3u);
  EXPECT_EQ(rest[0].entries[0].seq, 11u);
}

TEST_F(RequestFeedTest, ARunEndsWhileTrackersWriteFasterThanItSends) {
  // A tracker appends before every request the run takes: without an end,
  // the run would chase them until its time budget (and exit "try later").
  Fill(0, 10);
  RequestFeed feed(spool_, clock_, FeedOptions());
  int appended = 0;
  size_t requests = 0;
  size_t sent = 0;
  for (;;) {
    Fill(1000 + appended, 1);
    ++appended;
    ASSERT_LT(appended, 1000) << "the run never ends";
    auto next = feed.Next();
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (!next->has_value()) break;
    ++requests;
    sent += (*next)->entries.size();
    feed.Ack(KeysOf(**next));
  }
  ASSERT_TRUE(feed.Stop().ok());
  // Every event was handed out once or is still pending: nothing lost.
  EXPECT_EQ(sent + Pending(), 10u + appended);
  EXPECT_GE(sent, 10u);  // everything pending at the start went
  EXPECT_LE(requests, 8u);
}

TEST_F(RequestFeedTest, AWriterGetsTheDatabaseWhileRequestsAreReady) {
  Fill(0, 5000);
  RequestFeed feed(spool_, clock_, FeedOptions());
  auto first = feed.Next();  // the feed then fills its queue and waits
  ASSERT_TRUE(first.ok() && first->has_value());
  ASSERT_TRUE(feed.FlushAcks().ok());  // its transactions are done
  // The feed may still hold the database (it keeps it between transactions)
  // but lets a waiting writer of another process in: the database, not the
  // inbox, well within the writer's budget.
  EXPECT_EQ(AppendFromAnotherProcess(dir_ / "analytics", 5000), "database");
}

TEST_F(RequestFeedTest,
       WithCrowdedLevel0TheFeedLetsWritersInOnceLevelDbHasCompactedIt) {
  // Six writers killed after their appends, LevelDB's background work
  // stopped in them: each leaves a log over the write buffer (a close would
  // have written it to a table), and each open that replays one writes it
  // to level 0 (crowded from 4 on; under 8, where LevelDB would slow the
  // next write down, and 12, where it would wait for the compaction).
  for (int round = 0; round < 6; ++round) {
    testing::ProcessResult r =
        testing::Run({testing::TestBinPath("spool_helper"), "append", "--dir",
                      (dir_ / "analytics").string(), "--count", "2000",
                      "--one-batch", "--pad", "300", "--id", Id("r", round),
                      "--hold", "--exit-unclosed", "--no-background"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto spool_dir = dir_ / "analytics" / "spool";
  ASSERT_GE(Level0Tables(spool_dir), 4u);  // LevelDB compacts from 4 on

  RequestFeedOptions o = FeedOptions();
  RequestFeed feed(spool_, clock_, o);
  auto first = feed.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  // Acks kept back during the compaction still go at once when flushed.
  std::vector<std::string> keys = KeysOf(**first);
  feed.Ack(keys);
  ASSERT_TRUE(feed.FlushAcks().ok());
  EXPECT_EQ(Pending(), 6u * 2'000u - keys.size());
  // The feed holds the spool while LevelDB compacts level 0 in the
  // background (closing would throw that work away), and lets go once it
  // is done: then another process's writer gets the database at once.
  bool landed = false;
  for (int i = 0; i < 600 && !landed; ++i) {
    landed = AppendFromAnotherProcess(dir_ / "analytics") == "database";
    if (!landed) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(landed);
  ASSERT_TRUE(feed.Stop().ok());
  EXPECT_FALSE(spool_.CompactingLevel0());  // not held any more
  // The compaction finished: LevelDB leaves fewer tables on level 0 than
  // its trigger, 4 (its tables of appends overlap nothing, so it moves them
  // down one at a time, and stops there), and this check's open writes the
  // last writer's log to one more.
  EXPECT_LE(Level0Tables(spool_dir), 4u);
}

TEST(RequestFeedFaultTest, AFailedAckStopsTheFeedWithTheErrorAndLosesNothing) {
  testing::TempDir dir;
  std::unique_ptr<leveldb::Env> mem(
      leveldb::NewMemEnv(leveldb::Env::Default()));
  spool::FaultEnv fault(mem.get());
  spool::SpoolOptions o;
  o.dir = dir.path() / "analytics";
  o.env = &fault;
  o.lock_wait = milliseconds(100);
  spool::Spool spool(o);
  std::vector<std::string> msgs;
  for (int i = 0; i < 1'500; ++i) {
    std::string m = Id(R"({"messageId":"m)", i);
    m += R"("})";
    msgs.push_back(std::move(m));
  }
  ASSERT_TRUE(spool.Append(msgs).ok());

  core::FakeClock clock;
  RequestFeedOptions fo;
  fo.write_key = "key";
  RequestFeed feed(spool, clock, fo);
  auto first = feed.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  std::vector<std::string> keys = KeysOf(**first);
  feed.Ack(keys);
  fault.FailFromNthWrite(1);
  EXPECT_EQ(feed.FlushAcks().code(), core::Status::Code::kIoError);
  // The feed stops on the error: every later call reports it.
  auto next = feed.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), core::Status::Code::kIoError);
  EXPECT_FALSE(feed.Stop().ok());
  fault.Heal();
  // Nothing was deleted: the events of the failed Ack are still pending.
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->count, 1'500u);
}

}  // namespace
}  // namespace zenml::uploader
