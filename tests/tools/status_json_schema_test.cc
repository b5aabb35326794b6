// `zenml-analytics status --json` and `zenml-spool-dump --stats --json` are
// contracts: in every state below each prints one object that validates
// against its schema in docs/schemas/ (RapidJSON's draft-04 validator), the
// facts both print carry the same names and values, and status changes
// nothing on disk.

// RapidJSON 1.1's schema.h trips GCC 12's -Wnull-dereference (see
// tests/uploader/upload_json_schema_test.cc); the warning is the library's.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "spool/spool.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml::tools {
namespace {

using testing::ProcessResult;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class StatusJsonSchemaTest : public ::testing::Test {
 protected:
  StatusJsonSchemaTest() {
    Load("docs/schemas/zenml-analytics-status.schema.json", status_doc_,
         status_schema_);
    Load("docs/schemas/zenml-spool-dump-stats.schema.json", dump_doc_,
         dump_schema_);
    env_.env = {{"ZENML_CONFIG_PATH", config().string()},
                {"ZENML_ANALYTICS_OPT_IN", std::nullopt},
                {"DO_NOT_TRACK", std::nullopt},
                {"ZENML_SEGMENT_WRITE_KEY", std::nullopt},
                {"ZENML_ANALYTICS_ENDPOINT", std::nullopt},
                {"ZENML_ANALYTICS_AUTO_UPLOAD", std::nullopt},
                {"ZENML_ANALYTICS_AUTO_UPLOAD_INTERVAL", std::nullopt},
                {"ZENML_SYSTEM_UPLOAD_CONFIG",
                 (dir_.path() / "etc-upload.yaml").string()}};
  }

  static void Load(const char* file, rapidjson::Document& doc,
                   std::unique_ptr<rapidjson::SchemaDocument>& schema) {
    std::string text = ReadFile(std::filesystem::path(ZENML_SOURCE_DIR) / file);
    doc.Parse(text.c_str());
    EXPECT_FALSE(doc.HasParseError()) << file << " does not parse";
    schema = std::make_unique<rapidjson::SchemaDocument>(doc);
  }

  std::filesystem::path config() const { return dir_.path() / "cfg"; }
  std::filesystem::path analytics() const { return config() / "analytics"; }

  spool::SpoolOptions SpoolOptionsFor() {
    spool::SpoolOptions o;
    o.dir = analytics();
    o.sync = false;
    return o;
  }

  bool Valid(const rapidjson::Document& doc, rapidjson::SchemaDocument& s) {
    rapidjson::SchemaValidator validator(s);
    if (doc.Accept(validator)) return true;
    rapidjson::StringBuffer where;
    validator.GetInvalidSchemaPointer().StringifyUriFragment(where);
    rapidjson::StringBuffer what;
    validator.GetInvalidDocumentPointer().StringifyUriFragment(what);
    ADD_FAILURE() << "invalid at " << where.GetString() << " (document "
                  << what.GetString() << "), keyword "
                  << validator.GetInvalidSchemaKeyword();
    return false;
  }

  // Runs `tool args... --json`; the one line on stdout, parsed and checked
  // against `schema`.
  void RunJson(const std::string& tool, std::vector<std::string> args,
               rapidjson::SchemaDocument& schema, rapidjson::Document& doc) {
    args.insert(args.begin(), testing::BinPath(tool));
    args.push_back("--json");
    ProcessResult r = testing::Run(args, env_);
    SCOPED_TRACE(tool + ": " + r.out + " / " + r.err);
    ASSERT_EQ(r.exit_code, 0);
    ASSERT_FALSE(r.out.empty());
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line on stdout";
    doc.Parse(r.out.c_str());
    ASSERT_FALSE(doc.HasParseError());
    EXPECT_TRUE(Valid(doc, schema));
  }

  // Both tools in the current state: valid, and the shared facts equal.
  void CheckBoth(rapidjson::Document& status) {
    RunJson("zenml-analytics", {"status"}, *status_schema_, status);
    rapidjson::Document dump;
    RunJson("zenml-spool-dump", {"--stats"}, *dump_schema_, dump);
    if (::testing::Test::HasFatalFailure()) return;
    for (const char* key :
         {"schema", "spool_dir", "pending_events", "pending_bytes",
          "dead_letters", "write_errors", "dropped", "inbox_files",
          "last_upload", "not_before", "consent"}) {
      ASSERT_TRUE(status.HasMember(key) && dump.HasMember(key)) << key;
      EXPECT_TRUE(status[key] == dump[key]) << key << " differs";
    }
  }

  // Every file under the config dir and its bytes, but LevelDB's own
  // diagnostic log, which LevelDB rewrites on every open.
  std::map<std::string, std::string> Snapshot() {
    std::map<std::string, std::string> files;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(config(), ec);
         it != std::filesystem::recursive_directory_iterator(); ++it) {
      std::string name = it->path().filename().string();
      if (name == "LOG" || name == "LOG.old") continue;
      files[it->path().string()] =
          it->is_regular_file() ? ReadFile(it->path()) : "<dir>";
    }
    return files;
  }

