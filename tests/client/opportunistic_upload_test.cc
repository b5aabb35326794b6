// Opportunistic upload: the decision table, and the real spawn of a fake
// zenml-upload (a shell script that records how it was started, then blocks
// until the test releases it: a starter that waited for it would hang).

#include "client/opportunistic_upload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "core/environment.h"
#include "tests/testing/dump_fixture.h"
#include "tests/testing/segment_test_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml::client {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::minutes;
using zenml::dump_testing::Epoch;
using zenml::dump_testing::FixedMessage;
using zenml::dump_testing::SpoolFixture;
using zenml::testing::ReadFile;
using zenml::testing::TempDir;
using zenml::testing::WriteFile;
using D = AutoUploadDecision;

// ---- the decision, as a table -------------------------------------------

struct Row {
  const char* name;
  AutoUploadInputs in;
  AutoUploadDecision want;
};

AutoUploadInputs Go() {
  AutoUploadInputs in;
  in.env_enabled = true;
  in.config_enabled = true;
  in.has_write_key = true;
  in.consent = true;
  in.pending = 5;
  in.now = Epoch() + hours(10);
  in.interval = hours(1);
  return in;
}

template <typename F>
AutoUploadInputs With(F f) {
  AutoUploadInputs in = Go();
  f(in);
  return in;
}

TEST(DecideAutoUploadTest, FollowsTheTable) {
  const core::WallTime now = Go().now;
  const std::vector<Row> rows = {
      {"everything says go", Go(), D::kStart},
      {"never attempted", With([](auto& in) { in.last_attempt.reset(); }),
       D::kStart},
      {"env off", With([](auto& in) { in.env_enabled = false; }),
       D::kDisabledByEnv},
      {"config off", With([](auto& in) { in.config_enabled = false; }),
       D::kDisabledByConfig},
      {"env off wins over everything else", With([](auto& in) {
         in.env_enabled = false;
         in.consent = false;
         in.pending = 0;
       }),
       D::kDisabledByEnv},
      {"no write key", With([](auto& in) { in.has_write_key = false; }),
       D::kNoWriteKey},
      {"opted out", With([](auto& in) { in.consent = false; }), D::kNoConsent},
      {"attempt 59 min ago",
       With([&](auto& in) { in.last_attempt = now - minutes(59); }),
       D::kTooSoon},
      {"attempt exactly one interval ago",
       With([&](auto& in) { in.last_attempt = now - hours(1); }), D::kStart},
      {"attempt 2 h ago",
       With([&](auto& in) { in.last_attempt = now - hours(2); }), D::kStart},
      {"attempt in the future (clock set back)",
       With([&](auto& in) { in.last_attempt = now + hours(3); }), D::kTooSoon},
      {"shorter interval", With([&](auto& in) {
         in.interval = minutes(5);
         in.last_attempt = now - minutes(6);
       }),
       D::kStart},
      {"not-before ahead",
       With([&](auto& in) { in.not_before = now + minutes(1); }),
       D::kNotBefore},
      {"not-before passed",
       With([&](auto& in) { in.not_before = now - minutes(1); }), D::kStart},
      {"spool empty", With([](auto& in) { in.pending = 0; }), D::kSpoolEmpty},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(DecideAutoUpload(row.in), row.want)
        << row.name << ": got "
        << AutoUploadDecisionName(DecideAutoUpload(row.in));
  }
}

TEST(DecideAutoUploadTest, ParsesIntervals) {
  EXPECT_EQ(ParseInterval("3600"), std::chrono::seconds(3600));
  EXPECT_EQ(ParseInterval("90s"), std::chrono::seconds(90));
  EXPECT_EQ(ParseInterval("30m"), std::chrono::seconds(1800));
  EXPECT_EQ(ParseInterval("2h"), std::chrono::seconds(7200));
  EXPECT_EQ(ParseInterval("1d"), std::chrono::seconds(86400));
  EXPECT_EQ(ParseInterval(""), std::nullopt);
  EXPECT_EQ(ParseInterval("h"), std::nullopt);
  EXPECT_EQ(ParseInterval("-5m"), std::nullopt);
  EXPECT_EQ(ParseInterval("soon"), std::nullopt);
}

// ---- the spawn ----------------------------------------------------------

