// The air-gap path at the library level: WriteSpoolToBundle (to-file and
// --export) and SendBundle (from-file), with a scripted transport.

#include "uploader/file_transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/testing/dump_fixture.h"
#include "tests/testing/temp_dir.h"

namespace zenml::uploader {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using zenml::dump_testing::Epoch;
using zenml::dump_testing::FixedMessage;
using zenml::dump_testing::SpoolFixture;
using zenml::testing::ReadFile;
using zenml::testing::TempDir;
using zenml::testing::WriteFile;

std::vector<std::string> IdsOf(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  std::vector<std::string> ids;
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("batch")) {
    return ids;
  }
  for (const auto& m : doc["batch"].GetArray()) {
    ids.emplace_back(m["messageId"].GetString());
  }
  return ids;
}

// Answers each request with `answer(request_index, body)`: an HTTP status,
// or 0 for "no answer" (a network error). Records the messageIds of every
// request answered 2xx.
class ScriptedTransport final : public Transport {
 public:
  std::function<int(size_t, const std::string&)> answer =
      [](size_t, const std::string&) { return 200; };

  core::Result<HttpResponse> Post(const HttpRequest& request) override {
    size_t index = requests++;
    int status = answer(index, request.body);
    if (status == 0) return core::Status::Unavailable("connection refused");
    if (status / 100 == 2) {
      for (auto& id : IdsOf(request.body)) accepted.push_back(id);
    }
    HttpResponse response;
    response.status = status;
    return response;
  }

  size_t requests = 0;
  std::vector<std::string> accepted;
};

class FileTransportTest : public ::testing::Test {
 protected:
  FileTransportTest() : clock_(Epoch() + std::chrono::hours(1)) {}

  // `n` messages with ids ...000..n-1, appended in batches of 100.
  std::vector<std::string> Fill(SpoolFixture& fixture, int n, int first = 0) {
    std::vector<std::string> ids;
    std::vector<std::string> batch;
    for (int i = first; i < first + n; ++i) {
      batch.push_back(FixedMessage(i, "Pipeline run"));
      ids.push_back(fmt::format("00000000-0000-4000-8000-{:012d}", i));
      if (batch.size() == 100) {
        fixture.Append(batch);
        batch.clear();
      }
    }
    if (!batch.empty()) fixture.Append(batch);
    return ids;
  }

  UploaderOptions Options() {
    UploaderOptions o;
    o.endpoint = "http://127.0.0.1:9/v1/batch";
    o.write_key = "demo-write-key";
    o.gzip = false;
    o.max_time = std::chrono::seconds(30);
    o.random = [] { return 0.5; };
    return o;
  }

  ToFileOptions ToFile(bool drain) {
    ToFileOptions o;
    o.drain = drain;
    o.clock = &clock_;
    return o;
  }

  core::FakeClock clock_;
  TempDir out_;
};

TEST_F(FileTransportTest, ToFileWritesEveryEventThenAcknowledgesExactlyThose) {
  SpoolFixture fixture;
  auto ids = Fill(fixture, 1234);
  fs::path bundle = out_ / "b.bundle";
  auto result = WriteSpoolToBundle(fixture.spool(), bundle, ToFile(true));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->summary.messages, 1234u);
  EXPECT_EQ(result->summary.batches, 3u);  // 500 + 500 + 234
  EXPECT_EQ(result->acknowledged, 1234u);
  EXPECT_TRUE(fixture.All().empty());

  auto verified = VerifyBundle(bundle);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  std::vector<std::string> in_bundle;
  ASSERT_TRUE(ReadBundle(bundle, [&](uint64_t, std::vector<std::string> m) {
                for (const auto& msg : m) {
                  EXPECT_LE(msg.size(), 32000u);
                  auto one = IdsOf("{\"batch\":[" + msg + "]}");
                  in_bundle.insert(in_bundle.end(), one.begin(), one.end());
                }
                return core::Status::OK();
              }).ok());
  EXPECT_EQ(in_bundle, ids);
}

TEST_F(FileTransportTest, BodyLinesStayWithinTheRequestBudget) {
  SpoolFixture fixture;
  // Large messages: the byte budget, not the count, cuts the lines.
  std::vector<std::string> batch;
  for (int i = 0; i < 60; ++i) {
    batch.push_back(
        FixedMessage(i, "Pipeline run",
                     core::Value::Object{{"pad", std::string(30000, 'x')}}));
  }
  fixture.Append(batch);
  fs::path bundle = out_ / "big.bundle";
  auto result = WriteSpoolToBundle(fixture.spool(), bundle, ToFile(false));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_GE(result->summary.batches, 4u);
  std::string text = ReadFile(bundle);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    EXPECT_LE(nl - pos, 474'000u);
    pos = nl + 1;
  }
  EXPECT_EQ(fixture.All().size(), 60u);  // a copy: nothing drained
}

TEST_F(FileTransportTest, ToFileOntoAnExistingFileFailsAndKeepsTheSpool) {
  SpoolFixture fixture;
  Fill(fixture, 10);
  fs::path bundle = out_ / "exists";
  WriteFile(bundle, "keep me");
  auto result = WriteSpoolToBundle(fixture.spool(), bundle, ToFile(true));
  EXPECT_EQ(result.status().code(), core::Status::Code::kFailedPrecondition);
  EXPECT_EQ(fixture.All().size(), 10u);
  EXPECT_EQ(ReadFile(bundle), "keep me");
}

