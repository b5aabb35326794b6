// Issue 9's corruption matrix as a user meets it: for each kind of damage
// to each kind of spool file (tests/spool/damage_matrix.h), the real
// executables on the damaged spool:
//   - `zenml-analytics track` works (exit 0);
//   - `zenml-spool-dump --json` works and lists the survivors;
//   - `zenml-analytics status --json` reports the loss: counted in
//     dropped.corruption, or flagged by corruption_loss_unknown;
//   - `zenml-upload` delivers every surviving event (and the new one) to a
//     collector on 127.0.0.1, each once, in order, and leaves nothing;
// and, on a second copy of the same damage, `zenml-analytics opt-out`
// purges it: nothing pending, and no file under analytics/ holds an event.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/config_dir.h"
#include "core/value.h"
#include "tests/spool/damage_matrix.h"
#include "tests/testing/dump_fixture.h"
#include "tests/testing/segment_test_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml {
namespace {

namespace fs = std::filesystem;
namespace dm = spool::damage_matrix;
using zenml::testing::BinPath;
using zenml::testing::ProcessOptions;
using zenml::testing::ProcessResult;
using zenml::testing::SegmentTestServer;
using zenml::testing::TempDir;

// Every filled event's messageId starts with this (FixedMessage).
constexpr char kIdPrefix[] = "00000000-0000-4000-8000-";

std::string Message(int i) {
  return dump_testing::FixedMessage(i, "Pipeline run");
}

class DamagedSpoolTest : public ::testing::TestWithParam<int> {
 protected:
  // Runs `tool` on `config_dir`, consent given by the environment (but for
  // `opt-out`, which records the user's choice in config.yaml).
  ProcessResult Tool(const fs::path& config_dir, const std::string& tool,
                     std::vector<std::string> args) {
    ProcessOptions p;
    p.env["ZENML_CONFIG_PATH"] = config_dir.string();
    p.env["ZENML_ANALYTICS_OPT_IN"] = "true";
    if (!args.empty() && args[0] == "opt-out") {
      p.env["ZENML_ANALYTICS_OPT_IN"] = std::nullopt;
    }
    p.env["ZENML_ANALYTICS_AUTO_UPLOAD"] = "0";
    p.env["ZENML_SEGMENT_WRITE_KEY"] = std::nullopt;
    p.env["ZENML_ANALYTICS_ENDPOINT"] = std::nullopt;
    p.env["DO_NOT_TRACK"] = std::nullopt;
    p.timeout = std::chrono::seconds(120);
    args.insert(args.begin(), BinPath(tool));
    return zenml::testing::Run(args, p);
  }

  // A config dir whose spool holds case `c`'s files, damaged. Returns the
  // number of events filled (messages 0 .. n-1).
  uint64_t Damaged(const fs::path& config_dir, const dm::Case& c) {
    const fs::path analytics = core::AnalyticsDir(config_dir);
    fs::create_directories(config_dir);
    const uint64_t n = dm::Fill(analytics, config_dir, c, Message);
    c.damage(analytics);
    return n;
  }

