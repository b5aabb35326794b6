#include "uploader/uploader.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/timestamp.h"
#include "spool/spool.h"
#include "tests/testing/temp_dir.h"
#include "uploader/gzip.h"
#include "uploader/request_feed.h"

namespace zenml::uploader {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// "m<i>", the messageId UploaderTest::Message(i) carries. Built with +=, not
// `"m" + std::to_string(i)`: GCC 12 at -O3 misreports that operator+ form
// (-Wrestrict, a known false positive), which breaks a Release -Werror build.
std::string MessageId(int i) {
  std::string id = "m";
  id += std::to_string(i);
  return id;
}

// One request as the fake transport saw it, decoded.
struct Seen {
  HttpRequest request;
  std::string json;  // the body, gunzipped
  std::vector<std::string> ids;
  std::string sent_at;
  std::string write_key;
};

// A scripted Transport: answers from `script` in order, then 200; records
// every request. `on_post` runs before each answer (to append to the spool,
// change consent, advance the clock, ...).
class FakeTransport final : public Transport {
 public:
  using Script = std::function<core::Result<HttpResponse>(const Seen&)>;

  core::Result<HttpResponse> Post(const HttpRequest& request) override {
    Seen s;
    s.request = request;
    bool gzip = false;
    for (const auto& [k, v] : request.headers) {
      if (k == "Content-Encoding" && v == "gzip") gzip = true;
    }
    if (gzip) {
      auto plain = GzipDecompress(request.body);
      EXPECT_TRUE(plain.ok());
      s.json = plain.ok() ? *plain : "";
    } else {
      s.json = request.body;
    }
    rapidjson::Document doc;
    doc.Parse(s.json.c_str());
    EXPECT_FALSE(doc.HasParseError()) << s.json.substr(0, 200);
    if (!doc.HasParseError()) {
      for (const auto& m : doc["batch"].GetArray()) {
        s.ids.emplace_back(m["messageId"].GetString());
      }
      s.sent_at = doc["sentAt"].GetString();
      s.write_key = doc["writeKey"].GetString();
    }
    seen.push_back(s);
    if (on_post) on_post(s);
    if (responder) return responder(s);
    if (!script.empty()) {
      auto next = script.front();
      script.erase(script.begin());
      return next;
    }
    return Status(200);
  }

  static core::Result<HttpResponse> Status(int status, std::string body = "",
                                           std::string retry_after = "") {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    if (!retry_after.empty()) r.headers = {{"Retry-After", retry_after}};
    return r;
  }

  std::vector<core::Result<HttpResponse>> script;
  Script responder;
  std::function<void(const Seen&)> on_post;
  std::vector<Seen> seen;
};

class UploaderTest : public ::testing::Test {
 protected:
  UploaderTest() : spool_(Options()) {}

  spool::SpoolOptions Options() {
    spool::SpoolOptions o;
    o.dir = dir_ / "analytics";
    o.sync = false;
    o.clock = &clock_;
    return o;
  }

  // A message as the client spools it, with messageId "m<i>".
  static std::string Message(int i, size_t pad = 40) {
    return "{\"type\":\"track\",\"event\":\"Pipeline run\",\"anonymousId\":"
           "\"a\",\"messageId\":\"m" +
           std::to_string(i) + "\",\"properties\":{\"pad\":\"" +
           std::string(pad, 'x') + "\"}}";
  }

  std::vector<std::string> Fill(int from, int n, size_t pad = 40) {
    std::vector<std::string> msgs;
    for (int i = from; i < from + n; ++i) msgs.push_back(Message(i, pad));
    EXPECT_TRUE(spool_.Append(msgs).ok());
    return msgs;
  }

  UploaderOptions Opts() {
    UploaderOptions o;
    o.endpoint = "http://collector.invalid/v1/batch";
    o.write_key = "test-write-key";
    o.user_agent = "zenml-analytics/9.9.9";
    o.random = [] { return 0.0; };
    o.max_time = seconds(60);
    return o;
  }

  UploadSummary RunOnce(UploaderOptions o) {
    Uploader u(spool_, transport_, clock_, std::move(o));
    auto r = u.Run();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : UploadSummary{};
  }

  uint64_t Pending() {
    auto s = spool_.Stats();
    EXPECT_TRUE(s.ok());
    return s.ok() ? s->count : 0;
  }

