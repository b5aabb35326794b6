// zenml-upload --json is a contract: every outcome, whatever the exit code,
// prints exactly one JSON object on stdout that validates against
// docs/schemas/zenml-upload.schema.json (RapidJSON's draft-04 validator), and
// its exit_code is the process's.

// RapidJSON 1.1's schema.h, instantiated here, trips GCC 12's
// -Wnull-dereference (a placement destructor after a null check it cannot
// see through); the warning is about the library, not this file.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "spool/spool.h"
#include "tests/testing/segment_test_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "uploader/upload_lock.h"

namespace zenml::uploader {
namespace {

using testing::ProcessResult;
using testing::ScriptedResponse;
using testing::SegmentTestServer;

constexpr char kKey[] = "schema-write-key-0123456789";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class UploadJsonSchemaTest : public ::testing::Test {
 protected:
  UploadJsonSchemaTest() {
    std::string text = ReadFile(std::filesystem::path(ZENML_SOURCE_DIR) /
                                "docs/schemas/zenml-upload.schema.json");
    schema_doc_.Parse(text.c_str());
    EXPECT_FALSE(schema_doc_.HasParseError()) << "schema does not parse";
    schema_ = std::make_unique<rapidjson::SchemaDocument>(schema_doc_);
  }

  spool::SpoolOptions SpoolOptionsFor(const std::filesystem::path& config) {
    spool::SpoolOptions o;
    o.dir = config / "analytics";
    o.sync = false;
    return o;
  }

  void Fill(int n) {
    spool::Spool spool(SpoolOptionsFor(dir_.path()));
    std::vector<std::string> msgs;
    for (int i = 0; i < n; ++i) {
      msgs.push_back("{\"type\":\"track\",\"event\":\"e\",\"messageId\":\"" +
                     prefix_ + std::to_string(i) + "\"}");
    }
    ASSERT_TRUE(spool.Append(msgs).ok());
    prefix_ += "x";
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

  ProcessResult Run(std::vector<std::string> args,
                    testing::ProcessOptions env) {
    args.insert(args.begin(), testing::BinPath("zenml-upload"));
    args.push_back("--json");
    return testing::Run(args, env);
  }
  ProcessResult Run(std::vector<std::string> args) {
    return Run(std::move(args), Env());
  }
  ProcessResult Send(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--write-key", kKey, "--endpoint",
                                     server_.url()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  // The one object on stdout: valid against the schema, its exit_code the
  // process's, its outcome `outcome`.
  void Check(const ProcessResult& r, const std::string& outcome,
             int exit_code) {
    SCOPED_TRACE(outcome + ": " + r.out + " / " + r.err);
    EXPECT_EQ(r.exit_code, exit_code);
    ASSERT_FALSE(r.out.empty());
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line on stdout";
    rapidjson::Document doc;
    doc.Parse(r.out.c_str());
    ASSERT_FALSE(doc.HasParseError());
    EXPECT_TRUE(Valid(doc));
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("outcome"));
    EXPECT_EQ(std::string(doc["outcome"].GetString()), outcome);
    EXPECT_EQ(doc["exit_code"].GetInt(), r.exit_code);
    seen_.insert(outcome);
  }

  bool Valid(const rapidjson::Document& doc) {
    rapidjson::SchemaValidator validator(*schema_);
    if (doc.Accept(validator)) return true;
    rapidjson::StringBuffer where;
    validator.GetInvalidSchemaPointer().StringifyUriFragment(where);
    ADD_FAILURE() << "invalid at " << where.GetString() << ", keyword "
                  << validator.GetInvalidSchemaKeyword();
    return false;
  }

  testing::TempDir dir_;
  SegmentTestServer server_;
  rapidjson::Document schema_doc_;
  std::unique_ptr<rapidjson::SchemaDocument> schema_;
  std::string prefix_ = "m";
  std::set<std::string> seen_;
};

TEST_F(UploadJsonSchemaTest, EveryOutcomeValidatesAgainstTheSchema) {
  Check(Send(), "nothing_to_send", 0);  // no spool yet
  Fill(5);
  Check(Send(), "success", 0);
  Check(Send(), "nothing_to_send", 0);  // an empty spool

  Fill(5);
  Check(Run({"--endpoint", server_.url()}), "config_error", 78);  // no key
  Check(Run({"--write-key", kKey, "--endpoint", "notaurl"}), "config_error",
        78);
  Check(Run({"--config-dir", (dir_ / "missing").string()}), "config_error", 78);
  Check(Send({"--max-time", "-3"}), "usage_error", 64);

  ProcessResult dry = Send({"--dry-run"});
  Check(dry, "dry_run", 0);
  EXPECT_NE(dry.err.find("{\"batch\":["), std::string::npos)
      << "the bodies go to stderr with --json";

  server_.Plan({ScriptedResponse::Status(401)});
  Check(Send(), "key_rejected", 77);
  server_.SetDefault(ScriptedResponse::Status(503));
  Check(Send({"--max-time", "1"}), "retry", 75);
  server_.SetDefault(ScriptedResponse::Status(400));
  Check(Send({"--max-time", "10"}), "rejected", 69);
  server_.SetDefault(ScriptedResponse::Status(200));
  ScriptedResponse limited = ScriptedResponse::Status(429);
  limited.headers = {{"Retry-After", "30"}};
  server_.Plan({limited});  // last: later runs would wait for it
  Check(Send({"--max-time", "2"}), "rate_limited", 75);

  {
    auto lock = UploadLock::TryAcquire(dir_ / "analytics");
    ASSERT_TRUE(lock.ok() && lock->has_value());
    Check(Send(), "busy", 0);
  }

  // The air gap: --to-file, --from-file, a damaged bundle.
  std::filesystem::path bundle = dir_ / "events.bundle";
  ProcessResult to = Run({"--to-file", bundle.string()});
  Check(to, "to_file", 0);
  ProcessResult from = Send({"--from-file", bundle.string()});
  Check(from, "success", 0);
  EXPECT_NE(from.out.find("\"bundle\":{\"path\":"), std::string::npos);
  std::filesystem::path damaged = dir_ / "damaged.bundle";
  std::string text = ReadFile(bundle);
  std::ofstream(damaged) << text.substr(0, text.size() / 2);
  Check(Send({"--from-file", damaged.string()}), "error", 65);

  // --requeue-dead-letters: nothing to requeue, then one dead letter.
  Check(Run({"--requeue-dead-letters"}), "requeued", 0);
  Fill(1);
  server_.Plan({ScriptedResponse::Status(400)});
  Check(Send(), "success", 0);  // one message refused alone: dead-lettered
  ProcessResult requeued = Run({"--requeue-dead-letters", "--since", "1d"});
  Check(requeued, "requeued", 0);
  EXPECT_NE(requeued.out.find("\"requeue\":{\"requeued\":1,"),
            std::string::npos)
      << requeued.out;
  Check(Run({"--requeue-dead-letters", "--since", "soon"}), "usage_error", 64);
  Check(Run({"--requeue-dead-letters", "--dry-run"}), "usage_error", 64);
  {
    auto lock = UploadLock::TryAcquire(dir_ / "analytics");
    ASSERT_TRUE(lock.ok() && lock->has_value());
    Check(Run({"--requeue-dead-letters"}), "error", 75);
  }

  auto opted_out = Env();
  opted_out.env["DO_NOT_TRACK"] = "1";
  Check(Run({"--write-key", kKey, "--endpoint", server_.url()}, opted_out),
        "opted_out", 0);
}

// Fleet air gap: --from-file DIR imports every *.bundle once (a ledger of
// checksums in <analytics dir>/imported-bundles), skips damaged ones and
// says what became of each, in the JSON too.
TEST_F(UploadJsonSchemaTest, ADirectoryOfBundlesIsImportedOnce) {
  std::filesystem::path fleet = dir_ / "fleet";
  std::filesystem::create_directories(fleet);
  Fill(3);
  Check(Run({"--to-file", (fleet / "a.bundle").string()}), "to_file", 0);
  Fill(4);
  Check(Run({"--to-file", (fleet / "b.bundle").string()}), "to_file", 0);
  std::string text = ReadFile(fleet / "a.bundle");
  std::ofstream(fleet / "c.bundle") << text.substr(0, text.size() / 2);
  std::ofstream(fleet / "README.txt") << "not a bundle\n";

  ProcessResult first = Send({"--from-file", fleet.string()});
  Check(first, "error", 65);  // c.bundle is damaged; a and b still went
  EXPECT_EQ(server_.accepted_ids().size(), 7u);
  rapidjson::Document doc;
  doc.Parse(first.out.c_str());
  ASSERT_TRUE(doc.HasMember("bundles")) << first.out;
  EXPECT_EQ(doc["bundles"]["found"].GetUint64(), 3u);
  EXPECT_EQ(doc["bundles"]["imported"].GetUint64(), 2u);
  EXPECT_EQ(doc["bundles"]["damaged"].GetUint64(), 1u);
  EXPECT_EQ(doc["sent"].GetUint64(), 7u);
  EXPECT_NE(first.err.find("[1/3] a.bundle: success"), std::string::npos)
      << first.err;
  EXPECT_NE(first.err.find("[3/3] c.bundle: damaged"), std::string::npos)
      << first.err;

  // A rerun, and the same bundle under another name, send nothing.
  std::filesystem::remove(fleet / "c.bundle");
  std::filesystem::copy_file(fleet / "a.bundle", fleet / "d.bundle");
  const size_t requests = server_.request_count();
  ProcessResult again = Send({"--from-file", fleet.string()});
  Check(again, "nothing_to_send", 0);
  EXPECT_EQ(server_.request_count(), requests);
  doc.Parse(again.out.c_str());
  EXPECT_EQ(doc["bundles"]["already_imported"].GetUint64(), 3u);
  EXPECT_EQ(doc["bundles"]["imported"].GetUint64(), 0u);
  std::string ledger = ReadFile(dir_ / "analytics" / "imported-bundles");
  EXPECT_EQ(std::count(ledger.begin(), ledger.end(), '\n'), 2) << ledger;

  // A server that fails: the run stops, nothing is recorded, the rest wait.
  Fill(2);
  Check(Run({"--to-file", (fleet / "e.bundle").string()}), "to_file", 0);
  server_.SetDefault(ScriptedResponse::Status(503));
  ProcessResult failing =
      Send({"--from-file", fleet.string(), "--max-time", "1"});
  Check(failing, "retry", 75);
  doc.Parse(failing.out.c_str());
  EXPECT_EQ(doc["bundles"]["not_attempted"].GetUint64(), 1u);
  server_.SetDefault(ScriptedResponse::Status(200));
  ProcessResult last = Send({"--from-file", fleet.string()});
  Check(last, "success", 0);
  doc.Parse(last.out.c_str());
  EXPECT_EQ(doc["bundles"]["imported"].GetUint64(), 1u);
  EXPECT_EQ(server_.accepted_ids().size(), 9u);
}

TEST_F(UploadJsonSchemaTest, TheSchemaRefusesWhatBreaksTheContract) {
  const char* good =
      "{\"schema\":1,\"tool\":\"zenml-upload\",\"outcome\":\"success\","
      "\"exit_code\":0,\"sent\":1,\"requests\":1,\"dead_lettered\":0,"
      "\"remaining\":0,\"purged\":0,\"last_http_status\":200,"
      "\"not_before\":null,\"detail\":\"\",\"bundle\":null}";
  rapidjson::Document doc;
  doc.Parse(good);
  EXPECT_TRUE(Valid(doc));
  for (const char* bad : {
           // an exit code that does not go with the outcome
           "{\"schema\":1,\"tool\":\"zenml-upload\",\"outcome\":\"success\","
           "\"exit_code\":75,\"sent\":1,\"requests\":1,\"dead_lettered\":0,"
           "\"remaining\":0,\"purged\":0,\"last_http_status\":200,"
           "\"not_before\":null,\"detail\":\"\",\"bundle\":null}",
           // another schema version
           "{\"schema\":2,\"tool\":\"zenml-upload\",\"outcome\":\"success\","
           "\"exit_code\":0,\"sent\":1,\"requests\":1,\"dead_lettered\":0,"
           "\"remaining\":0,\"purged\":0,\"last_http_status\":200,"
           "\"not_before\":null,\"detail\":\"\",\"bundle\":null}",
           // a field missing
           "{\"schema\":1,\"tool\":\"zenml-upload\",\"outcome\":\"success\","
           "\"exit_code\":0}",
       }) {
    rapidjson::Document d;
    d.Parse(bad);
    rapidjson::SchemaValidator validator(*schema_);
    EXPECT_FALSE(d.Accept(validator)) << bad;
  }
}

}  // namespace
}  // namespace zenml::uploader