  void WriteUploadYaml(const std::string& text, mode_t mode) {
    std::filesystem::create_directories(analytics());
    std::filesystem::path p = analytics() / "upload.yaml";
    std::ofstream(p) << text;
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
  }

  testing::TempDir dir_;
  testing::ProcessOptions env_;
  rapidjson::Document status_doc_, dump_doc_;
  std::unique_ptr<rapidjson::SchemaDocument> status_schema_, dump_schema_;
};

TEST_F(StatusJsonSchemaTest, NoConfigDirYetIsValidAndCreatesNothing) {
  rapidjson::Document status;
  CheckBoth(status);
  EXPECT_FALSE(std::filesystem::exists(config()));
  EXPECT_FALSE(status["will_upload"]["ready"].GetBool());
  EXPECT_STREQ(status["will_upload"]["blockers"][0].GetString(),
               "no_write_key");
  EXPECT_FALSE(status["write_key"]["present"].GetBool());
  EXPECT_STREQ(status["write_key"]["source"].GetString(), "none");
  EXPECT_STREQ(status["endpoint"]["source"].GetString(), "default");
  EXPECT_TRUE(status["auto_upload"]["enabled"].GetBool());
  EXPECT_EQ(status["auto_upload"]["interval_seconds"].GetInt(), 3600);
  EXPECT_TRUE(status["last_upload"].IsNull());
}

TEST_F(StatusJsonSchemaTest, AKeyFromTheEnvironmentIsMaskedAndNamed) {
  env_.env["ZENML_SEGMENT_WRITE_KEY"] = "envkey-0123456789";
  env_.env["ZENML_ANALYTICS_ENDPOINT"] = "http://127.0.0.1:9/v1/batch";
  rapidjson::Document status;
  CheckBoth(status);
  EXPECT_TRUE(status["will_upload"]["ready"].GetBool());
  EXPECT_STREQ(status["write_key"]["masked"].GetString(), "envk…");
  EXPECT_STREQ(status["write_key"]["source"].GetString(), "env");
  EXPECT_STREQ(status["endpoint"]["url"].GetString(),
               "http://127.0.0.1:9/v1/batch");
  EXPECT_STREQ(status["endpoint"]["source"].GetString(), "env");
  ProcessResult text =
      testing::Run({testing::BinPath("zenml-analytics"), "status"}, env_);
  EXPECT_EQ(text.out.find("envkey-0123456789"), std::string::npos)
      << "the key itself never shows";
  EXPECT_NE(text.out.find("envk… (from env)"), std::string::npos) << text.out;
}

TEST_F(StatusJsonSchemaTest, UploadYamlIsASourceAndARefusedOneABlocker) {
  WriteUploadYaml(
      "write_key: filekey-0123456789\nendpoint: "
      "http://127.0.0.1:9/v1/batch\n",
      0600);
  rapidjson::Document status;
  CheckBoth(status);
  EXPECT_STREQ(status["write_key"]["source"].GetString(), "user_config");
  EXPECT_STREQ(status["write_key"]["masked"].GetString(), "file…");
  EXPECT_STREQ(status["endpoint"]["source"].GetString(), "user_config");
  EXPECT_TRUE(status["upload_config_error"].IsNull());

  ASSERT_EQ(::chmod((analytics() / "upload.yaml").c_str(), 0644), 0);
  rapidjson::Document refused;
  CheckBoth(refused);
  EXPECT_FALSE(refused["will_upload"]["ready"].GetBool());
  EXPECT_STREQ(refused["will_upload"]["blockers"][0].GetString(),
               "upload_config_error");
  EXPECT_TRUE(refused["upload_config_error"].IsString());
  EXPECT_FALSE(refused["write_key"]["present"].GetBool());
}