  std::set<std::string> PendingIds() {
    std::set<std::string> ids;
    auto entries = spool_.Peek("", 1u << 30, 1'000'000);
    EXPECT_TRUE(entries.ok());
    for (const auto& e : *entries) {
      rapidjson::Document doc;
      doc.Parse(e.json.c_str());
      ids.insert(doc["messageId"].GetString());
    }
    return ids;
  }

  std::vector<std::string> SentIds(size_t from = 0) {
    std::vector<std::string> ids;
    for (size_t i = from; i < transport_.seen.size(); ++i) {
      ids.insert(ids.end(), transport_.seen[i].ids.begin(),
                 transport_.seen[i].ids.end());
    }
    return ids;
  }

  testing::TempDir dir_;
  core::FakeClock clock_;
  spool::Spool spool_;
  FakeTransport transport_;
};

TEST_F(UploaderTest, EmptySpoolSendsNothing) {
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kNothingToSend);
  EXPECT_EQ(s.requests, 0u);
  EXPECT_TRUE(transport_.seen.empty());
  EXPECT_EQ(ExitCodeFor(s.outcome), 0);
}

TEST_F(UploaderTest, PlainSuccessSendsEveryEventOnceInOrderAndEmptiesSpool) {
  auto msgs = Fill(0, 1200);
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.sent, 1200u);
  EXPECT_EQ(s.requests, 3u);  // 500 + 500 + 200
  EXPECT_EQ(s.remaining, 0u);
  EXPECT_EQ(Pending(), 0u);
  std::vector<std::string> expected;
  for (int i = 0; i < 1200; ++i) expected.push_back(MessageId(i));
  EXPECT_EQ(SentIds(), expected);
  // Messages travel byte for byte as spooled.
  EXPECT_EQ(transport_.seen[2].json.substr(10, msgs[1000].size()), msgs[1000]);
  auto stats = spool_.Stats();
  ASSERT_TRUE(stats->last_upload.has_value());
  EXPECT_EQ(stats->last_upload->outcome, "success");
  EXPECT_EQ(stats->last_upload->sent, 1200u);
  EXPECT_EQ(stats->last_upload->requests, 3u);
}

TEST_F(UploaderTest, EveryRequestCarriesTheSegmentHeadersAndAuth) {
  Fill(0, 3);
  RunOnce(Opts());
  ASSERT_EQ(transport_.seen.size(), 1u);
  const HttpRequest& r = transport_.seen[0].request;
  EXPECT_EQ(r.url, "http://collector.invalid/v1/batch");
  std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
  EXPECT_EQ(h["Content-Type"], "application/json");
  EXPECT_EQ(h["Content-Encoding"], "gzip");
  EXPECT_EQ(h["User-Agent"], "zenml-analytics/9.9.9");
  // base64("test-write-key:")
  EXPECT_EQ(h["Authorization"], "Basic dGVzdC13cml0ZS1rZXk6");
  EXPECT_EQ(transport_.seen[0].write_key, "test-write-key");
  EXPECT_EQ(transport_.seen[0].sent_at, core::FormatTimestamp(clock_.Now()));
}

TEST_F(UploaderTest, NoGzipSendsPlainJson) {
  Fill(0, 3);
  UploaderOptions o = Opts();
  o.gzip = false;
  RunOnce(o);
  ASSERT_EQ(transport_.seen.size(), 1u);
  for (const auto& [k, v] : transport_.seen[0].request.headers) {
    EXPECT_NE(k, "Content-Encoding");
  }
  EXPECT_EQ(transport_.seen[0].request.body[0], '{');
}

TEST_F(UploaderTest, Http500Then500Then200RetriesWithBackoffAndDeliversOnce) {
  Fill(0, 10);
  transport_.script = {FakeTransport::Status(500), FakeTransport::Status(503),
                       FakeTransport::Status(200)};
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.sent, 10u);
  EXPECT_EQ(clock_.slept(), milliseconds(500 + 1000));
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploaderTest, DeliveredEventsAreDeletedBeforeAnyWaitAndAtTheEnd) {
  Fill(0, 1200);
  transport_.script = {FakeTransport::Status(200), FakeTransport::Status(200),
                       FakeTransport::Status(503)};
  std::vector<uint64_t> pending_at_post;
  transport_.on_post = [&](const Seen&) {
    pending_at_post.push_back(Pending());
  };
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  ASSERT_EQ(pending_at_post.size(), 4u);
  // Acks are batched per peeked set (one spool transaction for several
  // requests), but the retry after the 503 waits: the 1000 delivered events
  // were deleted before that wait.
  EXPECT_EQ(pending_at_post[3], 200u);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploaderTest, SentAtDiffersBetweenAttemptsWhileMessageIdsStayTheSame) {
  Fill(0, 10);
  transport_.script = {FakeTransport::Status(500), FakeTransport::Status(500),
                       FakeTransport::Status(200)};
  RunOnce(Opts());
  ASSERT_EQ(transport_.seen.size(), 3u);
  EXPECT_NE(transport_.seen[0].sent_at, transport_.seen[1].sent_at);
  EXPECT_NE(transport_.seen[1].sent_at, transport_.seen[2].sent_at);
  EXPECT_EQ(transport_.seen[0].ids, transport_.seen[1].ids);
  EXPECT_EQ(transport_.seen[1].ids, transport_.seen[2].ids);
}

