// End-to-end: the real zenml-upload binary, a real spool in a temp config
// dir, and the Segment-compatible test server on 127.0.0.1 with scripted
// faults.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mutex>

#include <chrono>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/timestamp.h"
#include "spool/spool.h"
#include "tests/testing/segment_test_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "uploader/batch_builder.h"

namespace zenml::uploader {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ProcessResult;
using testing::ScriptedResponse;
using testing::SegmentTestServer;

constexpr char kKey[] = "e2e-write-key-0123456789";

std::string Base64Decode(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    auto pos = kAlphabet.find(c);
    if (pos == std::string::npos) return "<invalid>";
    buf = (buf << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

class UploadE2eTest : public ::testing::Test {
 public:  // KillRepeatedlyDuringADrain uses them too
  UploadE2eTest() : spool_(SpoolOptions()) {}

  spool::SpoolOptions SpoolOptions() {
    spool::SpoolOptions o;
    o.dir = dir_ / "analytics";
    o.sync = false;
    return o;
  }

  static std::string Message(const std::string& id) {
    return "{\"type\":\"track\",\"event\":\"Pipeline run\",\"anonymousId\":"
           "\"8d9f\",\"messageId\":\"" +
           id +
           "\",\"timestamp\":\"2026-11-27T10:00:00.123Z\",\"properties\":{"
           "\"n\":1},\"context\":{\"ip\":\"0.0.0.0\"}}";
  }

  std::set<std::string> Fill(int n, const std::string& prefix = "m") {
    std::set<std::string> ids;
    std::vector<std::string> msgs;
    for (int i = 0; i < n; ++i) {
      std::string id = prefix + std::to_string(i);
      ids.insert(id);
      msgs.push_back(Message(id));
    }
    auto r = spool_.Append(msgs);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return ids;
  }

  testing::ProcessOptions Env() {
    testing::ProcessOptions o;
    o.env = {{"ZENML_CONFIG_PATH", dir_.path().string()},
             {"ZENML_ANALYTICS_OPT_IN", std::nullopt},
             {"DO_NOT_TRACK", std::nullopt},
             {"ZENML_SEGMENT_WRITE_KEY", std::nullopt},
             {"ZENML_ANALYTICS_ENDPOINT", std::nullopt},
             {"http_proxy", std::nullopt},
             {"HTTP_PROXY", std::nullopt},
             {"ALL_PROXY", std::nullopt}};
    return o;
  }

  std::vector<std::string> Argv(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {testing::BinPath("zenml-upload"),
                                     "--write-key", kKey, "--endpoint",
                                     server_.url()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  ProcessResult Upload(std::vector<std::string> extra = {}) {
    return testing::Run(Argv(std::move(extra)), Env());
  }

  uint64_t Pending() {
    auto s = spool_.Stats();
    EXPECT_TRUE(s.ok());
    return s.ok() ? s->count : 0;
  }

  std::set<std::string> Accepted() {
    auto ids = server_.accepted_ids();
    return {ids.begin(), ids.end()};
  }

  // The per-request checks every scenario must pass.
  void CheckEveryRequest() {
    for (const auto& r : server_.requests()) {
      EXPECT_EQ(r.path, "/v1/batch");
      EXPECT_TRUE(r.json_ok) << r.body.substr(0, 200);
      EXPECT_EQ(r.headers.at("content-type"), "application/json");
      EXPECT_EQ(r.headers.at("content-encoding"), "gzip");
      EXPECT_LT(r.wire_bytes, r.body.size());  // it was compressed
      EXPECT_LE(r.body.size(), kMaxRequestBytes);
      EXPECT_LE(r.message_ids.size(), kMaxBatchMessages);
      EXPECT_LE(r.largest_message, kMaxMessageBytes);
      const std::string& auth = r.headers.at("authorization");
      ASSERT_TRUE(auth.starts_with("Basic "));
      EXPECT_EQ(Base64Decode(auth.substr(6)), std::string(kKey) + ":");
      EXPECT_EQ(r.write_key, kKey);
      EXPECT_TRUE(r.headers.at("user-agent").starts_with("zenml-analytics/"));
      EXPECT_EQ(r.headers.count("expect"), 0u);
      EXPECT_TRUE(core::ParseTimestamp(r.sent_at).ok()) << r.sent_at;
    }
  }

  testing::TempDir dir_;
  spool::Spool spool_;
  SegmentTestServer server_;
};

TEST_F(UploadE2eTest, PlainSuccessDeliversEveryEventAndEmptiesTheSpool) {
  auto ids = Fill(1200);
  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Accepted(), ids);
  EXPECT_EQ(server_.request_count(), 3u);
  EXPECT_EQ(Pending(), 0u);
  EXPECT_NE(r.err.find("sent 1200, requests 3, dead-lettered 0, remaining 0"),
            std::string::npos)
      << r.err;
  CheckEveryRequest();
  auto stats = spool_.Stats();
  ASSERT_TRUE(stats->last_upload.has_value());
  EXPECT_EQ(stats->last_upload->outcome, "success");
}

TEST_F(UploadE2eTest, Http500Then500Then200ResendsSameIdsWithFreshSentAt) {
  auto ids = Fill(50);
  server_.Plan({ScriptedResponse::Status(500), ScriptedResponse::Status(500),
                ScriptedResponse::Status(200)});
  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto reqs = server_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].message_ids, reqs[1].message_ids);
  EXPECT_EQ(reqs[1].message_ids, reqs[2].message_ids);
  EXPECT_NE(reqs[0].sent_at, reqs[1].sent_at);
  EXPECT_NE(reqs[1].sent_at, reqs[2].sent_at);
  EXPECT_EQ(Accepted(), ids);
  EXPECT_EQ(Pending(), 0u);
  CheckEveryRequest();
}

TEST_F(UploadE2eTest, Http429WithinBudgetWaitsRetryAfterThenDelivers) {
  auto ids = Fill(20);
  ScriptedResponse limited = ScriptedResponse::Status(429);
  limited.headers = {{"Retry-After", "1"}};
  server_.Plan({limited});
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = Upload({"--max-time", "20"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(1000));
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(Accepted(), ids);
}

TEST_F(UploadE2eTest, Http429BeyondBudgetExits75AndNextRunWaitsForNotBefore) {
  auto ids = Fill(20);
  ScriptedResponse limited = ScriptedResponse::Status(429);
  limited.headers = {{"Retry-After", "3"}};
  server_.Plan({limited});
  ProcessResult first = Upload({"--max-time", "2"});
  EXPECT_EQ(first.exit_code, 75) << first.err;
  EXPECT_NE(first.err.find("next retry 20"), std::string::npos) << first.err;
  EXPECT_EQ(Pending(), 20u);
  auto not_before = spool_.Stats()->not_before;
  ASSERT_TRUE(not_before.has_value());

  // Too early, and the budget cannot cover the wait: nothing is sent.
  ProcessResult second = Upload({"--max-time", "1"});
  EXPECT_EQ(second.exit_code, 75) << second.err;
  EXPECT_EQ(server_.request_count(), 1u);

  // With budget to spare it waits for the stored time, then delivers.
  ProcessResult third = Upload({"--max-time", "20"});
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_GE(std::chrono::system_clock::now(), *not_before);
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(Accepted(), ids);
  EXPECT_FALSE(spool_.Stats()->not_before.has_value());
}

TEST_F(UploadE2eTest, PoisonMessageAloneIsDeadLetteredAllOthersDelivered) {
  auto ids = Fill(300);
  server_.SetResponder(
      [](const testing::ReceivedRequest& r) -> std::optional<ScriptedResponse> {
        for (const auto& id : r.message_ids) {
          if (id == "m123") {
            return ScriptedResponse::Status(400, "Exceed payload limit");
          }
        }
        return std::nullopt;
      });
  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ids.erase("m123");
  EXPECT_EQ(Accepted(), ids);
  EXPECT_EQ(Pending(), 0u);
  auto dead = spool_.PeekDeadLetters(0, 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].status, 400);
  EXPECT_NE((*dead)[0].reason.find("Exceed payload limit"), std::string::npos);
  EXPECT_NE((*dead)[0].message.find("\"m123\""), std::string::npos);
  EXPECT_NE(r.err.find("dead-lettered 1"), std::string::npos) << r.err;
  CheckEveryRequest();
}

// A proxy refused some messages for a while: the operator puts the dead
// letters back (only the recent ones with --since), and the next run sends
// them, in their original order, before what came after.
TEST_F(UploadE2eTest, RequeuedDeadLettersAreSentByTheNextRunInOrder) {
  auto ids = Fill(300);
  bool refuse = true;
  std::mutex mu;
  server_.SetResponder([&](const testing::ReceivedRequest& r)
                           -> std::optional<ScriptedResponse> {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& id : r.message_ids) {
      if (refuse && (id == "m10" || id == "m200")) {
        return ScriptedResponse::Status(400, "Bad Request");
      }
    }
    return std::nullopt;
  });
  ProcessResult r = Upload();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(spool_.Stats()->dead_letters, 2u);
  {
    std::lock_guard<std::mutex> lock(mu);
    refuse = false;
  }
  auto later = Fill(5, "n");
  const size_t before = server_.accepted_ids().size();

  // Nothing dead-lettered in the last second... (--since as a time)
  ProcessResult none = testing::Run(
      {testing::BinPath("zenml-upload"), "--requeue-dead-letters", "--since",
       core::FormatTimestamp(core::RealClock().Now() + std::chrono::hours(1))},
      Env());
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.err.find("no dead letters requeued; 2 before --since left"),
            std::string::npos)
      << none.err;
  EXPECT_EQ(spool_.Stats()->dead_letters, 2u);
  // ...but both in the last hour; no write key is needed.
  ProcessResult rq = testing::Run({testing::BinPath("zenml-upload"),
                                   "--requeue-dead-letters", "--since", "1h"},
                                  Env());
  EXPECT_EQ(rq.exit_code, 0) << rq.err;
  EXPECT_NE(rq.err.find("requeued 2 dead letters (sequences 11-201)"),
            std::string::npos)
      << rq.err;
  EXPECT_EQ(server_.accepted_ids().size(), before) << "a requeue sends nothing";
  auto stats = spool_.Stats();
  EXPECT_EQ(stats->dead_letters, 0u);
  EXPECT_EQ(stats->count, 7u);

