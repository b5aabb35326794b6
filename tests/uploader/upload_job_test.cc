// RunUploadJob in-process: the policy the tools only render (consent and
// purge, the config dir, key and endpoint precedence, the lock, to-file and
// the upload record), against a real spool and the test server on
// 127.0.0.1.

#include "uploader/upload_job.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "core/environment.h"
#include "core/exit_code.h"
#include "spool/spool.h"
#include "tests/testing/segment_test_server.h"
#include "tests/testing/temp_dir.h"
#include "uploader/upload_lock.h"

namespace zenml::uploader {
namespace {

using testing::SegmentTestServer;

class UploadJobTest : public ::testing::Test {
 protected:
  UploadJobTest() {
    env_.Set("ZENML_CONFIG_PATH", dir_.path().string());
    env_.Set("ZENML_SYSTEM_UPLOAD_CONFIG",
             (dir_.path() / "no-system-upload.yaml").string());
    job_.env = &env_;
    job_.max_time = 20;
  }

  spool::SpoolOptions SpoolOptions() const {
    spool::SpoolOptions o;
    o.dir = dir_.path() / "analytics";
    o.sync = false;
    return o;
  }

  void Fill(int n) {
    spool::Spool spool(SpoolOptions());
    std::vector<std::string> msgs;
    for (int i = 0; i < n; ++i) {
      msgs.push_back(
          "{\"type\":\"track\",\"event\":\"Pipeline run\",\"messageId\":\"m" +
          std::to_string(i) + "\",\"timestamp\":\"2026-11-27T10:00:00.000Z\"}");
    }
    ASSERT_TRUE(spool.Append(msgs).ok());
  }

  uint64_t Spooled() {
    spool::Spool spool(SpoolOptions());
    auto stats = spool.Stats();
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? stats->count : 0;
  }

  testing::TempDir dir_;
  core::MapEnvironment env_;
  UploadJob job_;
};

TEST_F(UploadJobTest, AConfigDirThatDoesNotExistIsAConfigError) {
  job_.config_dir = dir_.path() / "typo";
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "config_error");
  EXPECT_EQ(r->exit_code, core::kExitConfig);
  EXPECT_NE(r->line.find("typo"), std::string::npos) << r->line;
}

TEST_F(UploadJobTest, OptedOutPurgesTheSpoolWhateverElseIsSet) {
  Fill(3);
  env_.Set("ZENML_ANALYTICS_OPT_IN", "false");
  job_.config.write_key = "k";
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "opted_out");
  EXPECT_EQ(r->exit_code, core::kExitOk);
  EXPECT_EQ(r->summary.purged, 3u);
  EXPECT_EQ(Spooled(), 0u);
}

TEST_F(UploadJobTest, ADryRunOptedOutPurgesNothing) {
  Fill(2);
  env_.Set("ZENML_ANALYTICS_OPT_IN", "false");
  job_.dry_run = true;
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "opted_out");
  EXPECT_EQ(Spooled(), 2u);
}

TEST_F(UploadJobTest, APendingPurgeRequestIsHonouredBeforeAnythingIsSent) {
  Fill(2);
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  job_.config.write_key = "k";
  job_.config.endpoint = server.url();
  int honoured = 0;
  job_.honour_purge_request = [&](const spool::SpoolOptions& options) {
    ++honoured;
    EXPECT_EQ(options.dir, dir_.path() / "analytics");
    spool::Spool spool(options);
    return spool.Purge().status();
  };
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(honoured, 1);
  EXPECT_EQ(r->summary.sent, 0u);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(UploadJobTest, AFailingPurgeRequestFailsTheJobWithItsStatus) {
  Fill(1);
  job_.honour_purge_request = [](const spool::SpoolOptions&) {
    return core::Status::Busy("held");
  };
  auto r = RunUploadJob(job_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Status::Code::kBusy);
  EXPECT_EQ(core::ExitCodeFor(r.status()), core::kExitTempFail);
}

// Every spool the job opens ingests the inbox only while the user consents,
// asked at the time of the ingest, not at the start of the run: an opt-out
// in the middle of a run must stop it (uploader/ingest_consent.h).
TEST_F(UploadJobTest, TheJobsSpoolIngestsTheInboxOnlyWhileTheUserConsents) {
  Fill(1);
  bool asked = false;
  job_.honour_purge_request = [&](const spool::SpoolOptions& options) {
    asked = true;
    EXPECT_TRUE(options.ingest_allowed);
    if (!options.ingest_allowed) return core::Status::OK();
    EXPECT_TRUE(options.ingest_allowed());
    testing::WriteFile(dir_.path() / "config.yaml",
                       "analytics_opt_in: false\n");
    EXPECT_FALSE(options.ingest_allowed());
    return core::Status::OK();
  };
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(asked);
  EXPECT_EQ(r->outcome, "opted_out");
}

TEST_F(UploadJobTest, TheJobsKeyAndEndpointBeatTheEnvironmentAndAreSent) {
  Fill(4);
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  env_.Set("ZENML_SEGMENT_WRITE_KEY", "from-env");
  env_.Set("ZENML_ANALYTICS_ENDPOINT", "http://127.0.0.1:1/v1/batch");
  job_.config.write_key = "from-flag";
  job_.config.endpoint = server.url();
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "success") << r->line;
  EXPECT_EQ(r->summary.sent, 4u);
  auto requests = server.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests[0].write_key, "from-flag");
  EXPECT_EQ(Spooled(), 0u);
  // Recorded for `zenml-analytics status`.
  spool::Spool spool(SpoolOptions());
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  ASSERT_TRUE(stats->last_upload.has_value());
  EXPECT_EQ(stats->last_upload->outcome, "success");
}