// Whether `pid` runs (exists and is not a zombie waiting for its reaper).
bool Running(pid_t pid) {
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t close_paren = stat.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < stat.size() &&
         stat[close_paren + 2] != 'Z';
}

// What the fake uploader saw about itself.
struct FakeRecord {
  std::string args;
  pid_t pid = -1;
  std::string config;
};

class OpportunisticUploadTest : public ::testing::Test {
 protected:
  OpportunisticUploadTest() {
    fake_ = tools_.path() / "zenml-upload";
    // Records its arguments, pid and config dir, then blocks until released.
    WriteFile(fake_,
              "#!/bin/sh\n"
              "d=$(dirname \"$0\")\n"
              "{ echo \"args=$*\"; echo \"pid=$$\";"
              "  echo \"config=$ZENML_CONFIG_PATH\"; } > \"$d/record.$$\"\n"
              "mv \"$d/record.$$\" \"$d/record\"\n"
              "i=0\n"
              "while [ ! -e \"$d/release\" ] && [ $i -lt 600 ]; do\n"
              "  sleep 0.05; i=$((i+1))\n"
              "done\n");
    ::chmod(fake_.c_str(), 0755);
    env_.Set("ZENML_SEGMENT_WRITE_KEY", "demo-write-key");
    env_.Set("ZENML_ANALYTICS_OPT_IN", "true");
    env_.Set("PATH", "/usr/bin:/bin");
    // No /etc/zenml/upload.yaml of this machine's.
    env_.Set("ZENML_SYSTEM_UPLOAD_CONFIG", (tools_.path() / "none").string());
  }
  ~OpportunisticUploadTest() override {
    WriteFile(tools_.path() / "release", "");
    // Give a started fake the chance to see the release and go.
    for (int i = 0; i < 40 && started_pid_ > 0 && Running(started_pid_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  AutoUploadOptions Options() {
    AutoUploadOptions o;
    o.config_dir = fixture_.config_dir();
    o.consent = true;
    o.uploader = fake_;
    o.environment = &env_;
    o.clock = &fixture_.clock();
    return o;
  }

  void FillSpool() {
    fixture_.Append({FixedMessage(1, "Pipeline run")});
    fixture_.Close();
  }

  // Waits (up to 10 s) for the fake to write its record.
  std::optional<FakeRecord> WaitForRecord() {
    fs::path path = tools_.path() / "record";
    for (int i = 0; i < 200 && !fs::exists(path); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!fs::exists(path)) return std::nullopt;
    FakeRecord r;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("args=")) r.args = line.substr(5);
      if (line.starts_with("pid=")) r.pid = std::stoi(line.substr(4));
      if (line.starts_with("config=")) r.config = line.substr(7);
    }
    started_pid_ = r.pid;
    return r;
  }

  bool Started() const { return fs::exists(tools_.path() / "record"); }

  SpoolFixture fixture_;
  TempDir tools_;
  fs::path fake_;
  core::MapEnvironment env_;
  pid_t started_pid_ = -1;
};

// Field 6 of /proc/<pid>/stat: the session id.
pid_t SessionOf(pid_t pid) {
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close_paren + 2));
  std::string state;
  pid_t ppid = 0, pgrp = 0, session = 0;
  rest >> state >> ppid >> pgrp >> session;
  return session;
}

TEST_F(OpportunisticUploadTest, StartsTheUploaderDetachedAndDoesNotWaitForIt) {
  FillSpool();
  // A descriptor without O_CLOEXEC that the uploader must not inherit.
  fs::path leak = tools_.path() / "leak";
  WriteFile(leak, "");
  int leaked = ::open(leak.c_str(), O_RDONLY);
  ASSERT_GE(leaked, 0);

  auto result = MaybeStartUpload(Options());
  ::close(leaked);
  // It returned although the fake is still blocked waiting for release.
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->decision, D::kStart);
  auto record = WaitForRecord();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->pid, result->pid);
  EXPECT_EQ(record->args, "--quiet");
  EXPECT_EQ(record->config, fixture_.config_dir().string());
  ASSERT_TRUE(Running(record->pid)) << "the uploader should still run";

  // New session, not ours; not our child; stdio on /dev/null; no leaked fd.
  // (The intermediate child led the new session; the uploader, its child, is
  // not a session leader, so it can never acquire a controlling terminal.)
  EXPECT_NE(SessionOf(record->pid), ::getsid(0));
  EXPECT_NE(SessionOf(record->pid), ::getpgrp());
  EXPECT_NE(::getppid(), record->pid);
  for (int fd = 0; fd <= 2; ++fd) {
    std::error_code ec;
    EXPECT_EQ(
        fs::read_symlink(fmt::format("/proc/{}/fd/{}", record->pid, fd), ec),
        "/dev/null")
        << "fd " << fd;
  }
  for (const auto& entry :
       fs::directory_iterator(fmt::format("/proc/{}/fd", record->pid))) {
    std::error_code ec;
    EXPECT_NE(fs::read_symlink(entry.path(), ec), leak) << entry.path();
  }
}