  ProcessResult again = Upload();
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Pending(), 0u);
  ids.insert(later.begin(), later.end());
  EXPECT_EQ(Accepted(), ids);
  const std::vector<std::string> all = server_.accepted_ids();
  const std::vector<std::string> order(all.begin() + before, all.end());
  EXPECT_EQ(order, (std::vector<std::string>{"m10", "m200", "n0", "n1", "n2",
                                             "n3", "n4"}));
  // Bad --since: a usage error.
  ProcessResult bad =
      testing::Run({testing::BinPath("zenml-upload"), "--requeue-dead-letters",
                    "--since", "yesterday"},
                   Env());
  EXPECT_EQ(bad.exit_code, 64) << bad.err;
  ProcessResult alone =
      testing::Run({testing::BinPath("zenml-upload"), "--since", "1h"}, Env());
  EXPECT_EQ(alone.exit_code, 64) << alone.err;
}

TEST_F(UploadE2eTest, ServerRejectingEverythingTripsTheBreakerExit69) {
  Fill(300);
  server_.SetDefault(ScriptedResponse::Status(400, "Bad Request"));
  ProcessResult r = Upload({"--quiet"});
  EXPECT_EQ(r.exit_code, 69) << r.err;
  EXPECT_EQ(Pending(), 300u);
  EXPECT_EQ(spool_.Stats()->dead_letters, 0u);
  EXPECT_LE(server_.request_count(), 14u);
  // One line, in spite of --quiet.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("rejects every message"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dead-lettered 0, remaining 300"), std::string::npos)
      << r.err;
  EXPECT_EQ(spool_.Stats()->last_upload->outcome, "rejected");
}