TEST_F(UploaderTest, APreparedBodyThatWaitedTooLongIsSentWithAFreshSentAt) {
  Fill(0, 1500);  // three requests, all prepared by the feed at once
  const std::string prepared_at = core::FormatTimestamp(clock_.Now());
  transport_.on_post = [&](const Seen&) {
    if (transport_.seen.size() == 1) clock_.Advance(kMaxPreparedAge * 2);
  };
  RunOnce(Opts());
  ASSERT_EQ(transport_.seen.size(), 3u);
  EXPECT_EQ(transport_.seen[0].sent_at, prepared_at);
  // The first answer took two seconds: the next bodies are built again.
  EXPECT_EQ(transport_.seen[1].sent_at, core::FormatTimestamp(clock_.Now()));
  EXPECT_EQ(transport_.seen[2].sent_at, core::FormatTimestamp(clock_.Now()));
  EXPECT_EQ(transport_.seen[1].ids.size(), 500u);
}

TEST_F(UploaderTest, TransportErrorsAreRetriedLikeServerErrors) {
  Fill(0, 4);
  transport_.script = {core::Status::Unavailable("connection reset"),
                       core::Status::DeadlineExceeded("timed out"),
                       FakeTransport::Status(200)};
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploaderTest, Http429WithinBudgetWaitsRetryAfterThenResends) {
  Fill(0, 10);
  transport_.script = {FakeTransport::Status(429, "", "7")};
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(clock_.slept(), seconds(7));
  EXPECT_EQ(Pending(), 0u);
  EXPECT_FALSE(spool_.Stats()->not_before.has_value());
}

TEST_F(UploaderTest, Http429RetryAfterIsCappedAtFiveMinutes) {
  Fill(0, 10);
  transport_.script = {FakeTransport::Status(429, "", "86400")};
  UploaderOptions o = Opts();
  o.max_time = seconds(400);
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(clock_.slept(), seconds(300));
}

TEST_F(UploaderTest, Http429BeyondBudgetStoresNotBeforeAndNextRunHonoursIt) {
  Fill(0, 10);
  transport_.script = {FakeTransport::Status(429, "", "120")};
  UploaderOptions o = Opts();
  o.max_time = seconds(60);
  core::WallTime start = clock_.Now();
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kRateLimited);
  EXPECT_EQ(ExitCodeFor(s.outcome), 75);
  ASSERT_TRUE(s.not_before.has_value());
  EXPECT_EQ(*s.not_before, start + seconds(120));
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(Pending(), 10u);
  EXPECT_EQ(spool_.Stats()->not_before, start + seconds(120));

  // A run 30 s later cannot wait 90 s within a 60 s budget: sends nothing.
  clock_.Advance(seconds(30));
  s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kRateLimited);
  EXPECT_EQ(transport_.seen.size(), 1u);
  EXPECT_EQ(spool_.Stats()->not_before, start + seconds(120));

  // 70 s after the 429 the remaining 50 s fit the budget: it waits, then
  // sends, and the success clears the not-before time.
  clock_.Advance(seconds(40));
  s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_GE(clock_.Now(), start + seconds(120));
  EXPECT_EQ(transport_.seen.size(), 2u);
  EXPECT_EQ(Pending(), 0u);
  EXPECT_FALSE(spool_.Stats()->not_before.has_value());
}