TEST_F(StatusJsonSchemaTest, TheSystemUploadYamlIsASourceTheUsersBeats) {
  // The system file must be root's: only a root test can write one.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a root-owned file)";
  std::filesystem::path system = dir_.path() / "etc-upload.yaml";
  std::ofstream(system) << "write_key: systemkey-0123456789\n"
                           "endpoint: http://127.0.0.1:9/v1/batch\n";
  ASSERT_EQ(::chmod(system.c_str(), 0600), 0);
  rapidjson::Document status;
  CheckBoth(status);
  EXPECT_STREQ(status["system_upload_config"].GetString(),
               system.string().c_str());
  EXPECT_STREQ(status["write_key"]["source"].GetString(), "system_config");
  EXPECT_STREQ(status["write_key"]["masked"].GetString(), "syst…");
  EXPECT_STREQ(status["endpoint"]["source"].GetString(), "system_config");

  WriteUploadYaml("write_key: userkey-0123456789\n", 0600);
  rapidjson::Document both;
  CheckBoth(both);
  EXPECT_STREQ(both["write_key"]["source"].GetString(), "user_config");
  EXPECT_STREQ(both["endpoint"]["source"].GetString(), "system_config");

  {
    ASSERT_EQ(::chown(system.c_str(), 65534, 65534), 0);
    rapidjson::Document foreign;
    CheckBoth(foreign);
    EXPECT_STREQ(foreign["will_upload"]["blockers"][0].GetString(),
                 "upload_config_error");
  }
}

TEST_F(StatusJsonSchemaTest, SpoolFactsAndEveryLastUploadAreTheSameInBoth) {
  {
    spool::Spool spool(SpoolOptionsFor());
    ASSERT_TRUE(spool
                    .Append(std::vector<std::string>{
                        "{\"type\":\"track\",\"event\":\"a\","
                        "\"messageId\":\"m1\"}",
                        "{\"type\":\"track\",\"event\":\"b\","
                        "\"messageId\":\"m2\"}"})
                    .ok());
  }
  // A run stopped for a missing key is recorded and shown as an object.
  ProcessResult upload =
      testing::Run({testing::BinPath("zenml-upload"), "--quiet"}, env_);
  EXPECT_EQ(upload.exit_code, 78) << upload.err;
  rapidjson::Document status;
  CheckBoth(status);
  EXPECT_EQ(status["pending_events"].GetUint64(), 2u);
  ASSERT_TRUE(status["last_upload"].IsObject());
  EXPECT_STREQ(status["last_upload"]["outcome"].GetString(), "config_error");
  EXPECT_EQ(status["last_upload"]["remaining"].GetUint64(), 2u);

  {
    spool::Spool spool(SpoolOptionsFor());
    spool::UploadRecord r;
    r.at = core::WallTime(std::chrono::milliseconds(1'790'000'000'000));
    r.outcome = "rejected";
    r.requests = 7;
    r.dead_lettered = 1;
    r.remaining = 1;
    r.detail = "the server rejects everything";
    ASSERT_TRUE(spool.RecordUpload(r).ok());
    auto peek = spool.Peek("", 1 << 20, 1);
    ASSERT_TRUE(peek.ok() && !peek->empty());
    ASSERT_TRUE(spool.DeadLetter(peek->front().key, 400, "bad").ok());
  }
  rapidjson::Document rejected;
  CheckBoth(rejected);
  EXPECT_STREQ(rejected["last_upload"]["outcome"].GetString(), "rejected");
  EXPECT_EQ(rejected["last_upload"]["requests"].GetUint64(), 7u);
  EXPECT_EQ(rejected["dead_letters"].GetUint64(), 1u);
  EXPECT_EQ(rejected["pending_events"].GetUint64(), 1u);
}