TEST_F(UploadE2eTest, Http413SplitsUntilTheHalvesFit) {
  auto ids = Fill(400);
  server_.SetResponder(
      [](const testing::ReceivedRequest& r) -> std::optional<ScriptedResponse> {
        if (r.message_ids.size() > 100) return ScriptedResponse::Status(413);
        return std::nullopt;
      });
  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Accepted(), ids);
  EXPECT_EQ(Pending(), 0u);
  EXPECT_EQ(spool_.Stats()->dead_letters, 0u);
}

TEST_F(UploadE2eTest, Http401DeletesNothingAndExits77WithoutPrintingTheKey) {
  Fill(30);
  server_.Plan({ScriptedResponse::Status(401, "Unauthorized")});
  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 77) << r.err;
  EXPECT_EQ(Pending(), 30u);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_NE(r.err.find("write key"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kKey), std::string::npos) << r.err;
}

TEST_F(UploadE2eTest, ResetConnectionIsRetriedAndNothingIsLost) {
  auto ids = Fill(40);
  ScriptedResponse drop;
  drop.drop_connection = true;
  server_.Plan({drop});
  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(Accepted(), ids);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploadE2eTest, AnswerSlowerThanTheTimeoutIsRetried) {
  auto ids = Fill(40);
  ScriptedResponse slow;
  slow.delay = milliseconds(5'000);
  slow.status = 503;  // had the client waited, it would not have been acked
  server_.Plan({slow});
  ProcessResult r = Upload({"--request-timeout", "0.5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server_.request_count(), 2u);
  EXPECT_EQ(Accepted(), ids);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploadE2eTest, BudgetEndingMidBackoffExits75KeepingEverything) {
  Fill(40);
  server_.SetDefault(ScriptedResponse::Status(503));
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = Upload({"--max-time", "2"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_LT(took, seconds(4));
  // 0.5 s and 1 s fit a 2 s budget, 2 s does not: three requests.
  EXPECT_EQ(server_.request_count(), 3u);
  EXPECT_EQ(Pending(), 40u);
  EXPECT_NE(r.err.find("time budget"), std::string::npos) << r.err;
  EXPECT_EQ(spool_.Stats()->last_upload->outcome, "retry");
}

// --max-time holds within a second whatever the server does: answers
// slower than the budget, 503 storms, 429 with a Retry-After of 1 s.
TEST_F(UploadE2eTest, MaxTimeHoldsWithinASecondWhateverTheServerDoes) {
  Fill(40);
  struct Case {
    const char* name;
    ScriptedResponse answer;
  };
  ScriptedResponse slow = ScriptedResponse::Status(200);
  slow.delay = milliseconds(4'000);
  ScriptedResponse limited = ScriptedResponse::Status(429);
  limited.headers = {{"Retry-After", "1"}};
  ScriptedResponse slow_error = ScriptedResponse::Status(503);
  slow_error.delay = milliseconds(1'300);
  for (const Case& c : {Case{"slow", slow}, Case{"429", limited},
                        Case{"slow 503", slow_error}}) {
    server_.SetDefault(c.answer);
    auto start = std::chrono::steady_clock::now();
    ProcessResult r = Upload({"--max-time", "3"});
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.exit_code, 75) << c.name << ": " << r.err;
    EXPECT_LT(took, milliseconds(4'000)) << c.name;
    EXPECT_EQ(Pending(), 40u) << c.name;
  }
}

TEST_F(UploadE2eTest, RetryAfterZeroWaitsAtLeastOneSecond) {
  Fill(10);
  ScriptedResponse limited = ScriptedResponse::Status(429);
  limited.headers = {{"Retry-After", "0"}};
  server_.SetDefault(limited);
  ProcessResult r = Upload({"--max-time", "3"});
  EXPECT_EQ(r.exit_code, 75) << r.err;
  // At 0 s, 3 s gave hundreds of requests; at least 1 s apart: 3.
  EXPECT_LE(server_.request_count(), 3u);
  EXPECT_EQ(Pending(), 10u);
}

TEST_F(UploadE2eTest, AnEndpointWithoutASchemeIsAConfigurationError) {
  Fill(10);
  for (const char* url : {"notaurl", "ftp://127.0.0.1/v1/batch", "http://"}) {
    ProcessResult r = testing::Run({testing::BinPath("zenml-upload"),
                                    "--write-key", kKey, "--endpoint", url},
                                   Env());
    EXPECT_EQ(r.exit_code, 78) << url << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("endpoint"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Pending(), 10u);
}

TEST_F(UploadE2eTest, HttpsToAPlainHttpPortExits78AtOnce) {
  Fill(10);
  std::string url =
      "https://127.0.0.1:" + std::to_string(server_.port()) + "/v1/batch";
  auto start = std::chrono::steady_clock::now();
  ProcessResult r =
      testing::Run({testing::BinPath("zenml-upload"), "--write-key", kKey,
                    "--endpoint", url, "--max-time", "20"},
                   Env());
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
  EXPECT_EQ(Pending(), 10u);
  EXPECT_EQ(spool_.Stats()->last_upload->outcome, "config_error");
}

// A 1 MiB answer is read up to the cap and the rest ignored: the status
// still counts.
TEST_F(UploadE2eTest, AHugeAnswerBodyIsCappedAndItsStatusStillCounts) {
  auto ids = Fill(10);
  server_.Plan({ScriptedResponse::Status(200, std::string(8 << 20, 'x'))});
  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Accepted(), ids);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploadE2eTest, KilledAfterTheServerAcceptedResendsTheSameIdsNextRun) {
  auto ids = Fill(700);
  ScriptedResponse stall;
  stall.stall = true;
  server_.Plan({stall});
  {
    testing::Child uploader(Argv(), Env());
    ASSERT_TRUE(server_.WaitForRequests(1, seconds(30)));
    // The server has the batch (answer 200 pending); the uploader never
    // hears it.
    uploader.Kill(SIGKILL);
    uploader.Wait();
  }
  server_.Release();
  std::vector<std::string> first = server_.requests()[0].message_ids;
  ASSERT_EQ(first.size(), 500u);
  EXPECT_EQ(Pending(), 700u);

  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto reqs = server_.requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].message_ids, first);  // same messageIds, resent
  EXPECT_EQ(Accepted(), ids);             // nothing lost
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploadE2eTest, SigtermMidDrainExitsPromptlyKeepingWhatWasAccepted) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    Fill(1500, "s" + std::to_string(sig) + "-");
    SegmentTestServer server;  // a stall released is released for good
    ScriptedResponse stall;
    stall.stall = true;
    // Two requests accepted, the third never answered.
    server.Plan(
        {ScriptedResponse::Status(200), ScriptedResponse::Status(200), stall});
    testing::Child uploader(
        {testing::BinPath("zenml-upload"), "--write-key", kKey, "--endpoint",
         server.url(), "--max-time", "60"},
        Env());
    ASSERT_TRUE(server.WaitForRequests(3, seconds(30)));
    std::this_thread::sleep_for(milliseconds(100));  // in curl's poll()
    auto start = std::chrono::steady_clock::now();
    uploader.Kill(sig);
    ProcessResult r = uploader.Wait(seconds(10));
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.exit_code, 75) << sig << ": " << r.signal;
    EXPECT_LT(took, milliseconds(1'000)) << sig;
    EXPECT_EQ(Pending(), 500u) << sig;  // the two accepted are deleted
    auto last = spool_.Stats()->last_upload;
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->outcome, "interrupted");
    EXPECT_EQ(last->sent, 1000u);
    server.Release();
    // Send the rest, so the next signal's round starts from an empty spool.
    ProcessResult rest = Upload();
    EXPECT_EQ(rest.exit_code, 0) << rest.err;
    EXPECT_EQ(Pending(), 0u);
  }
}

TEST_F(UploadE2eTest, SigtermDuringABackoffWaitExitsPromptly) {
  Fill(10);
  server_.SetDefault(ScriptedResponse::Status(503));
  testing::Child uploader(Argv({"--max-time", "60"}), Env());
  ASSERT_TRUE(server_.WaitForRequests(3, seconds(30)));  // waiting 2 s now
  auto start = std::chrono::steady_clock::now();
  uploader.Kill(SIGTERM);
  ProcessResult r = uploader.Wait(seconds(10));
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1'000));
  EXPECT_EQ(Pending(), 10u);
}

// Acks reach the spool about every request: an uploader killed again and
// again still makes progress, and each kill costs at most two requests'
// worth of duplicate deliveries (the request in flight, whose answer the
// kill cut off, and the one whose ack was being applied). Kills `kills`
// times, each a random 0 to `kill_after_ms` after a run sent its first 1 to
// 3 requests, then runs once to the end; checks every event was delivered.
// Returns the duplicate deliveries.
void KillRepeatedlyDuringADrain(UploadE2eTest& t, int events, int kills,
                                milliseconds answer_delay, int kill_after_ms,
                                int* kills_done, size_t* duplicates);

TEST_F(UploadE2eTest, RepeatedSigkillsDuringADrainStillMakeProgress) {
  int kills = 0;
  size_t duplicates = 0;
  KillRepeatedlyDuringADrain(*this, 20'000, 12, milliseconds(15), 150, &kills,
                             &duplicates);
  EXPECT_LE(duplicates, 2u * kMaxBatchMessages * kills)
      << duplicates << " duplicates in " << kills << " kills";
}

// Issue 12's acceptance, against a collector answering at once: 50 random
// SIGKILLs during a 60,000-event drain, then one clean run: every event
// delivered. What a kill may resend by design is the request in flight and
// the requests whose acks were not yet applied (RequestFeed's
// kMaxUnappliedAcks, 2): at most 3 requests' worth each, and the issue asks
// <= 2 on average. Measured (printed): 1.6-2.1 while the feed reopened the
// database for every Ack; 1.39-1.55 in 5 runs since it keeps it open.
TEST_F(UploadE2eTest,
       FiftySigkillsDuringA60kDrainResendOnlyTheUnappliedAndTheInFlight) {
  int kills = 0;
  size_t duplicates = 0;
  KillRepeatedlyDuringADrain(*this, 60'000, 50, milliseconds(0), 10, &kills,
                             &duplicates);
  std::cout << "[ measured ] " << duplicates << " duplicates in " << kills
            << " kills: "
            << (kills ? static_cast<double>(duplicates) / kills /
                            kMaxBatchMessages
                      : 0.0)
            << " requests' worth per kill\n";
  EXPECT_GE(kills, 20) << "the drain ended before most kills";
  EXPECT_LE(duplicates, 2u * kMaxBatchMessages * kills)
      << duplicates << " duplicates in " << kills << " kills";
}

void KillRepeatedlyDuringADrain(UploadE2eTest& t, int events, int kills,
                                milliseconds answer_delay, int kill_after_ms,
                                int* kills_done, size_t* duplicates) {
  auto ids = t.Fill(events);
  ScriptedResponse answer = ScriptedResponse::Status(200);
  answer.delay = answer_delay;
  t.server_.SetDefault(answer);
  t.server_.SetKeepBodies(false);
  std::mt19937 random(12);
  int done = 0;
  for (int i = 0; i < kills && t.Pending() > 0; ++i) {
    size_t before = t.server_.request_count();
    testing::Child uploader(t.Argv({"--max-time", "60"}), t.Env());
    // Killed at a random point after it sent 1 to 3 requests: counted in
    // requests rather than time, so that a fast machine (or a quiet one)
    // does not finish the drain in fewer kills than asked, nor a slow one
    // kill every run before its first answer.
    const size_t sent = 1 + random() % 3;
    if (!t.server_.WaitForRequests(before + sent, seconds(30))) break;
    std::this_thread::sleep_for(milliseconds(random() % kill_after_ms));
    uploader.Kill(SIGKILL);
    uploader.Wait();
    ++done;
  }
  // The kills must leave progress behind (else the duplicates say nothing
  // about what a kill resends): on average at least half a request's worth
  // each. A killed run applies the acks of about one request before the
  // kill; under AddressSanitizer about 480 events' worth (the threshold was
  // a whole request's worth, and failed there one run in two).
  EXPECT_LT(t.Pending(),
            static_cast<uint64_t>(events) -
                kMaxBatchMessages * static_cast<uint64_t>(done) / 2)
      << "the kills made little progress";
  ProcessResult r = t.Upload({"--max-time", "120"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(t.Pending(), 0u);
  EXPECT_EQ(t.Accepted(), ids);  // every event delivered
  *kills_done = done;
  *duplicates = t.server_.accepted_ids().size() - ids.size();
}

TEST_F(UploadE2eTest, SecondUploaderExitsZeroAtOnceAndSpoolStaysWritable) {
  auto ids = Fill(600);
  // Stall the second request: the first uploader has then already acked
  // and peeked again, and must have let go of the spool before posting.
  ScriptedResponse stall;
  stall.stall = true;
  server_.Plan({ScriptedResponse::Status(200), stall});
  testing::Child first(Argv(), Env());
  ASSERT_TRUE(server_.WaitForRequests(2, seconds(30)));

  auto start = std::chrono::steady_clock::now();
  ProcessResult second = Upload();
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  EXPECT_NE(second.err.find("another upload is running"), std::string::npos)
      << second.err;
  EXPECT_EQ(server_.request_count(), 2u);

  // The first uploader is waiting on the network: the spool is not held, so
  // an append lands in the database, not the inbox.
  std::vector<std::string> more;
  for (int i = 0; i < 50; ++i)
    more.push_back(Message("late" + std::to_string(i)));
  spool::SpoolOptions quick = SpoolOptions();
  quick.lock_wait = milliseconds(200);
  spool::Spool other(quick);
  auto where = other.Append(more);
  ASSERT_TRUE(where.ok()) << where.status().ToString();
  EXPECT_EQ(*where, spool::AppendTarget::kDatabase);

  server_.Release();
  ProcessResult done = first.Wait();
  EXPECT_EQ(done.exit_code, 0);
  for (int i = 0; i < 50; ++i) ids.insert("late" + std::to_string(i));
  EXPECT_EQ(Accepted(), ids);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploadE2eTest, ProcessesTrackingDuringAnUploadLoseNothing) {
  if (!std::filesystem::exists(testing::TestBinPath("spool_helper"))) {
    GTEST_SKIP() << "spool_helper not built";
  }
  auto ids = Fill(2000, "seed");
  // A slow collector so the upload overlaps the writers.
  ScriptedResponse slow;
  slow.delay = milliseconds(100);
  server_.SetDefault(slow);
  testing::Child uploader(Argv({"--max-time", "60"}), Env());
  std::vector<std::unique_ptr<testing::Child>> writers;
  for (int w = 0; w < 3; ++w) {
    writers.push_back(std::make_unique<testing::Child>(
        std::vector<std::string>{testing::TestBinPath("spool_helper"), "append",
                                 "--dir", (dir_ / "analytics").string(),
                                 "--count", "300", "--max-batch", "10", "--id",
                                 "w" + std::to_string(w), "--report"},
        Env()));
  }
  std::set<std::string> reported;
  for (auto& w : writers) {
    while (auto line = w->ReadLine(seconds(60))) {
      // "ok <database|inbox> <id>"
      auto space = line->rfind(' ');
      reported.insert(line->substr(space + 1));
    }
    EXPECT_EQ(w->Wait().exit_code, 0);
  }
  EXPECT_EQ(reported.size(), 900u);
  ProcessResult up = uploader.Wait(seconds(90));
  EXPECT_TRUE(up.exit_code == 0 || up.exit_code == 75) << up.exit_code;

  // Every event is delivered or still pending; none is both deleted and
  // unsent.
  std::set<std::string> accepted = Accepted();
  std::set<std::string> pending;
  auto entries = spool_.Peek("", 1u << 30, 1'000'000);
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) {
    auto at = e.json.find("\"messageId\":\"");
    auto start = at + 13;
    pending.insert(e.json.substr(start, e.json.find('"', start) - start));
  }
  ids.insert(reported.begin(), reported.end());
  for (const auto& id : ids) {
    EXPECT_TRUE(accepted.count(id) || pending.count(id)) << id << " lost";
  }
}

TEST_F(UploadE2eTest, UploaderDoesNotDropEventsPastTheWritersDefaultBounds) {
  // A writer with raised bounds spooled more than the default 100,000
  // events; the uploader must deliver them all, not trim the spool first.
  spool::SpoolOptions big = SpoolOptions();
  big.max_events = 200'000;
  spool::Spool writer(big);
  std::vector<std::string> msgs;
  for (int i = 0; i < 100'050; ++i)
    msgs.push_back("{\"messageId\":\"b" + std::to_string(i) + "\"}");
  ASSERT_TRUE(writer.Append(msgs).ok());
  ProcessResult r = Upload({"--max-time", "150"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Accepted().size(), 100'050u);
  EXPECT_EQ(spool_.Stats()->dropped.size(), 0u);
}

TEST_F(UploadE2eTest, OptOutBetweenTwoRequestsSendsNothingMore) {
  Fill(1500);
  std::filesystem::path config = dir_ / "config.yaml";
  server_.SetResponder([config](const testing::ReceivedRequest&)
                           -> std::optional<ScriptedResponse> {
    testing::WriteFile(config, "analytics_opt_in: false\n");
    return std::nullopt;
  });
  ProcessResult r = Upload();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_EQ(Pending(), 0u);  // purged
  EXPECT_NE(r.err.find("opted out"), std::string::npos) << r.err;
}

TEST_F(UploadE2eTest, OptedOutBeforeTheRunPurgesAndSendsNothing) {
  Fill(10);
  auto env = Env();
  env.env["DO_NOT_TRACK"] = "1";
  ProcessResult r = testing::Run(Argv(), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server_.request_count(), 0u);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploadE2eTest, DryRunPrintsBodiesAndChangesNothing) {
  Fill(600);
  ProcessResult r = Upload({"--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server_.request_count(), 0u);
  EXPECT_EQ(Pending(), 600u);
  size_t lines = 0;
  for (char c : r.out) lines += c == '\n';
  EXPECT_EQ(lines, 2u);
  EXPECT_TRUE(r.out.starts_with("{\"batch\":[{\"type\":\"track\""));
  EXPECT_EQ(r.err.find("drained"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dry run: 2 requests printed"), std::string::npos)
      << r.err;
}

TEST_F(UploadE2eTest, JsonSummaryOnStdoutAndQuietStderr) {
  Fill(5);
  ProcessResult r = Upload({"--json", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(
      r.out.starts_with("{\"schema\":1,\"tool\":\"zenml-upload\","
                        "\"outcome\":\"success\",\"exit_code\":0,"
                        "\"sent\":5,\"requests\":1,"))
      << r.out;
}

TEST_F(UploadE2eTest, QuietIsSilentOnTryLaterAndLoudOnWhatNeedsAnOperator) {
  Fill(5);
  server_.SetDefault(ScriptedResponse::Status(503));
  ProcessResult later = Upload({"--quiet", "--max-time", "1"});
  EXPECT_EQ(later.exit_code, 75);
  EXPECT_EQ(later.err, "");
  server_.SetDefault(ScriptedResponse::Status(401));
  ProcessResult key = Upload({"--quiet"});
  EXPECT_EQ(key.exit_code, 77);
  EXPECT_EQ(std::count(key.err.begin(), key.err.end(), '\n'), 1) << key.err;
  EXPECT_EQ(Pending(), 5u);
}

TEST_F(UploadE2eTest, NoWriteKeyAndNothingToSendExitsZeroSilently) {
  ProcessResult r = testing::Run({testing::BinPath("zenml-upload"),
                                  "--endpoint", server_.url(), "--quiet"},
                                 Env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(UploadE2eTest, AMissingConfigDirIsAConfigurationError) {
  ProcessResult r = Upload({"--config-dir", (dir_ / "no-such-dir").string()});
  EXPECT_EQ(r.exit_code, 78) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

TEST_F(UploadE2eTest, HelpListsEveryExitCodeOfTheManual) {
  ProcessResult help =
      testing::Run({testing::BinPath("zenml-upload"), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  auto footer = help.out.find("Exit status:");
  ASSERT_NE(footer, std::string::npos) << help.out;
  for (const char* code : {" 0 ", " 64 ", " 65 ", " 69 ", " 70 ", " 74 ",
                           " 75 ", " 77 ", " 78 "}) {
    std::string text = help.out.substr(footer);
    for (char& c : text) c = c == '\n' ? ' ' : c;
    EXPECT_NE(text.find(code), std::string::npos) << code;
  }
}

TEST_F(UploadE2eTest, OneBatchIsOneBatch) {
  Fill(5);
  ProcessResult r = testing::Run({testing::BinPath("zenml-upload"), "--to-file",
                                  (dir_ / "one.bundle").string()},
                                 Env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("wrote 5 events in 1 batch to"), std::string::npos)
      << r.err;
}

TEST_F(UploadE2eTest, MissingWriteKeyExits78WithOneLine) {
  Fill(5);
  ProcessResult r = testing::Run(
      {testing::BinPath("zenml-upload"), "--endpoint", server_.url()}, Env());
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("write key"), std::string::npos);
  EXPECT_EQ(Pending(), 5u);
  // Recorded, so `status` can say why nothing is uploaded.
  auto last = spool_.Stats()->last_upload;
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->outcome, "config_error");
  EXPECT_NE(last->detail.find("write key"), std::string::npos);
}

TEST_F(UploadE2eTest, WriteKeyAndEndpointComeFromTheEnvironment) {
  auto ids = Fill(5);
  auto env = Env();
  env.env["ZENML_SEGMENT_WRITE_KEY"] = kKey;
  env.env["ZENML_ANALYTICS_ENDPOINT"] = server_.url();
  ProcessResult r = testing::Run({testing::BinPath("zenml-upload")}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Accepted(), ids);
  CheckEveryRequest();
}

// The key out of argv: <config dir>/analytics/upload.yaml and
// --write-key-file, both refused unless private.
TEST_F(UploadE2eTest, WriteKeyAndEndpointComeFromAPrivateUploadYaml) {
  auto ids = Fill(5);
  std::filesystem::path yaml = dir_ / "analytics" / "upload.yaml";
  testing::WriteFile(yaml, std::string("write_key: ") + kKey + "\nendpoint: " +
                               server_.url() + "\nmax_time: 30\n");
  std::filesystem::permissions(yaml, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
  ProcessResult r = testing::Run({testing::BinPath("zenml-upload")}, Env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Accepted(), ids);
  CheckEveryRequest();  // the key of the file, in the header and the body

  Fill(5, "n");
  std::filesystem::permissions(yaml, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  ProcessResult open = testing::Run({testing::BinPath("zenml-upload")}, Env());
  EXPECT_EQ(open.exit_code, 78) << open.err;
  EXPECT_EQ(std::count(open.err.begin(), open.err.end(), '\n'), 1) << open.err;
  EXPECT_NE(open.err.find("chmod 600"), std::string::npos) << open.err;
  EXPECT_EQ(open.err.find(kKey), std::string::npos) << open.err;
  EXPECT_EQ(Pending(), 5u);

  testing::WriteFile(yaml, "write_kee: typo\n");
  std::filesystem::permissions(yaml, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
  ProcessResult typo = testing::Run({testing::BinPath("zenml-upload")}, Env());
  EXPECT_EQ(typo.exit_code, 78) << typo.err;
  EXPECT_NE(typo.err.find("unknown key 'write_kee'"), std::string::npos)
      << typo.err;
}

// /etc/zenml/upload.yaml (here $ZENML_SYSTEM_UPLOAD_CONFIG): read after the
// user's file, which wins key by key; refused unless root's and private.
TEST_F(UploadE2eTest, TheSystemUploadYamlFillsWhatTheUsersLeavesOut) {
  // The system file must be root's: only a root test can write one.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a root-owned file)";
  auto ids = Fill(5);
  std::filesystem::path system = dir_ / "etc-zenml-upload.yaml";
  testing::WriteFile(system, "write_key: system-key-never-used\nendpoint: " +
                                 server_.url() + "\n");
  ASSERT_EQ(::chmod(system.c_str(), 0600), 0);
  std::filesystem::path yaml = dir_ / "analytics" / "upload.yaml";
  testing::WriteFile(yaml, std::string("write_key: ") + kKey + "\n");
  ASSERT_EQ(::chmod(yaml.c_str(), 0600), 0);
  auto env = Env();
  env.env["ZENML_SYSTEM_UPLOAD_CONFIG"] = system.string();
  ProcessResult r = testing::Run({testing::BinPath("zenml-upload")}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Accepted(), ids);  // the system file's endpoint
  CheckEveryRequest();         // the user's key

  // A key every user may read: refused, naming the file; nothing sent.
  Fill(5, "n");
  ASSERT_EQ(::chmod(system.c_str(), 0644), 0);
  ProcessResult open = testing::Run({testing::BinPath("zenml-upload")}, env);
  EXPECT_EQ(open.exit_code, 78) << open.err;
  EXPECT_NE(open.err.find(system.string()), std::string::npos) << open.err;
  EXPECT_EQ(Pending(), 5u);

  {
    ASSERT_EQ(::chmod(system.c_str(), 0600), 0);
    ASSERT_EQ(::chown(system.c_str(), 65534, 65534), 0);
    ProcessResult foreign =
        testing::Run({testing::BinPath("zenml-upload")}, env);
    EXPECT_EQ(foreign.exit_code, 78) << foreign.err;
    EXPECT_NE(foreign.err.find("not root"), std::string::npos) << foreign.err;
    EXPECT_EQ(Pending(), 5u);
  }
}

TEST_F(UploadE2eTest, WriteKeyFileMustBePrivate) {
  auto ids = Fill(5);
  std::filesystem::path key_file = dir_ / "segment.key";
  testing::WriteFile(key_file, std::string(kKey) + "\n");
  std::filesystem::permissions(key_file, std::filesystem::perms::owner_read);
  ProcessResult r =
      testing::Run({testing::BinPath("zenml-upload"), "--write-key-file",
                    key_file.string(), "--endpoint", server_.url()},
                   Env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Accepted(), ids);
  CheckEveryRequest();

  Fill(5, "n");
  std::filesystem::permissions(key_file, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  ProcessResult open =
      testing::Run({testing::BinPath("zenml-upload"), "--write-key-file",
                    key_file.string(), "--endpoint", server_.url()},
                   Env());
  EXPECT_EQ(open.exit_code, 78) << open.err;
  EXPECT_NE(open.err.find("refused"), std::string::npos) << open.err;
  EXPECT_EQ(Pending(), 5u);
}

TEST_F(UploadE2eTest, BadUsageExits64WithAHint) {
  ProcessResult r = Upload({"--max-time", "-3"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("Try 'zenml-upload --help'."), std::string::npos);
  ProcessResult help =
      testing::Run({testing::BinPath("zenml-upload"), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--max-time"), std::string::npos);
}

}  // namespace
}  // namespace zenml::uploader