TEST_F(OpportunisticUploadTest, StartsOncePerIntervalEvenWhenManyExitTogether) {
  FillSpool();
  std::vector<std::thread> threads;
  std::atomic<int> starts{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto r = MaybeStartUpload(Options());
      if (r.ok() && r->decision == D::kStart) ++starts;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(starts.load(), 1);
  ASSERT_TRUE(WaitForRecord().has_value());

  // Later within the interval: no; past it: yes.
  fixture_.clock().Advance(minutes(59));
  auto soon = MaybeStartUpload(Options());
  ASSERT_TRUE(soon.ok());
  EXPECT_EQ(soon->decision, D::kTooSoon);

  fixture_.clock().Advance(minutes(2));
  WriteFile(tools_.path() / "release", "");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  fs::remove(tools_.path() / "release");
  fs::remove(tools_.path() / "record");
  auto later = MaybeStartUpload(Options());
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->decision, D::kStart);
  EXPECT_TRUE(WaitForRecord().has_value());
}

TEST_F(OpportunisticUploadTest, UploaderRecordCountsAsTheLastAttempt) {
  fixture_.Append({FixedMessage(1, "Pipeline run")});
  spool::UploadRecord record;
  record.at = fixture_.clock().Now() - minutes(10);
  record.outcome = "retry";
  ASSERT_TRUE(fixture_.spool().RecordUpload(record).ok());
  fixture_.Close();
  auto r = MaybeStartUpload(Options());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision, D::kTooSoon);
  EXPECT_FALSE(Started());
}

TEST_F(OpportunisticUploadTest, RespectsTheNotBeforeTime) {
  fixture_.Append({FixedMessage(1, "Pipeline run")});
  spool::UploadRecord record;
  record.at = fixture_.clock().Now() - hours(2);
  record.outcome = "rate_limited";
  record.not_before = fixture_.clock().Now() + minutes(5);
  ASSERT_TRUE(fixture_.spool().RecordUpload(record).ok());
  fixture_.Close();
  auto r = MaybeStartUpload(Options());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision, D::kNotBefore);
  EXPECT_FALSE(Started());

  fixture_.clock().Advance(minutes(6));
  auto after = MaybeStartUpload(Options());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->decision, D::kStart);
  EXPECT_TRUE(WaitForRecord().has_value());
}

TEST_F(OpportunisticUploadTest, RespectsConsent) {
  FillSpool();
  AutoUploadOptions o = Options();
  o.consent = false;
  auto r = MaybeStartUpload(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision, D::kNoConsent);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(Started());
}

TEST_F(OpportunisticUploadTest, EnvironmentVariableTurnsItOff) {
  FillSpool();
  for (const char* off : {"0", "false", "no", "OFF"}) {
    env_.Set("ZENML_ANALYTICS_AUTO_UPLOAD", off);
    auto r = MaybeStartUpload(Options());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->decision, D::kDisabledByEnv) << off;
  }
  EXPECT_FALSE(Started());
}

TEST_F(OpportunisticUploadTest, ConfigYamlKeyTurnsItOff) {
  FillSpool();
  WriteFile(fixture_.config_dir() / "config.yaml",
            "analytics_opt_in: true\nanalytics_auto_upload: false\n");
  auto r = MaybeStartUpload(Options());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision, D::kDisabledByConfig);
  EXPECT_FALSE(Started());

  WriteFile(fixture_.config_dir() / "config.yaml",
            "analytics_opt_in: true\nanalytics_auto_upload: true\n");
  auto on = MaybeStartUpload(Options());
  ASSERT_TRUE(on.ok());
  EXPECT_EQ(on->decision, D::kStart);
  EXPECT_TRUE(WaitForRecord().has_value());
}

