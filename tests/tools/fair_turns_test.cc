// Fair turns (issue 9): while 8 processes track and flush every event,
// readers still get the spool. The writers are either Clients (Track() then
// Flush(): the writer thread keeps the spool held while events keep coming)
// or loops of the one-shot `zenml-analytics track`; each prints an event's
// messageId once it is durable. zenml-upload (against a Segment-compatible
// server on 127.0.0.1) and zenml-spool-dump run over and over and never exit
// busy (75), and every event a writer had acknowledged is afterwards
// delivered or still in the spool (the runs take seconds, so the spool stays
// far below its 100,000-event bound, whose drops would count as losses
// here). The 20-run cases (the acceptance) run in the default suite;
// the soak repeats the Clients' case 100 times.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
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

using namespace std::chrono_literals;
using zenml::testing::BinPath;
using zenml::testing::Child;
using zenml::testing::ProcessOptions;
using zenml::testing::ProcessResult;
using zenml::testing::SegmentTestServer;
using zenml::testing::TempDir;
using zenml::testing::TestBinPath;

constexpr int kWriters = 8;
constexpr int kBusy = 75;

std::set<std::string> MessageIds(const std::string& jsonl) {
  std::set<std::string> ids;
  std::istringstream lines(jsonl);
  for (std::string line; std::getline(lines, line);) {
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("messageId")) {
      ids.insert(doc["messageId"].GetString());
    }
  }
  return ids;
}

enum class Writers {
  kClients,  // client_test_helper: Track() then Flush(), holding the spool
  kOneShot,  // `zenml-analytics track` in a loop: one process per event
};

void ReadersGetTheirTurn(int runs, Writers kind) {
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  TempDir config;
  ProcessOptions p;
  p.env["ZENML_CONFIG_PATH"] = config.path().string();
  p.env["ZENML_ANALYTICS_OPT_IN"] = "true";
  p.env["ZENML_ANALYTICS_AUTO_UPLOAD"] = "0";
  p.env["ZENML_SEGMENT_WRITE_KEY"] = std::nullopt;
  p.env["DO_NOT_TRACK"] = std::nullopt;
  p.timeout = 120s;

  // The writers: each event is durable (Flush) before its id is printed.
  std::mutex mu;
  std::vector<std::string> acknowledged;  // guarded by mu
  std::atomic<bool> stopping{false};
  std::vector<std::unique_ptr<Child>> writers;
  std::vector<std::thread> readers;
  for (int w = 0; kind == Writers::kOneShot && w < kWriters; ++w) {
    // The one-shot CLI prints the messageId once the event is durable.
    readers.emplace_back([&, w] {
      for (int i = 0; !stopping.load(); ++i) {
        ProcessResult r = zenml::testing::Run(
            {BinPath("zenml-analytics"), "track", "Pipeline run", "--property",
             fmt::format("w={}", w), "--property", fmt::format("i={}", i)},
            p);
        std::string id = r.out;
        while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
          id.pop_back();
        }
        if (r.exit_code != 0 || id.empty()) continue;
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.push_back(id);
      }
    });
  }
  for (int w = 0; kind == Writers::kClients && w < kWriters; ++w) {
    writers.push_back(std::make_unique<Child>(
        std::vector<std::string>{
            TestBinPath("client_test_helper"), "track", config.path().string(),
            "100000000", fmt::format("w{}", w), "--flush-each", "--report"},
        p));
    Child* child = writers.back().get();
    readers.emplace_back([&, child] {
      for (;;) {
        auto line = child->ReadLine(200ms);
        if (line) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.push_back(*line);
        } else if (stopping.load()) {
          break;
        }
      }
    });
  }
  // Let the writers get going before the first reader.
  for (;;) {
    std::this_thread::sleep_for(50ms);
    std::lock_guard<std::mutex> lock(mu);
    if (acknowledged.size() >= 8 * kWriters) break;
  }

  const std::vector<std::string> upload = {
      BinPath("zenml-upload"), "--endpoint", server.url(), "--write-key",
      "demo-write-key",        "--max-time", "10",         "--quiet"};
  int busy_uploads = 0, busy_dumps = 0;
  std::vector<std::string> failures;
  for (int run = 0; run < runs; ++run) {
    ProcessResult up = zenml::testing::Run(upload, p);
    if (up.exit_code == kBusy) {
      ++busy_uploads;
    } else if (up.exit_code != 0) {
      failures.push_back(
          fmt::format("upload exit {}: {}", up.exit_code, up.err));
    }
    ProcessResult dump =
        zenml::testing::Run({BinPath("zenml-spool-dump"), "--json"}, p);
    if (dump.exit_code == kBusy) {
      ++busy_dumps;
    } else if (dump.exit_code != 0) {
      failures.push_back(
          fmt::format("dump exit {}: {}", dump.exit_code, dump.err));
    }
  }

  for (auto& w : writers) w->Kill(SIGKILL);
  stopping = true;
  for (auto& t : readers) t.join();
  for (auto& w : writers) (void)w->Wait();

  std::cout << "[ measure  ] busy exits: zenml-upload " << busy_uploads << "/"
            << runs << ", zenml-spool-dump " << busy_dumps << "/" << runs
            << "; " << acknowledged.size() << " events acknowledged by "
            << kWriters << " writers\n";
  EXPECT_EQ(busy_uploads, 0);
  EXPECT_EQ(busy_dumps, 0);
  EXPECT_THAT(failures, ::testing::IsEmpty());

  // Nothing lost: every acknowledged event was delivered or is still pending
  // (in the database or in an inbox file the writers left).
  const std::vector<std::string> delivered = server.accepted_ids();
  std::set<std::string> found(delivered.begin(), delivered.end());
  ProcessResult rest =
      zenml::testing::Run({BinPath("zenml-spool-dump"), "--json"}, p);
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  for (const auto& id : MessageIds(rest.out)) found.insert(id);
  size_t lost = 0;
  for (const auto& id : acknowledged) lost += found.contains(id) ? 0 : 1;
  EXPECT_EQ(lost, 0u) << "of " << acknowledged.size() << " acknowledged";
  for (const auto& id : acknowledged) {
    if (!found.contains(id)) {
      ADD_FAILURE() << "lost: " << id;
      break;
    }
  }
  EXPECT_GT(acknowledged.size(), static_cast<size_t>(8 * kWriters));
  EXPECT_GT(delivered.size(), 0u) << "the uploads delivered nothing";
}

TEST(FairTurnsTest, TwentyUploadsAndDumpsNeverBusyNothingLost) {
  ReadersGetTheirTurn(20, Writers::kClients);
}

TEST(FairTurnsTest, TwentyUploadsAndDumpsBesideOneShotTrackLoops) {
  ReadersGetTheirTurn(20, Writers::kOneShot);
}

TEST(FairTurnsSoakTest, HundredUploadsAndDumpsNeverBusyNothingLost) {
  ReadersGetTheirTurn(100, Writers::kClients);
}

}  // namespace
}  // namespace zenml
