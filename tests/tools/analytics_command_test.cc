// In-process tests of zenml-analytics' extension points: the hooks other
// subsystems register (purge on opt-out, spool stats in status) are run by
// the existing commands, and their failures are reported as documented.

#include <gtest/gtest.h>

#include <sstream>

#include "core/context.h"
#include "core/exit_code.h"
#include "core/value.h"
#include "tests/testing/temp_dir.h"
#include "tools/zenml-analytics/command.h"

namespace zenml::tools {
namespace {

class AnalyticsCommandTest : public ::testing::Test {
 protected:
  AnalyticsCommandTest()
      : env_{{"ZENML_CONFIG_PATH", (tmp_ / "zenml").string()}} {
    RegisterCommands(registry_);
  }
  int Run(const std::vector<std::string>& args) {
    out_.str("");
    err_.str("");
    Io io{out_, err_, env_};
    return RunWithRegistry(args, io, registry_);
  }
  testing::TempDir tmp_;
  core::MapEnvironment env_;
  Registry registry_;
  std::ostringstream out_;
  std::ostringstream err_;
};

// The help names the build's default ZenML version, now taken from CMake
// instead of core::DetectContext (which reads /etc/os-release on every run):
// both must agree.
TEST_F(AnalyticsCommandTest, TrackHelpNamesTheBuildsDefaultZenmlVersion) {
  EXPECT_EQ(Run({"track", "--help"}), 0) << err_.str();
  const std::string want =
      "default: the build's, " + core::DetectContext().zenml_version;
  EXPECT_NE((out_.str() + err_.str()).find(want), std::string::npos)
      << out_.str() << err_.str();
}

TEST_F(AnalyticsCommandTest, OptOutRunsItsHooksAfterWritingTheFile) {
  std::filesystem::path seen;
  registry_.opt_out_hooks.push_back(
      [&](const std::filesystem::path& dir, std::ostream& out) {
        seen = dir;
        out << "Deleted 3 pending events.\n";
        return core::Status::OK();
      });
  EXPECT_EQ(Run({"opt-out"}), 0) << err_.str();
  EXPECT_EQ(seen, tmp_ / "zenml");
  EXPECT_NE(out_.str().find("Opted out"), std::string::npos);
  EXPECT_NE(out_.str().find("Deleted 3 pending events."), std::string::npos);
}

TEST_F(AnalyticsCommandTest, AFailingOptOutHookIsReportedAndFailsTheRun) {
  registry_.opt_out_hooks.push_back(
      [](const std::filesystem::path&, std::ostream&) {
        return core::Status::IoError("cannot purge the spool: disk on fire");
      });
  EXPECT_EQ(Run({"opt-out"}), core::kExitIoErr);
  EXPECT_EQ(err_.str(),
            "zenml-analytics: cannot purge the spool: disk on fire\n");
  // The opt-out itself stands.
  EXPECT_EQ(Run({"status", "--json"}), 0);
  EXPECT_NE(out_.str().find("\"consent\":{\"allowed\":false"),
            std::string::npos);
}

TEST_F(AnalyticsCommandTest, StatusShowsRegisteredSectionsInTextAndJson) {
  registry_.status_sections.push_back([](const std::filesystem::path&) {
    return core::Result<std::vector<StatusField>>(
        std::vector<StatusField>{{"pending_events", "Pending events", 12}});
  });
  EXPECT_EQ(Run({"status"}), 0);
  EXPECT_NE(out_.str().find("Pending events:12"), std::string::npos)
      << out_.str();
  EXPECT_EQ(Run({"status", "--json"}), 0);
  auto json = core::ParseJson(out_.str());
  ASSERT_TRUE(json.ok()) << out_.str();
  EXPECT_EQ(json->Find("pending_events")->as_int(), 12);
}

TEST_F(AnalyticsCommandTest, AFailingStatusSectionIsAWarningNotAFailure) {
  registry_.status_sections.push_back([](const std::filesystem::path&) {
    return core::Result<std::vector<StatusField>>(
        core::Status::Busy("spool busy"));
  });
  EXPECT_EQ(Run({"status"}), 0);
  EXPECT_EQ(err_.str(), "zenml-analytics: warning: spool busy\n");
  EXPECT_NE(out_.str().find("Analytics:"), std::string::npos);
}

}  // namespace
}  // namespace zenml::tools