TEST_F(OpportunisticUploadTest, ConfigYamlIsNotReadWithoutWriteKeyOrConsent) {
  FillSpool();
  // Were the file read, the decision would be kDisabledByConfig.
  WriteFile(fixture_.config_dir() / "config.yaml",
            "analytics_opt_in: true\nanalytics_auto_upload: false\n");
  env_.Unset("ZENML_SEGMENT_WRITE_KEY");
  AutoUploadOptions o = Options();
  o.builtin_write_key = false;
  auto no_key = MaybeStartUpload(o);
  ASSERT_TRUE(no_key.ok());
  EXPECT_EQ(no_key->decision, D::kNoWriteKey);

  o = Options();
  o.builtin_write_key = true;
  o.consent = false;
  auto no_consent = MaybeStartUpload(o);
  ASSERT_TRUE(no_consent.ok());
  EXPECT_EQ(no_consent->decision, D::kNoConsent);
  EXPECT_FALSE(Started());
}

TEST_F(OpportunisticUploadTest, NoWriteKeyNoUpload) {
  FillSpool();
  env_.Unset("ZENML_SEGMENT_WRITE_KEY");
  AutoUploadOptions o = Options();
  o.builtin_write_key = false;
  auto r = MaybeStartUpload(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision, D::kNoWriteKey);
}

TEST_F(OpportunisticUploadTest, EmptySpoolNoUpload) {
  auto r = MaybeStartUpload(Options());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision, D::kSpoolEmpty);
  EXPECT_TRUE(fs::is_empty(fixture_.config_dir()));  // nothing created
}

TEST_F(OpportunisticUploadTest, AWriterWithASpoolOfItsOwnStartsNoUploader) {
  FillSpool();  // <config dir>/analytics has events too
  TempDir elsewhere;
  spool::SpoolOptions own;
  own.dir = elsewhere.path() / "analytics";
  own.sync = false;
  {
    spool::Spool spool(own);
    ASSERT_TRUE(spool.Append(std::vector<std::string>{"{}"}).ok());
  }
  AutoUploadOptions o = Options();
  o.spool = own;
  auto r = MaybeStartUpload(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // zenml-upload drains <config dir>/analytics: it would send none of these.
  EXPECT_EQ(r->decision, D::kOtherSpool);
  EXPECT_FALSE(Started());
  // The config dir's own spool, named another way, is the same spool.
  o.spool->dir = fixture_.config_dir() / "analytics" / ".";
  r = MaybeStartUpload(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->decision, D::kStart);
  EXPECT_TRUE(WaitForRecord().has_value());
}

TEST_F(OpportunisticUploadTest, FindsTheUploaderOnPath) {
  FillSpool();
  AutoUploadOptions o = Options();
  o.uploader.clear();
  env_.Set("PATH", "/nonexistent:" + tools_.path().string());
  auto r = MaybeStartUpload(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision, D::kStart);
  EXPECT_TRUE(WaitForRecord().has_value());
}

TEST_F(OpportunisticUploadTest, ClientStartsItWhenItFlushesAtExit) {
  {
    ClientOptions options;
    options.config_dir = fixture_.config_dir();
    options.environment = &env_;
    options.clock = &fixture_.clock();
    options.auto_upload_options.uploader = fake_;
    Client client(options);
    ASSERT_TRUE(client.Track("Pipeline run").ok());
  }  // the destructor flushes, then starts the uploader and returns
  auto record = WaitForRecord();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->args, "--quiet");
}

// The exit check only reads the spool (Stats): it must neither ingest the
// inbox file nor apply any bounds, whatever they are. (It once ingested with
// the default bounds instead of the Client's and lost events to the check.)
class ClientBoundsTest : public OpportunisticUploadTest {
 protected:
  // Larger bounds than the defaults, on the fixture's clock.
  spool::SpoolOptions ClientSpool() {
    spool::SpoolOptions o;
    o.sync = false;
    o.max_events = 2 * spool::SpoolLimits().max_events;
    o.max_age = 3 * spool::SpoolLimits().max_age;
    o.clock = &fixture_.clock();
    return o;
  }

