// zenml-spool-dump, run in-process through SpoolDumpMain on a spool filled
// with deterministic messages. Golden files live in
// tests/tools/zenml-spool-dump/golden/; run with ZENML_UPDATE_GOLDENS=1 to
// rewrite them after an intended change (and review the diff).

#include "tools/zenml-spool-dump/spool_dump.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "core/environment.h"
#include "core/exit_code.h"
#include "tests/testing/dump_fixture.h"
#include "tests/testing/temp_dir.h"
#include "uploader/bundle.h"
#include "uploader/transport.h"
#include "uploader/uploader.h"

namespace zenml::tools {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using zenml::dump_testing::Epoch;
using zenml::dump_testing::FixedMessage;
using zenml::dump_testing::SpoolFixture;

struct DumpRun {
  int code = -1;
  std::string out;
  std::string err;
};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  fs::path path =
      fs::path(ZENML_SOURCE_DIR) / "tests/tools/zenml-spool-dump/golden" / name;
  if (const char* update = std::getenv("ZENML_UPDATE_GOLDENS");
      update != nullptr && std::string(update) == "1") {
    zenml::testing::WriteFile(path, actual);
  }
  EXPECT_EQ(actual, zenml::testing::ReadFile(path))
      << "golden " << path << " differs (ZENML_UPDATE_GOLDENS=1 rewrites it)";
}

class SpoolDumpTest : public ::testing::Test {
 protected:
  SpoolDumpTest() { env_.Set("ZENML_ANALYTICS_OPT_IN", "true"); }