TEST_F(UploadJobTest, AHugeBudgetMeansNoLimitNotAnExpiredOne) {
  // --max-time (or upload.yaml's max_time, which may even be .inf) far
  // beyond what a steady_clock deadline in nanoseconds can hold must not
  // overflow into a deadline in the past.
  for (double huge : {1e11, 1e300, std::numeric_limits<double>::infinity()}) {
    Fill(3);
    SegmentTestServer server;
    ASSERT_TRUE(server.ok());
    job_.config.write_key = "k";
    job_.config.endpoint = server.url();
    job_.max_time = huge;
    job_.request_timeout = huge;
    auto r = RunUploadJob(job_);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->outcome, "success") << huge << ": " << r->line;
    EXPECT_EQ(r->summary.sent, 3u) << huge;
    EXPECT_EQ(Spooled(), 0u) << huge;
  }
}

TEST_F(UploadJobTest, TheEnvironmentsKeyIsUsedWhenTheJobHasNone) {
  Fill(1);
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  env_.Set("ZENML_SEGMENT_WRITE_KEY", "from-env");
  env_.Set("ZENML_ANALYTICS_ENDPOINT", server.url());
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].write_key, "from-env");
}

TEST_F(UploadJobTest, NoKeyAnywhereIsRecordedAndKeepsEverything) {
  if (!BuiltInWriteKey().empty()) {
    GTEST_SKIP() << "this build has a built-in write key: there is always one";
  }
  Fill(2);
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "config_error");
  EXPECT_EQ(r->exit_code, core::kExitConfig);
  EXPECT_EQ(r->summary.remaining, 2u);
  EXPECT_EQ(Spooled(), 2u);
  spool::Spool spool(SpoolOptions());
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  ASSERT_TRUE(stats->last_upload.has_value());
  EXPECT_EQ(stats->last_upload->outcome, "config_error");
}

TEST_F(UploadJobTest, AnInvalidEndpointIsAConfigError) {
  Fill(1);
  job_.config.write_key = "k";
  job_.config.endpoint = "ftp://example.invalid/";
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "config_error");
  EXPECT_EQ(r->exit_code, core::kExitConfig);
  EXPECT_EQ(Spooled(), 1u);
}

TEST_F(UploadJobTest, AnotherUploaderHoldingTheLockMeansBusy) {
  Fill(1);
  auto held = UploadLock::TryAcquire(dir_.path() / "analytics");
  ASSERT_TRUE(held.ok() && held->has_value());
  job_.config.write_key = "k";
  job_.config.endpoint = "http://127.0.0.1:1/v1/batch";
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "busy");
  EXPECT_EQ(r->exit_code, core::kExitOk);
  EXPECT_EQ(Spooled(), 1u);
}

TEST_F(UploadJobTest, ToFileDrainsTheSpoolIntoABundleAndRecordsIt) {
  Fill(3);
  job_.to_file = dir_.path() / "out.bundle";
  auto r = RunUploadJob(job_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "to_file") << r->line;
  ASSERT_TRUE(r->bundle.has_value());
  EXPECT_EQ(r->bundle->messages, 3u);
  EXPECT_TRUE(std::filesystem::exists(job_.to_file));
  EXPECT_EQ(Spooled(), 0u);
  spool::Spool spool(SpoolOptions());
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  ASSERT_TRUE(stats->last_upload.has_value());
  EXPECT_EQ(stats->last_upload->outcome, "to_file");
  EXPECT_EQ(stats->last_upload->sent, 3u);
}

TEST_F(UploadJobTest, FromFileSendsTheBundleWithoutTouchingTheSpool) {
  Fill(2);
  job_.to_file = dir_.path() / "b.bundle";
  ASSERT_TRUE(RunUploadJob(job_).ok());
  Fill(1);  // this machine's own spool: not part of the bundle
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  UploadJob send;
  send.env = &env_;
  send.max_time = 20;
  send.from_file = job_.to_file;
  send.config.write_key = "k";
  send.config.endpoint = server.url();
  auto r = RunUploadJob(send);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, "success") << r->line;
  EXPECT_EQ(r->summary.sent, 2u);
  EXPECT_EQ(Spooled(), 1u);
}

TEST_F(UploadJobTest, TheSameBundleTwiceInADirectoryIsSentOnce) {
  // bundle_job.h: "the same bundle under another name sends nothing twice"
  // holds within one run too (a copy made to be safe, on the same stick).
  Fill(2);
  const std::filesystem::path in = dir_.path() / "in";
  std::filesystem::create_directory(in);
  job_.to_file = in / "a.bundle";
  ASSERT_TRUE(RunUploadJob(job_).ok());
  std::filesystem::copy_file(in / "a.bundle", in / "b.bundle");
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  UploadJob send;
  send.env = &env_;
  send.max_time = 20;
  send.from_file = in;
  send.config.write_key = "k";
  send.config.endpoint = server.url();
  auto r = RunUploadJob(send);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->summary.sent, 2u) << r->line;
  ASSERT_TRUE(r->bundles.has_value());
  EXPECT_EQ(r->bundles->imported, 1u) << r->line;
  EXPECT_EQ(r->bundles->already_imported, 1u) << r->line;
  EXPECT_EQ(server.requests().size(), 1u);
}

}  // namespace
}  // namespace zenml::uploader