  // A Client with ClientSpool() tracks one event and exits, while an inbox
  // file (another process's exit) waits to be ingested. Returns whether the
  // exit check went as far as starting the (fake) uploader, which it does
  // only after reading the spool.
  bool TrackAndExitWithAnInboxFileWaiting() {
    {
      ClientOptions options;
      options.config_dir = fixture_.config_dir();
      options.environment = &env_;
      options.clock = &fixture_.clock();
      options.spool = ClientSpool();
      options.auto_upload_options.uploader = fake_;
      Client client(options);
      EXPECT_TRUE(client.Track("Pipeline run").ok());
      EXPECT_TRUE(client.Flush(std::chrono::seconds(30)).ok());
      spool::SpoolOptions other = ClientSpool();
      other.dir = fixture_.analytics_dir();
      EXPECT_TRUE(spool::Spool(other)
                      .AppendToInbox(std::vector<std::string>{"{\"n\":1}"})
                      .ok());
      EXPECT_FALSE(fs::is_empty(fixture_.analytics_dir() / "inbox"));
    }  // the destructor runs the check
    return WaitForRecord().has_value();
  }
};

TEST_F(ClientBoundsTest, ExitCheckKeepsEventsBeyondTheDefaultCountBound) {
  const uint64_t over_default = spool::SpoolLimits().max_events + 1;
  fixture_.Append(std::vector<std::string>(over_default, "{}"));
  fixture_.Close();

  ASSERT_TRUE(TrackAndExitWithAnInboxFileWaiting());

  auto stats = fixture_.spool().Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->inbox_files, 1u);  // a read ingests nothing
  EXPECT_TRUE(stats->dropped.empty())
      << "dropped for max_events: " << stats->dropped["max_events"];
  EXPECT_EQ(stats->count, over_default + 1);  // + the tracked one
}

TEST_F(ClientBoundsTest, ExitCheckKeepsEventsOlderThanTheDefaultAgeBound) {
  fixture_.Append({FixedMessage(1, "Pipeline run")});
  fixture_.Close();
  // Older than the default max_age, well within the Client's.
  fixture_.clock().Advance(spool::SpoolLimits().max_age + hours(24));

  ASSERT_TRUE(TrackAndExitWithAnInboxFileWaiting());

  auto stats = fixture_.spool().Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_TRUE(stats->dropped.empty())
      << "dropped for max_age: " << stats->dropped["max_age"];
  EXPECT_EQ(stats->count, 2u);
  EXPECT_EQ(stats->inbox_files, 1u);
}

TEST_F(OpportunisticUploadTest,
       TrackingProcessExitsAtOnceWhileTheUploaderRuns) {
  std::string tool = zenml::testing::BinPath("zenml-analytics");
  ASSERT_TRUE(fs::exists(tool)) << tool;
  zenml::testing::ProcessOptions p;
  p.env["ZENML_CONFIG_PATH"] = fixture_.config_dir().string();
  p.env["ZENML_ANALYTICS_OPT_IN"] = "true";
  p.env["ZENML_SEGMENT_WRITE_KEY"] = "demo-write-key";
  p.env["ZENML_ANALYTICS_UPLOADER"] = fake_.string();
  p.env["ZENML_ANALYTICS_AUTO_UPLOAD"] = std::nullopt;
  // If the tracker waited for the uploader it would hang until the fake's
  // own 30 s limit: the timeout below would fire first.
  p.timeout = std::chrono::seconds(20);
  auto run = zenml::testing::Run({tool, "track", "Pipeline run"}, p);
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  auto record = WaitForRecord();
  ASSERT_TRUE(record.has_value());
  EXPECT_TRUE(Running(record->pid)) << "the uploader outlives the tracker";

  // A second tracker within the interval starts none.
  fs::remove(tools_.path() / "record");
  auto again = zenml::testing::Run({tool, "track", "Pipeline run"}, p);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(Started());
}