TEST_F(UploaderTest, PoisonMessageIsDeadLetteredAloneAndAllOthersDelivered) {
  Fill(0, 100);
  // Like Segment: a 400 for any request that contains the poison message.
  transport_.responder = [](const Seen& s) {
    for (const auto& id : s.ids) {
      if (id == "m37") return FakeTransport::Status(400, "Invalid message");
    }
    return FakeTransport::Status(200);
  };
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.sent, 99u);
  EXPECT_EQ(s.dead_lettered, 1u);
  EXPECT_EQ(Pending(), 0u);
  std::set<std::string> delivered;
  for (const auto& seen : transport_.seen) {
    bool poisoned = false;
    for (const auto& id : seen.ids) poisoned |= id == "m37";
    if (!poisoned) delivered.insert(seen.ids.begin(), seen.ids.end());
  }
  EXPECT_EQ(delivered.size(), 99u);
  EXPECT_EQ(delivered.count("m37"), 0u);
  // Halving 100 down to one message: about 2*log2(100) requests, not 100.
  EXPECT_LE(s.requests, 16u);
  auto dead = spool_.PeekDeadLetters(0, 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].status, 400);
  EXPECT_NE((*dead)[0].reason.find("Invalid message"), std::string::npos);
  EXPECT_NE((*dead)[0].message.find("\"m37\""), std::string::npos);
}

TEST_F(UploaderTest, AServerRejectingEverythingTripsTheBreakerKeepingAll) {
  Fill(0, 300);
  transport_.responder = [](const Seen&) {
    return FakeTransport::Status(400, "Bad Request");
  };
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kRejected);
  EXPECT_EQ(ExitCodeFor(s.outcome), 69);
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.dead_lettered, 0u);
  EXPECT_EQ(s.remaining, 300u);
  EXPECT_EQ(Pending(), 300u);
  EXPECT_EQ(spool_.Stats()->dead_letters, 0u);
  // Halving 300 down to one message, then three single messages refused.
  EXPECT_LE(s.requests, 14u);
  EXPECT_NE(s.detail.find("rejects every"), std::string::npos) << s.detail;
  auto stats = spool_.Stats();
  ASSERT_TRUE(stats->last_upload.has_value());
  EXPECT_EQ(stats->last_upload->outcome, "rejected");
}

TEST_F(UploaderTest, TwoPoisonMessagesInARowAreDeadLetteredAndTheRestSent) {
  Fill(0, 100);
  transport_.responder = [](const Seen& s) {
    for (const auto& id : s.ids) {
      if (id == "m40" || id == "m41") return FakeTransport::Status(400);
    }
    return FakeTransport::Status(200);
  };
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.sent, 98u);
  EXPECT_EQ(s.dead_lettered, 2u);
  EXPECT_EQ(Pending(), 0u);
  EXPECT_EQ(spool_.Stats()->dead_letters, 2u);
}

TEST_F(UploaderTest, ALoneMessageRefusedIsDeadLetteredAtTheEndOfTheRun) {
  Fill(0, 1);
  transport_.responder = [](const Seen&) {
    return FakeTransport::Status(400, "Invalid");
  };
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.dead_lettered, 1u);
  EXPECT_EQ(Pending(), 0u);
  EXPECT_EQ(spool_.Stats()->dead_letters, 1u);
}

TEST_F(UploaderTest, RefusedMessagesAreKeptWhenTheRunStopsBeforeAnAcceptance) {
  Fill(0, 4);
  // m0 refused alone, then the server fails until the budget is spent: m0
  // is not dead-lettered on a single refusal nobody confirmed.
  transport_.responder = [](const Seen& s) {
    if (s.ids.size() > 1 || s.ids[0] == "m0") {
      return FakeTransport::Status(400);
    }
    return FakeTransport::Status(503);
  };
  UploaderOptions o = Opts();
  o.max_time = seconds(3);
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kRetryLater);
  EXPECT_EQ(s.dead_lettered, 0u);
  EXPECT_EQ(Pending(), 4u);
}

TEST_F(UploaderTest, AStopRequestEndsTheRunDeletingWhatWasAccepted) {
  Fill(0, 1500);
  bool stop = false;
  transport_.on_post = [&](const Seen&) { stop = true; };
  UploaderOptions o = Opts();
  o.stop_requested = [&] { return stop; };
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kInterrupted);
  EXPECT_EQ(ExitCodeFor(s.outcome), 75);
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.sent, 500u);
  EXPECT_EQ(Pending(), 1000u);  // the accepted request's events are deleted
  auto stats = spool_.Stats();
  ASSERT_TRUE(stats->last_upload.has_value());
  EXPECT_EQ(stats->last_upload->outcome, "interrupted");
  EXPECT_EQ(stats->last_upload->sent, 500u);
}