TEST_F(FileTransportTest, BundleRoundTripDeliversEveryEventExactlyOnce) {
  SpoolFixture offline;
  auto ids = Fill(offline, 1100);
  fs::path bundle = out_ / "trip.bundle";
  ASSERT_TRUE(WriteSpoolToBundle(offline.spool(), bundle, ToFile(true)).ok());

  ScriptedTransport transport;
  auto sent = SendBundle(bundle, transport, clock_, Options());
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_TRUE(sent->imported);
  EXPECT_EQ(sent->upload.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(sent->upload.sent, 1100u);
  EXPECT_EQ(transport.accepted, ids);  // all, once, in order

  // Sending the same bundle again sends nothing.
  ScriptedTransport again;
  auto resent = SendBundle(bundle, again, clock_, Options());
  ASSERT_TRUE(resent.ok()) << resent.status().ToString();
  EXPECT_FALSE(resent->imported);
  EXPECT_EQ(resent->upload.outcome, UploadOutcome::kNothingToSend);
  EXPECT_EQ(again.requests, 0u);
}

TEST_F(FileTransportTest, RunCutShortThenRerunDeliversTheRestWithTheSameIds) {
  SpoolFixture offline;
  auto ids = Fill(offline, 1600);  // four requests of up to 500
  fs::path bundle = out_ / "cut.bundle";
  ASSERT_TRUE(WriteSpoolToBundle(offline.spool(), bundle, ToFile(true)).ok());

  // First run: two requests accepted, then the network goes away until the
  // budget is spent.
  ScriptedTransport flaky;
  flaky.answer = [](size_t i, const std::string&) { return i < 2 ? 200 : 0; };
  auto first = SendBundle(bundle, flaky, clock_, Options());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->upload.outcome, UploadOutcome::kRetryLater);
  EXPECT_EQ(flaky.accepted.size(), 1000u);

  ScriptedTransport good;
  auto second = SendBundle(bundle, good, clock_, Options());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->imported);
  EXPECT_EQ(second->upload.outcome, UploadOutcome::kSuccess);
  EXPECT_EQ(good.accepted.size(), 600u);

  std::vector<std::string> all = flaky.accepted;
  all.insert(all.end(), good.accepted.begin(), good.accepted.end());
  EXPECT_EQ(all, ids);  // every id exactly once
}

TEST_F(FileTransportTest,
       PoisonMessageInABundleIsDeadLetteredAndTheRestDelivered) {
  SpoolFixture offline;
  std::vector<std::string> messages;
  for (int i = 0; i < 40; ++i) {
    messages.push_back(FixedMessage(i, i == 17 ? "poison" : "Pipeline run"));
  }
  offline.Append(messages);
  fs::path bundle = out_ / "poison.bundle";
  ASSERT_TRUE(WriteSpoolToBundle(offline.spool(), bundle, ToFile(true)).ok());

  ScriptedTransport transport;
  transport.answer = [](size_t, const std::string& body) {
    return body.find("\"poison\"") != std::string::npos ? 400 : 200;
  };
  auto sent = SendBundle(bundle, transport, clock_, Options());
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(sent->upload.sent, 39u);
  EXPECT_EQ(sent->upload.dead_lettered, 1u);
  EXPECT_EQ(transport.accepted.size(), 39u);
}

TEST_F(FileTransportTest, DamagedBundlesAreRefusedAndNothingIsSent) {
  SpoolFixture offline;
  Fill(offline, 700);
  fs::path good = out_ / "good.bundle";
  ASSERT_TRUE(WriteSpoolToBundle(offline.spool(), good, ToFile(false)).ok());
  const std::string text = ReadFile(good);

  std::map<std::string, std::string> damaged;
  {
    std::string flipped = text;
    flipped[text.find("Pipeline run", text.size() / 2)] = 'Q';
    damaged["checksum"] = flipped;
  }
  damaged["truncated"] = text.substr(0, text.size() * 2 / 3);
  damaged["no trailer"] =
      text.substr(0, text.rfind("{\"zenml_analytics_bundle_end\""));
  damaged["foreign"] = "id,event\n1,Pipeline run\n";
  {
    std::string not_batch = text;
    size_t second_line = text.find('\n') + 1;
    not_batch.insert(second_line, "{\"type\":\"track\",\"messageId\":\"x\"}\n");
    damaged["not a batch"] = not_batch;
  }
  for (const auto& [name, content] : damaged) {
    fs::path path = out_ / fmt::format("damaged-{}.bundle", name.size());
    WriteFile(path, content);
    ScriptedTransport transport;
    auto sent = SendBundle(path, transport, clock_, Options());
    EXPECT_EQ(sent.status().code(), core::Status::Code::kCorruption)
        << name << ": " << sent.status().ToString();
    EXPECT_EQ(transport.requests, 0u) << name;
    EXPECT_FALSE(fs::exists(BundleProgressDir(path))) << name;
  }
}

TEST_F(FileTransportTest, ImportCutShortIsDiscardedAndRedone) {
  SpoolFixture offline;
  auto ids = Fill(offline, 300);
  fs::path bundle = out_ / "redo.bundle";
  ASSERT_TRUE(WriteSpoolToBundle(offline.spool(), bundle, ToFile(true)).ok());

  // A progress spool holding a partial import (and a stray event) but no
  // "imported" marker: what a crash mid-import leaves.
  {
    spool::SpoolOptions o;
    o.dir = BundleProgressDir(bundle) / "analytics";
    o.clock = &clock_;
    o.max_age = std::chrono::hours(24 * 365 * 100);
    spool::Spool partial(o);
    std::vector<std::string> some = {FixedMessage(0, "Pipeline run"),
                                     FixedMessage(9999, "stray")};
    ASSERT_TRUE(partial.Append(some).ok());
  }
  ScriptedTransport transport;
  auto sent = SendBundle(bundle, transport, clock_, Options());
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_TRUE(sent->imported);
  EXPECT_EQ(transport.accepted, ids);
}

}  // namespace
}  // namespace zenml::uploader