  // The messageIds `zenml-spool-dump --json` lists, in order.
  std::vector<std::string> DumpIds(const fs::path& config_dir) {
    ProcessResult r = Tool(config_dir, "zenml-spool-dump", {"--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> ids;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      auto v = core::ParseJson(line);
      EXPECT_TRUE(v.ok()) << line;
      if (!v.ok()) continue;
      const core::Value* id = v->Find("messageId");
      EXPECT_TRUE(id != nullptr && id->is_string()) << line;
      if (id != nullptr && id->is_string()) ids.push_back(id->as_string());
    }
    return ids;
  }

  TempDir dir_;
};

TEST_P(DamagedSpoolTest, ToolsWorkSurvivorsAreDeliveredLossIsReported) {
  const dm::Case c = dm::Cases()[static_cast<size_t>(GetParam())];
  SCOPED_TRACE(c.name);
  const fs::path config = dir_.path() / "upload";
  const uint64_t filled = Damaged(config, c);
  ASSERT_FALSE(HasFailure());

  ProcessResult track =
      Tool(config, "zenml-analytics", {"track", "Step created"});
  ASSERT_EQ(track.exit_code, 0) << track.err;

  const std::vector<std::string> listed = DumpIds(config);
  ASSERT_FALSE(listed.empty());
  std::set<std::string> filled_left;
  for (const std::string& id : listed) {
    if (id.starts_with(kIdPrefix)) filled_left.insert(id);
  }
  EXPECT_EQ(filled_left.size() + 1, listed.size())
      << "each filled survivor once, and the tracked event";
  ASSERT_LE(filled_left.size(), filled);
  const uint64_t lost = filled - filled_left.size();

  ProcessResult status = Tool(config, "zenml-analytics", {"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto facts = core::ParseJson(status.out);
  ASSERT_TRUE(facts.ok()) << status.out;
  const core::Value* dropped = facts->Find("dropped");
  ASSERT_NE(dropped, nullptr) << status.out;
  const core::Value* counted_value = dropped->Find("corruption");
  const uint64_t counted = counted_value != nullptr && counted_value->is_int()
                               ? static_cast<uint64_t>(counted_value->as_int())
                               : 0;
  const core::Value* unknown_value = facts->Find("corruption_loss_unknown");
  const bool unknown = unknown_value != nullptr && unknown_value->is_bool() &&
                       unknown_value->as_bool();
  std::printf("[ damaged ] %-40s lost %llu counted %llu unknown %d\n",
              c.name.c_str(), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(counted), unknown ? 1 : 0);
  switch (c.report) {
    case dm::Report::kNone:
      EXPECT_EQ(lost, 0u);
      EXPECT_EQ(counted, 0u);
      EXPECT_FALSE(unknown);
      break;
    case dm::Report::kExact:
      EXPECT_GT(lost, 0u);
      EXPECT_EQ(counted, lost);
      break;
    case dm::Report::kExactOrUnknown:
      if (unknown) {
        EXPECT_LE(counted, lost);
      } else {
        EXPECT_EQ(counted, lost);
      }
      break;
    case dm::Report::kExactFlaggedUnknown:
      EXPECT_TRUE(unknown);
      EXPECT_EQ(counted, lost);
      break;
    case dm::Report::kUndetectable:
      EXPECT_LE(counted, lost);
      break;
  }

  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  ProcessResult upload = Tool(config, "zenml-upload",
                              {"--endpoint", server.url(), "--write-key",
                               "matrix-key", "--max-time", "100"});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  EXPECT_EQ(server.accepted_ids(), listed)
      << "every survivor delivered once, in the dump's order";
  EXPECT_TRUE(DumpIds(config).empty()) << "nothing left";
}

// Whether any file under `dir` holds `needle`.
std::vector<fs::path> FilesHolding(const fs::path& dir,
                                   const std::string& needle) {
  std::vector<fs::path> out;
  for (const auto& f : fs::recursive_directory_iterator(dir)) {
    if (!f.is_regular_file()) continue;
    const std::string data = zenml::testing::ReadFile(f.path());
    if (data.find(needle) != std::string::npos) out.push_back(f.path());
  }
  return out;
}

TEST_P(DamagedSpoolTest, OptOutPurgesADamagedSpool) {
  const dm::Case c = dm::Cases()[static_cast<size_t>(GetParam())];
  SCOPED_TRACE(c.name);
  const fs::path config = dir_.path() / "opt-out";
  Damaged(config, c);
  ASSERT_FALSE(HasFailure());

  ProcessResult out = Tool(config, "zenml-analytics", {"opt-out"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_TRUE(DumpIds(config).empty());
  for (const fs::path& f :
       FilesHolding(core::AnalyticsDir(config), kIdPrefix)) {
    ADD_FAILURE() << "event data left in " << f;
  }
}

INSTANTIATE_TEST_SUITE_P(AllCases, DamagedSpoolTest,
                         ::testing::Range(0,
                                          static_cast<int>(dm::Cases().size())),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return dm::CaseTestName(param.param);
                         });

}  // namespace
}  // namespace zenml