// upload.yaml counts as zenml-upload counts it (uploader/upload_config.h):
// a key there is a key, the system-wide file's too, and a refused file
// starts nothing (zenml-upload would exit 78 at once).
TEST_F(OpportunisticUploadTest, AKeyInUploadYamlIsAKey) {
  FillSpool();
  env_.Unset("ZENML_SEGMENT_WRITE_KEY");
  AutoUploadOptions o = Options();
  o.builtin_write_key = false;
  const fs::path yaml = fixture_.config_dir() / "analytics" / "upload.yaml";
  WriteFile(yaml, "write_key: from-upload-yaml-0123\n");
  ::chmod(yaml.c_str(), 0600);
  auto r = MaybeStartUpload(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->decision, D::kStart);
  EXPECT_TRUE(WaitForRecord().has_value());
}

TEST_F(OpportunisticUploadTest, AKeyInTheSystemUploadYamlIsAKey) {
  FillSpool();
  env_.Unset("ZENML_SEGMENT_WRITE_KEY");
  AutoUploadOptions o = Options();
  o.builtin_write_key = false;
  if (::geteuid() != 0) GTEST_SKIP() << "the system file must be root's";
  const fs::path yaml = tools_.path() / "system-upload.yaml";
  WriteFile(yaml, "write_key: from-system-yaml-0123\n");
  ::chmod(yaml.c_str(), 0600);
  env_.Set("ZENML_SYSTEM_UPLOAD_CONFIG", yaml.string());
  auto r = MaybeStartUpload(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->decision, D::kStart);
  EXPECT_TRUE(WaitForRecord().has_value());
}

TEST_F(OpportunisticUploadTest, ARefusedUploadYamlStartsNothing) {
  FillSpool();
  const fs::path yaml = fixture_.config_dir() / "analytics" / "upload.yaml";
  WriteFile(yaml, "write_key: readable-by-all-0123\n");
  ::chmod(yaml.c_str(), 0644);
  // Even with a key in the environment: zenml-upload refuses the file.
  auto r = MaybeStartUpload(Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->decision, D::kConfigError);
  EXPECT_EQ(AutoUploadDecisionName(r->decision), "config_error");
  EXPECT_FALSE(Started());
}

// End to end: a tracker whose only write key and endpoint are in upload.yaml
// starts the real zenml-upload, which sends to that endpoint.
TEST_F(OpportunisticUploadTest, TheStartedUploaderSendsWhereUploadYamlSays) {
  std::string tool = zenml::testing::BinPath("zenml-analytics");
  std::string uploader = zenml::testing::BinPath("zenml-upload");
  ASSERT_TRUE(fs::exists(tool) && fs::exists(uploader));
  zenml::testing::SegmentTestServer server;
  fs::create_directories(fixture_.config_dir() / "analytics");
  const fs::path yaml = fixture_.config_dir() / "analytics" / "upload.yaml";
  WriteFile(yaml, "write_key: yaml-only-key-0123456789\nendpoint: " +
                      server.url() + "\n");
  ::chmod(yaml.c_str(), 0600);
  zenml::testing::ProcessOptions p;
  p.env["ZENML_CONFIG_PATH"] = fixture_.config_dir().string();
  p.env["ZENML_ANALYTICS_OPT_IN"] = "true";
  p.env["ZENML_SEGMENT_WRITE_KEY"] = std::nullopt;
  p.env["ZENML_ANALYTICS_ENDPOINT"] = std::nullopt;
  p.env["ZENML_SYSTEM_UPLOAD_CONFIG"] = (tools_.path() / "none").string();
  p.env["ZENML_ANALYTICS_UPLOADER"] = uploader;
  p.env["ZENML_ANALYTICS_AUTO_UPLOAD"] = std::nullopt;
  p.env["http_proxy"] = std::nullopt;
  p.env["HTTP_PROXY"] = std::nullopt;
  p.env["ALL_PROXY"] = std::nullopt;
  auto run = zenml::testing::Run({tool, "track", "Pipeline run"}, p);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (int i = 0; i < 200 && server.accepted_ids().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(server.accepted_ids().size(), 1u);
  ASSERT_FALSE(server.requests().empty());
  EXPECT_EQ(server.requests()[0].write_key, "yaml-only-key-0123456789");
}

}  // namespace
}  // namespace zenml::client