  DumpRun Dump(std::vector<std::string> args) {
    std::vector<std::string> argv = {"zenml-spool-dump", "--config-dir",
                                     fixture_.config_dir().string(), "--now",
                                     "2026-01-01T03:00:00Z"};
    argv.insert(argv.end(), args.begin(), args.end());
    return DumpRaw(argv);
  }
  DumpRun DumpRaw(const std::vector<std::string>& argv) {
    std::vector<const char*> cargv;
    for (const auto& a : argv) cargv.push_back(a.c_str());
    cargv.push_back(nullptr);
    std::ostringstream out, err;
    DumpRun r;
    r.code = SpoolDumpMain(static_cast<int>(argv.size()), cargv.data(), out,
                           err, env_);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  // Six events of the catalogue and one custom, a minute apart.
  void FillSample() {
    fixture_.Append(
        {FixedMessage(0, "ZenML initialized"),
         FixedMessage(1, "Repository created"),
         FixedMessage(2, "Pipeline created", core::Value::Object{{"steps", 3}}),
         FixedMessage(3, "Pipeline run", core::Value::Object{{"gpu", true}})});
    fixture_.Append({FixedMessage(64, "Pipeline run"),
                     FixedMessage(125, "Pipelines fetched"),
                     FixedMessage(170, "My custom event")});
  }

  SpoolFixture fixture_;
  core::MapEnvironment env_;
};

TEST_F(SpoolDumpTest, TableMatchesGolden) {
  FillSample();
  DumpRun r = Dump({});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  ExpectGolden("table.txt", r.out);
}

TEST_F(SpoolDumpTest, StatsMatchGolden) {
  FillSample();
  // A dead letter and an earlier upload give every line something to say.
  auto entries = fixture_.All();
  ASSERT_TRUE(
      fixture_.spool().DeadLetter(entries[1].key, 400, "bad event").ok());
  spool::UploadRecord record;
  record.at = Epoch() + std::chrono::hours(1);
  record.outcome = "rate_limited";
  record.sent = 3;
  record.requests = 2;
  record.remaining = 6;
  record.not_before = Epoch() + std::chrono::hours(4);
  record.detail = "429 Too Many Requests; retry after 2026-01-01T04:00:00.000Z";
  ASSERT_TRUE(fixture_.spool().RecordUpload(record).ok());

  DumpRun r = Dump({"--stats"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::string out = r.out;
  // The temp dir differs per run: name it once.
  const std::string dir = fixture_.analytics_dir().string();
  for (size_t at; (at = out.find(dir)) != std::string::npos;) {
    out.replace(at, dir.size(), "<ANALYTICS_DIR>");
  }
  ExpectGolden("stats.txt", out);

  DumpRun j = Dump({"--stats", "--format", "json"});
  EXPECT_EQ(j.code, 0) << j.err;
  rapidjson::Document doc;
  doc.Parse(j.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << j.out;
  EXPECT_EQ(doc["pending_events"].GetUint64(), 6u);
  EXPECT_EQ(doc["dead_letters"].GetUint64(), 1u);
  EXPECT_STREQ(doc["oldest"].GetString(), "2026-01-01T00:00:00.000Z");
  EXPECT_STREQ(doc["newest"].GetString(), "2026-01-01T02:50:00.000Z");
  EXPECT_STREQ(doc["last_upload"]["outcome"].GetString(), "rate_limited");
  EXPECT_STREQ(doc["consent"]["source"].GetString(), "ZENML_ANALYTICS_OPT_IN");
  EXPECT_TRUE(doc["consent"]["allowed"].GetBool());
}

TEST_F(SpoolDumpTest, StatsShowConsentAndTheSourceThatDecided) {
  env_.Unset("ZENML_ANALYTICS_OPT_IN");
  env_.Set("DO_NOT_TRACK", "1");
  DumpRun r = Dump({"--stats"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("consent:      opted out (decided by DO_NOT_TRACK"));
}

// A stand-in network: records every body and answers 200.
class RecordingTransport final : public uploader::Transport {
 public:
  core::Result<uploader::HttpResponse> Post(
      const uploader::HttpRequest& request) override {
    bodies.push_back(request.body);
    uploader::HttpResponse response;
    response.status = 200;
    return response;
  }
  std::vector<std::string> bodies;
};

TEST_F(SpoolDumpTest, EveryJsonLineParsesAndIsByteForByteWhatTheUploaderSends) {
  FillSample();
  // Messages with escapes and non-ASCII text must survive unchanged too.
  fixture_.Append(
      {FixedMessage(171, "Pipeline run",
                    core::Value::Object{{"name", "caf\xc3\xa9 \"q\" \\ \n"}})});
  DumpRun r = Dump({"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 8u);
  for (const auto& line : lines) {
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    EXPECT_FALSE(doc.HasParseError()) << line;
    EXPECT_TRUE(doc.IsObject() && doc.HasMember("messageId")) << line;
  }
  EXPECT_EQ(Dump({"--format", "json"}).out, r.out);

  // What the uploader really sends, cut back into messages.
  RecordingTransport transport;
  core::FakeClock clock(Epoch() + std::chrono::hours(3));
  uploader::UploaderOptions options;
  options.endpoint = "http://127.0.0.1:9/v1/batch";
  options.write_key = "demo-write-key";
  options.gzip = false;
  options.max_batch_messages = 3;  // several requests
  uploader::Uploader up(fixture_.spool(), transport, clock, options);
  auto summary = up.Run();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  std::vector<std::string> sent;
  for (const auto& body : transport.bodies) {
    size_t end = body.find("],\"sentAt\"");
    ASSERT_NE(end, std::string::npos) << body;
    auto messages = uploader::SplitBatchLine(body.substr(0, end) + "]}");
    ASSERT_TRUE(messages.ok()) << messages.status().ToString();
    sent.insert(sent.end(), messages->begin(), messages->end());
  }
  EXPECT_EQ(sent, lines);
}

TEST_F(SpoolDumpTest, FiltersByEventSinceAndLimit) {
  FillSample();
  auto rows = [](const DumpRun& r) { return SplitLines(r.out).size(); };
  // Header and footer around the rows.
  EXPECT_EQ(rows(Dump({"--event", "Pipeline run"})), 2u + 2u);
  EXPECT_EQ(
      rows(Dump({"--event", "Pipeline run", "--event", "My custom event"})),
      3u + 2u);
  EXPECT_EQ(rows(Dump({"--json", "--event", "Pipeline run"})), 2u);
  // now is 03:00; 1h back keeps 02:05 and 02:50.
  EXPECT_EQ(rows(Dump({"--json", "--since", "1h"})), 2u);
  EXPECT_EQ(rows(Dump({"--json", "--since", "2026-01-01T00:02:00Z"})), 5u);
  EXPECT_EQ(rows(Dump({"--json", "--limit", "3"})), 3u);
  EXPECT_EQ(rows(Dump({"--json", "--limit", "1", "--event", "Pipeline run"})),
            1u);
  DumpRun limited = Dump({"--limit", "2"});
  EXPECT_THAT(limited.out, HasSubstr("total: 2 events, "));
  EXPECT_THAT(limited.out, HasSubstr("; 7 pending, "));
}

TEST_F(SpoolDumpTest, BadSinceIsAUsageError) {
  DumpRun r = Dump({"--since", "yesterday"});
  EXPECT_EQ(r.code, core::kExitUsage);
  EXPECT_THAT(r.err, StartsWith("zenml-spool-dump: --since yesterday"));
  EXPECT_THAT(r.err, HasSubstr("Try 'zenml-spool-dump --help'"));
}

TEST_F(SpoolDumpTest, DeadLettersShowStatusAndReason) {
  FillSample();
  auto entries = fixture_.All();
  ASSERT_TRUE(fixture_.spool()
                  .DeadLetter(entries[2].key, 400, "Exceed payload limit")
                  .ok());
  DumpRun r = Dump({"--dead-letter"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_THAT(lines[1], HasSubstr("400  Pipeline created"));
  EXPECT_THAT(lines[1], HasSubstr("Exceed payload limit"));
  EXPECT_EQ(lines[2], "total: 1 dead letter");

  DumpRun j = Dump({"--dead-letter", "--json"});
  rapidjson::Document doc;
  doc.Parse(j.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << j.out;
  EXPECT_EQ(doc["status"].GetInt(), 400);
  EXPECT_STREQ(doc["reason"].GetString(), "Exceed payload limit");
  EXPECT_STREQ(doc["message"]["event"].GetString(), "Pipeline created");
}

TEST_F(SpoolDumpTest, DumpNeverChangesTheSpool) {
  FillSample();
  auto before = fixture_.All();
  auto stats_before = fixture_.spool().Stats();
  ASSERT_TRUE(stats_before.ok());
  for (auto args : std::vector<std::vector<std::string>>{
           {}, {"--json"}, {"--stats"}, {"--dead-letter"}, {"--limit", "1"}}) {
    EXPECT_EQ(Dump(args).code, 0);
  }
  auto after = fixture_.All();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].key, before[i].key);
    EXPECT_EQ(after[i].json, before[i].json);
  }
  auto stats_after = fixture_.spool().Stats();
  ASSERT_TRUE(stats_after.ok());
  EXPECT_EQ(stats_after->count, stats_before->count);
  EXPECT_EQ(stats_after->bytes, stats_before->bytes);
  EXPECT_EQ(stats_after->next_seq, stats_before->next_seq);
}

// Issue 9: a dump is a read: it leaves inbox files where they are (Spool::Scan
// and Stats ingest nothing) and applies no bounds.
TEST_F(SpoolDumpTest, DumpLeavesTheInboxAlone) {
  FillSample();
  ASSERT_TRUE(fixture_.spool()
                  .AppendToInbox(std::vector<std::string>{
                      FixedMessage(200, "Pipeline run")})
                  .ok());
  fixture_.Close();
  for (auto args : std::vector<std::vector<std::string>>{
           {}, {"--json"}, {"--stats"}, {"--dead-letter"}}) {
    EXPECT_EQ(Dump(args).code, 0);
  }
  auto stats = fixture_.spool().Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inbox_files, 1u);
  EXPECT_EQ(stats->count, 7u);
  EXPECT_TRUE(stats->dropped.empty());
}

TEST_F(SpoolDumpTest, InboxEventsAreListedLastWithoutBeingIngested) {
  FillSample();
  const std::string waiting = FixedMessage(200, "Pipeline run");
  ASSERT_TRUE(
      fixture_.spool().AppendToInbox(std::vector<std::string>{waiting}).ok());
  fixture_.Close();
  DumpRun json = Dump({"--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_TRUE(json.out.ends_with(waiting + "\n")) << json.out;
  DumpRun table = Dump({});
  EXPECT_THAT(table.out, HasSubstr("inbox"));
  EXPECT_THAT(table.out, HasSubstr("8 pending"));
  auto stats = fixture_.spool().Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inbox_files, 1u);
  EXPECT_EQ(stats->inbox_events, 1u);
  EXPECT_EQ(stats->count, 7u);
}

TEST_F(SpoolDumpTest, MissingSpoolIsEmptyAndNothingIsCreated) {
  DumpRun r = Dump({});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("total: 0 events, 0 bytes shown; 0 pending"));
  EXPECT_EQ(Dump({"--stats"}).code, 0);
  EXPECT_EQ(Dump({"--json"}).out, "");
  EXPECT_TRUE(fs::is_empty(fixture_.config_dir()));
}

TEST_F(SpoolDumpTest, ExportWritesAVerifiedBundleWithoutDraining) {
  FillSample();
  zenml::testing::TempDir out_dir;
  fs::path bundle = out_dir / "spool.bundle";
  DumpRun r = Dump({"--export", bundle.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("wrote 7 events in 1 batches"));
  auto summary = uploader::VerifyBundle(bundle);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->messages, 7u);
  EXPECT_EQ(summary->origin, "zenml-spool-dump --export");
  EXPECT_EQ(summary->created, "2026-01-01T03:00:00.000Z");
  std::vector<std::string> exported;
  ASSERT_TRUE(
      uploader::ReadBundle(bundle, [&](uint64_t, std::vector<std::string> m) {
        exported.insert(exported.end(), m.begin(), m.end());
        return core::Status::OK();
      }).ok());
  auto entries = fixture_.All();
  ASSERT_EQ(entries.size(), 7u);  // not drained
  for (size_t i = 0; i < entries.size(); ++i)
    EXPECT_EQ(exported[i], entries[i].json);

  // Never overwrites.
  DumpRun again = Dump({"--export", bundle.string()});
  EXPECT_NE(again.code, 0);
  EXPECT_THAT(again.err, HasSubstr("already exists"));
}

TEST_F(SpoolDumpTest, HelpGoesToStdoutAndExitsZero) {
  DumpRun r = DumpRaw({"zenml-spool-dump", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--stats"));
  EXPECT_THAT(r.out, HasSubstr("--export"));
  EXPECT_EQ(r.err, "");
  DumpRun v = DumpRaw({"zenml-spool-dump", "--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_THAT(v.out, StartsWith("zenml-spool-dump "));
}

TEST_F(SpoolDumpTest, UnknownOptionAndConflictingModesAreUsageErrors) {
  DumpRun r = DumpRaw({"zenml-spool-dump", "--frobnicate"});
  EXPECT_EQ(r.code, core::kExitUsage);
  EXPECT_THAT(r.err, StartsWith("zenml-spool-dump: "));
  EXPECT_THAT(r.err, HasSubstr("Try 'zenml-spool-dump --help'"));
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Dump({"--stats", "--dead-letter"}).code, core::kExitUsage);
  EXPECT_EQ(Dump({"--json", "--format", "table"}).code, core::kExitUsage);
  EXPECT_EQ(Dump({"--format", "yaml"}).code, core::kExitUsage);
}

TEST_F(SpoolDumpTest, NoConfigDirIsAConfigurationError) {
  core::MapEnvironment empty;
  std::ostringstream out, err;
  const char* argv[] = {"zenml-spool-dump", nullptr};
  int code = SpoolDumpMain(1, argv, out, err, empty);
  EXPECT_EQ(code, core::kExitConfig);
  EXPECT_THAT(err.str(), StartsWith("zenml-spool-dump: "));
}

}  // namespace
}  // namespace zenml::tools
