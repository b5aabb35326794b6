// zenml-test-collector, the program the demo and the benchmark start: prints
// its port, records decoded batches, serves GET /received, exits on SIGTERM.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <string>

#include "spool/spool.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml::uploader {
namespace {

using std::chrono::seconds;

TEST(CollectorTest, ReceivesAnUploadRecordsItAndExitsCleanlyOnSigterm) {
  testing::TempDir dir;
  {
    spool::SpoolOptions o;
    o.dir = dir / "analytics";
    o.sync = false;
    spool::Spool spool(o);
    std::vector<std::string> msgs;
    for (int i = 0; i < 600; ++i) {
      msgs.push_back(
          "{\"type\":\"track\",\"event\":\"Step created\","
          "\"anonymousId\":\"a\",\"messageId\":\"c" +
          std::to_string(i) + "\"}");
    }
    ASSERT_TRUE(spool.Append(msgs).ok());
  }
  std::string record = (dir / "received.jsonl").string();
  testing::Child collector({testing::BinPath("zenml-test-collector"), "--port",
                            "0", "--record", record, "--plan", "503"});
  auto port_line = collector.ReadLine(std::chrono::milliseconds(10'000));
  ASSERT_TRUE(port_line.has_value());
  int port = std::stoi(*port_line);
  ASSERT_GT(port, 0);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/batch";

  testing::ProcessOptions env;
  env.env = {{"ZENML_CONFIG_PATH", dir.path().string()},
             {"ZENML_ANALYTICS_OPT_IN", std::nullopt},
             {"DO_NOT_TRACK", std::nullopt}};
  testing::ProcessResult up = testing::Run(
      {testing::BinPath("zenml-upload"), "--write-key", "k", "--endpoint", url},
      env);
  EXPECT_EQ(up.exit_code, 0) << up.err;  // the planned 503 is retried

  httplib::Client client("127.0.0.1", port);
  auto got = client.Get("/received");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_NE(got->body.find("\"requests\":3"), std::string::npos) << got->body;
  EXPECT_NE(got->body.find("\"accepted_messages\":600"), std::string::npos)
      << got->body;
  EXPECT_NE(got->body.find("\"c599\""), std::string::npos);

  collector.Kill(SIGTERM);
  testing::ProcessResult done = collector.Wait(seconds(10));
  EXPECT_EQ(done.exit_code, 0);
  std::string lines = testing::ReadFile(record);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 3);
  EXPECT_TRUE(lines.starts_with("{\"batch\":[{\"type\":\"track\""));
}

}  // namespace
}  // namespace zenml::uploader