TEST_F(UploaderTest, AStopRequestEndsABackoffWaitAtOnce) {
  Fill(0, 10);
  bool stop = false;
  transport_.responder = [&](const Seen&) {
    stop = true;
    return FakeTransport::Status(503);
  };
  UploaderOptions o = Opts();
  o.stop_requested = [&] { return stop; };
  auto before = clock_.Monotonic();
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kInterrupted);
  EXPECT_EQ(s.requests, 1u);
  EXPECT_LT(clock_.Monotonic() - before, milliseconds(200));
  EXPECT_EQ(Pending(), 10u);
}

TEST_F(UploaderTest, Http413SplitsTheRequestInHalvesUntilAccepted) {
  Fill(0, 64);
  // A collector with a small body limit: 413 for more than 16 messages.
  transport_.responder = [](const Seen& s) {
    return FakeTransport::Status(s.ids.size() > 16 ? 413 : 200,
                                 "Request Entity Too Large");
  };
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.sent, 64u);
  EXPECT_EQ(s.dead_lettered, 0u);
  EXPECT_EQ(s.requests, 1u + 2u + 4u);  // 64 -> 2x32 -> 4x16
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploaderTest, Http401StopsKeepsEverythingAndReportsTheKey) {
  Fill(0, 600);
  transport_.script = {FakeTransport::Status(401, "Unauthorized")};
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kKeyRejected);
  EXPECT_EQ(ExitCodeFor(s.outcome), 77);
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(Pending(), 600u);
  EXPECT_NE(s.detail.find("test…"), std::string::npos) << s.detail;
  EXPECT_EQ(s.detail.find("test-write-key"), std::string::npos);
  EXPECT_EQ(spool_.Stats()->last_upload->outcome, "key_rejected");
}

TEST_F(UploaderTest, Http404IsAConfigurationErrorThatKeepsEverything) {
  Fill(0, 5);
  transport_.script = {FakeTransport::Status(404)};
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kConfigError);
  EXPECT_EQ(ExitCodeFor(s.outcome), 78);
  EXPECT_EQ(Pending(), 5u);
}

TEST_F(UploaderTest, BudgetEndingMidBackoffStopsAtOnceWithEverythingKept) {
  Fill(0, 10);
  transport_.responder = [](const Seen&) { return FakeTransport::Status(503); };
  UploaderOptions o = Opts();
  o.max_time = seconds(5);
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kRetryLater);
  EXPECT_EQ(ExitCodeFor(s.outcome), 75);
  // 0.5 + 1 + 2 = 3.5 s slept; the next delay (4 s) would pass 5 s: stop
  // without sleeping it.
  EXPECT_EQ(s.requests, 4u);
  EXPECT_EQ(clock_.slept(), milliseconds(3500));
  EXPECT_EQ(Pending(), 10u);
  EXPECT_EQ(spool_.Stats()->last_upload->outcome, "retry");
}

TEST_F(UploaderTest, SlowRequestsUseUpTheBudgetAndTheRunStops) {
  Fill(0, 10);
  // Each request "takes" 20 s and times out.
  transport_.responder = [this](const Seen&) -> core::Result<HttpResponse> {
    clock_.Advance(seconds(20));
    return core::Status::DeadlineExceeded("timed out");
  };
  UploaderOptions o = Opts();
  o.max_time = seconds(50);
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kRetryLater);
  EXPECT_LE(s.requests, 3u);
  for (const auto& seen : transport_.seen) {
    EXPECT_LE(seen.request.timeout, seconds(50));
  }
  EXPECT_EQ(Pending(), 10u);
}

