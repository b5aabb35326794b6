// zenml-spool-dump runs over and over while 4 processes track at once and
// an uploader drains to a Segment-compatible server on 127.0.0.1: every
// tracked event is delivered exactly once, every dump succeeds and shows only
// real events, and nobody fails.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/segment_test_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml {
namespace {

using zenml::testing::BinPath;
using zenml::testing::ProcessOptions;
using zenml::testing::ProcessResult;
using zenml::testing::SegmentTestServer;
using zenml::testing::TempDir;

constexpr int kTrackers = 4;
constexpr int kEventsPerTracker = 40;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(DumpConcurrencyTest,
     DumpWhileFourProcessesTrackAndAnUploaderRunsLosesNothing) {
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  TempDir config;
  ProcessOptions p;
  p.env["ZENML_CONFIG_PATH"] = config.path().string();
  p.env["ZENML_ANALYTICS_OPT_IN"] = "true";
  p.env["ZENML_ANALYTICS_AUTO_UPLOAD"] = "0";
  p.env["ZENML_SEGMENT_WRITE_KEY"] = std::nullopt;
  p.env["DO_NOT_TRACK"] = std::nullopt;

  std::mutex mu;
  std::vector<std::string> tracked;     // guarded by mu
  std::vector<std::string> failures;    // guarded by mu
  std::set<std::string> seen_in_dumps;  // guarded by mu
  std::atomic<int> trackers_left{kTrackers};
  std::atomic<int> dumps{0}, uploads{0};

  auto fail = [&](std::string what) {
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back(std::move(what));
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kTrackers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEventsPerTracker; ++i) {
        if (i == kEventsPerTracker / 2) {
          // Halfway, until two dumps and two uploads have finished (a loaded
          // machine may not have scheduled them yet): the rest of the
          // tracking then overlaps theirs however slow the machine is. Not a
          // speed test: the cap only stops a broken dump or upload from
          // hanging the test, and then the counts below fail it.
          const auto cap =
              std::chrono::steady_clock::now() + std::chrono::seconds(120);
          while ((dumps.load() < 2 || uploads.load() < 2) &&
                 std::chrono::steady_clock::now() < cap) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }
        ProcessResult r = zenml::testing::Run(
            {BinPath("zenml-analytics"), "track", "Pipeline run", "--property",
             fmt::format("tracker={}", t), "--property",
             fmt::format("i={}", i)},
            p);
        if (r.exit_code != 0) {
          fail("track: " + r.err);
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        tracked.push_back(Trim(r.out));
      }
      --trackers_left;
    });
  }
  const std::vector<std::string> upload = {
      BinPath("zenml-upload"), "--endpoint", server.url(), "--write-key",
      "demo-write-key",        "--max-time", "10",         "--quiet"};
  threads.emplace_back([&] {
    while (trackers_left.load() > 0) {
      ProcessResult r = zenml::testing::Run(upload, p);
      ++uploads;
      if (r.exit_code != 0) fail("upload: " + r.err);
    }
  });
  threads.emplace_back([&] {
    while (trackers_left.load() > 0) {
      ProcessResult r =
          zenml::testing::Run({BinPath("zenml-spool-dump"), "--json"}, p);
      ++dumps;
      if (r.exit_code != 0) {
        fail("dump: " + r.err);
        continue;
      }
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);) {
        rapidjson::Document doc;
        doc.Parse(line.c_str(), line.size());
        if (doc.HasParseError() || !doc.IsObject() ||
            !doc.HasMember("messageId")) {
          fail("dump printed a line that is not a message: " + line);
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        seen_in_dumps.insert(doc["messageId"].GetString());
      }
      ProcessResult stats =
          zenml::testing::Run({BinPath("zenml-spool-dump"), "--stats"}, p);
      if (stats.exit_code != 0) fail("dump --stats: " + stats.err);
    }
  });
  for (auto& t : threads) t.join();

  // Drain what is left.
  ProcessResult last = zenml::testing::Run(upload, p);
  EXPECT_EQ(last.exit_code, 0) << last.err;

  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_GE(dumps.load(), 2);
  EXPECT_GE(uploads.load(), 2);
  ASSERT_EQ(tracked.size(), static_cast<size_t>(kTrackers * kEventsPerTracker));

  std::map<std::string, int> delivered;
  for (const auto& id : server.accepted_ids()) delivered[id]++;
  for (const auto& id : tracked) {
    EXPECT_EQ(delivered[id], 1) << "messageId " << id;
  }
  EXPECT_EQ(delivered.size(), tracked.size());
  std::set<std::string> tracked_set(tracked.begin(), tracked.end());
  for (const auto& id : seen_in_dumps) {
    EXPECT_TRUE(tracked_set.contains(id)) << "dump showed an unknown " << id;
  }

  ProcessResult after =
      zenml::testing::Run({BinPath("zenml-spool-dump"), "--json"}, p);
  EXPECT_EQ(after.exit_code, 0);
  EXPECT_EQ(after.out, "") << "the spool is empty at the end";
  std::cout << "[ measure  ] " << dumps.load() << " dumps and "
            << uploads.load() << " uploads ran while " << tracked.size()
            << " events were tracked\n";
}

}  // namespace
}  // namespace zenml