TEST_F(StatusJsonSchemaTest, ClientDropsAreRequiredFieldsShownByBoth) {
  rapidjson::Document none;
  CheckBoth(none);
  ASSERT_TRUE(none["dropped"].HasMember("queue_full"));
  EXPECT_EQ(none["dropped"]["queue_full"].GetUint64(), 0u);
  EXPECT_EQ(none["dropped"]["disk_full"].GetUint64(), 0u);
  {
    // What a Client records with its next write (client/client.h).
    spool::Spool spool(SpoolOptionsFor());
    spool::WriterDrops drops;
    drops.queue_full = 3;
    drops.disk_full = 5;
    ASSERT_TRUE(spool.Append({}, drops).ok());
  }
  rapidjson::Document status;
  CheckBoth(status);
  EXPECT_EQ(status["dropped"]["queue_full"].GetUint64(), 3u);
  EXPECT_EQ(status["dropped"]["disk_full"].GetUint64(), 5u);
  ProcessResult text =
      testing::Run({testing::BinPath("zenml-spool-dump"), "--stats"}, env_);
  EXPECT_NE(text.out.find("queue_full 3, disk_full 5"), std::string::npos)
      << text.out;
  // A schema without the two fields refuses the object: they are required.
  rapidjson::Document missing;
  missing.CopyFrom(status, missing.GetAllocator());
  missing["dropped"].RemoveMember("disk_full");
  rapidjson::SchemaValidator v(*status_schema_);
  EXPECT_FALSE(missing.Accept(v));
}

TEST_F(StatusJsonSchemaTest, AutoUploadOffAndOptedOutAreShown) {
  env_.env["ZENML_ANALYTICS_AUTO_UPLOAD"] = "0";
  env_.env["ZENML_ANALYTICS_AUTO_UPLOAD_INTERVAL"] = "30m";
  env_.env["DO_NOT_TRACK"] = "1";
  env_.env["ZENML_SEGMENT_WRITE_KEY"] = "envkey-0123456789";
  std::filesystem::create_directories(analytics());
  std::ofstream(analytics() / "auto_upload.last") << "1790000000000";
  rapidjson::Document status;
  CheckBoth(status);
  EXPECT_FALSE(status["auto_upload"]["enabled"].GetBool());
  EXPECT_STREQ(status["auto_upload"]["disabled_by"].GetString(), "env");
  EXPECT_EQ(status["auto_upload"]["interval_seconds"].GetInt(), 1800);
  EXPECT_STREQ(status["auto_upload"]["last_start"].GetString(),
               "2026-09-21T14:13:20.000Z");
  EXPECT_FALSE(status["consent"]["allowed"].GetBool());
  EXPECT_STREQ(status["will_upload"]["blockers"][0].GetString(), "opted_out");
}

TEST_F(StatusJsonSchemaTest, StatusChangesNothingOnDisk) {
  {
    spool::Spool spool(SpoolOptionsFor());
    ASSERT_TRUE(spool
                    .Append(std::vector<std::string>{
                        "{\"type\":\"track\",\"event\":\"a\","
                        "\"messageId\":\"m1\"}"})
                    .ok());
    // An inbox file: reading it into the spool would be a write.
    ASSERT_TRUE(spool
                    .AppendToInbox(std::vector<std::string>{
                        "{\"type\":\"track\",\"event\":\"i\","
                        "\"messageId\":\"m2\"}"})
                    .ok());
  }
  auto before = Snapshot();
  ASSERT_FALSE(before.empty());
  for (const char* json : {"", "--json"}) {
    std::vector<std::string> args = {testing::BinPath("zenml-analytics"),
                                     "status"};
    if (*json) args.push_back(json);
    ProcessResult r = testing::Run(args, env_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(Snapshot(), before);
  EXPECT_FALSE(std::filesystem::exists(config() / "config.yaml"));
  EXPECT_FALSE(std::filesystem::exists(analytics() / "auto_upload.last"));
}

TEST_F(StatusJsonSchemaTest, TheSchemasRefuseTheOldNames) {
  rapidjson::Document old;
  old.Parse("{\"spool\":\"/x\",\"pending\":1,\"bytes\":2}");
  rapidjson::SchemaValidator v1(*dump_schema_);
  EXPECT_FALSE(old.Accept(v1));
  old.Parse("{\"schema\":1,\"opted_in\":true}");
  rapidjson::SchemaValidator v2(*status_schema_);
  EXPECT_FALSE(old.Accept(v2));
}

}  // namespace
}  // namespace zenml::tools