TEST_F(UploaderTest, OptOutBetweenTwoRequestsSendsNothingMoreAndPurges) {
  Fill(0, 1500);
  bool consent = true;
  transport_.on_post = [&](const Seen&) { consent = false; };
  UploaderOptions o = Opts();
  o.consent = [&] { return consent; };
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kOptedOut);
  EXPECT_EQ(ExitCodeFor(s.outcome), 0);
  EXPECT_EQ(transport_.seen.size(), 1u);
  EXPECT_EQ(s.sent, 500u);
  EXPECT_EQ(s.purged, 1000u);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploaderTest, OptedOutFromTheStartSendsNothing) {
  Fill(0, 5);
  UploaderOptions o = Opts();
  o.consent = [] { return false; };
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kOptedOut);
  EXPECT_TRUE(transport_.seen.empty());
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(UploaderTest, EventsAppendedDuringTheUploadAreNotDeletedUnsent) {
  Fill(0, 700);
  int next = 10'000;
  transport_.on_post = [&](const Seen&) {
    if (next < 10'300) {
      std::vector<std::string> more;
      for (int i = 0; i < 100; ++i) more.push_back(Message(next++));
      ASSERT_TRUE(spool_.Append(more).ok());
    }
  };
  // Fail once in the middle so the run ends with work left.
  transport_.script = {FakeTransport::Status(200), FakeTransport::Status(401)};
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kKeyRejected);
  // Every event ever appended is either acknowledged or still pending.
  std::set<std::string> acked(transport_.seen[0].ids.begin(),
                              transport_.seen[0].ids.end());
  std::set<std::string> pending = PendingIds();
  for (int i = 0; i < 700; ++i) {
    std::string id = MessageId(i);
    EXPECT_EQ(acked.count(id) + pending.count(id), 1u) << id;
  }
  for (int i = 10'000; i < next; ++i) {
    EXPECT_EQ(pending.count(MessageId(i)), 1u) << i;
  }
}

TEST_F(UploaderTest, EventsAppendedDuringTheUploadAreSentInTheSameRun) {
  Fill(0, 10);
  bool appended = false;
  transport_.on_post = [&](const Seen&) {
    if (!appended) {
      appended = true;
      ASSERT_TRUE(spool_.Append(std::vector<std::string>{Message(99)}).ok());
    }
  };
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.sent, 11u);
  EXPECT_EQ(SentIds().back(), "m99");
}

TEST_F(UploaderTest, MessageOver32000BytesIsDeadLetteredWithoutBeingSent) {
  Fill(0, 2);
  Fill(2, 1, 33'000);
  Fill(3, 2);
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(s.sent, 4u);
  EXPECT_EQ(s.dead_lettered, 1u);
  for (const auto& seen : transport_.seen) {
    for (const auto& id : seen.ids) EXPECT_NE(id, "m2");
  }
  auto dead = spool_.PeekDeadLetters(0, 10);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].status, 0);
}

TEST_F(UploaderTest, EveryBodyStaysWithin475000BytesAnd500Messages) {
  // 30,000-byte messages: 15 fit a request, not 16.
  Fill(0, 40, 30'000);
  Fill(40, 1200, 100);
  UploadSummary s = RunOnce(Opts());
  EXPECT_EQ(s.sent, 1240u);
  for (const auto& seen : transport_.seen) {
    EXPECT_LE(seen.json.size(), kMaxRequestBytes);
    EXPECT_LE(seen.ids.size(), kMaxBatchMessages);
  }
  EXPECT_EQ(transport_.seen[0].ids.size(), 15u);
}

TEST_F(UploaderTest, DryRunPrintsTheBodiesAndChangesNothing) {
  Fill(0, 600);
  std::vector<std::string> bodies;
  UploaderOptions o = Opts();
  o.dry_run = true;
  o.on_body = [&](std::string_view b) { bodies.emplace_back(b); };
  UploadSummary s = RunOnce(o);
  EXPECT_EQ(s.outcome, UploadOutcome::kDryRun);
  EXPECT_TRUE(transport_.seen.empty());
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_TRUE(bodies[0].starts_with("{\"batch\":[{"));
  // The key is masked, at the same length, so the layout is the real one.
  EXPECT_TRUE(bodies[0].ends_with("\"writeKey\":\"test**********\"}"))
      << bodies[0].substr(bodies[0].size() - 60);
  EXPECT_EQ(Pending(), 600u);
  EXPECT_FALSE(spool_.Stats()->last_upload.has_value());
}

TEST(RedactWriteKeyTest, NeverShowsMoreThanFourCharacters) {
  EXPECT_EQ(RedactWriteKey("abcdefghijklmnop"), "abcd… (16 chars)");
  EXPECT_EQ(RedactWriteKey("short"), "**** (5 chars)");
  EXPECT_EQ(BasicAuthorization("key"), "Basic a2V5Og==");
  EXPECT_EQ(BasicAuthorization("ab"), "Basic YWI6");
  EXPECT_EQ(BasicAuthorization("a"), "Basic YTo=");
}

}  // namespace
}  // namespace zenml::uploader
