// End-to-end tests of the zenml-analytics executable: the real binary, a
// temporary config dir (ZENML_CONFIG_PATH), checks on stdout, stderr, exit
// codes and the config.yaml it leaves behind.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/exit_code.h"
#include "core/uuid.h"
#include "core/value.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml::tools {
namespace {

using testing::ProcessResult;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// As ZenML's Python CLI writes it (yaml.dump, keys sorted).
constexpr char kZenmlConfig[] =
    "active_stack_id: 5d4fa3a8-2e0b-4c55-9f2e-6c1f1c4a0f1e\n"
    "analytics_opt_in: true\n"
    "store:\n"
    "  secrets_store:\n"
    "    type: sql\n"
    "  type: sql\n"
    "  url: sqlite:////home/user/.config/zenml/local_stores/default/zenml.db\n"
    "user_id: 7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d\n"
    "user_email_opt_in: null\n"
    "user_metadata:\n"
    "  role: '42'\n"
    "version: 0.40.0\n";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class ZenmlAnalyticsTest : public ::testing::Test {
 protected:
  std::filesystem::path dir() const { return tmp_ / "zenml"; }
  std::filesystem::path file() const { return dir() / "config.yaml"; }

  ProcessResult Run(
      std::vector<std::string> args,
      std::map<std::string, std::optional<std::string>> env = {}) {
    args.insert(args.begin(), testing::BinPath("zenml-analytics"));
    testing::ProcessOptions options;
    // A clean slate: only what the test sets decides.
    options.env = {{"ZENML_CONFIG_PATH", dir().string()},
                   {"ZENML_ANALYTICS_OPT_IN", std::nullopt},
                   {"DO_NOT_TRACK", std::nullopt}};
    for (auto& [k, v] : env) options.env[k] = v;
    return testing::Run(args, options);
  }

  void WriteConfig(const std::string& text) {
    std::filesystem::create_directories(dir());
    WriteFile(file(), text);
  }

  // Asserts one stderr line "zenml-analytics: …" plus the --help hint.
  static void ExpectUsageError(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, core::kExitUsage);
    EXPECT_EQ(r.out, "");
    auto lines = Lines(r.err);
    ASSERT_EQ(lines.size(), 2u) << r.err;
    EXPECT_EQ(lines[0].rfind("zenml-analytics: ", 0), 0u) << r.err;
    EXPECT_EQ(lines[1], "Try 'zenml-analytics --help'.");
  }

  TempDir tmp_;
};

TEST_F(ZenmlAnalyticsTest, HelpGoesToStdoutAndExitsZero) {
  ProcessResult r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("Usage: zenml-analytics"), std::string::npos);
  for (const char* sub : {"opt-in", "opt-out", "status"}) {
    EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
  }
  EXPECT_FALSE(std::filesystem::exists(dir()));
}

TEST_F(ZenmlAnalyticsTest, SubcommandHelpGoesToStdout) {
  ProcessResult r = Run({"status", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--json"), std::string::npos);
}

TEST_F(ZenmlAnalyticsTest, VersionPrintsNameAndVersion) {
  ProcessResult r = Run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("zenml-analytics ", 0), 0u) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(ZenmlAnalyticsTest, NoCommandIsAUsageError) {
  ExpectUsageError(Run({}));
}

TEST_F(ZenmlAnalyticsTest, UnknownCommandIsAUsageError) {
  ProcessResult r = Run({"frobnicate"});
  ExpectUsageError(r);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos);
}

TEST_F(ZenmlAnalyticsTest, UnknownOptionIsAUsageError) {
  ExpectUsageError(Run({"status", "--bogus"}));
}

TEST_F(ZenmlAnalyticsTest, StatusOnAFreshMachineSaysDefaultAndCreatesNothing) {
  ProcessResult r = Run({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("Analytics:     opted in"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Decided by:    default"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Anonymous id:  none yet"), std::string::npos);
  EXPECT_NE(r.out.find("Config dir:    " + dir().string()), std::string::npos);
  EXPECT_NE(r.out.find("ZenML version: "), std::string::npos);
  EXPECT_NE(r.out.find("OS:            "), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir()));
}

TEST_F(ZenmlAnalyticsTest, StatusJsonIsOneObjectWithEveryField) {
  WriteConfig(kZenmlConfig);
  ProcessResult r = Run({"status", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Lines(r.out).size(), 1u);
  auto json = core::ParseJson(r.out);
  ASSERT_TRUE(json.ok()) << json.status() << r.out;
  EXPECT_TRUE(json->Find("consent")->Find("allowed")->as_bool());
  EXPECT_EQ(json->Find("consent")->Find("source")->as_string(), "config.yaml");
  EXPECT_EQ(json->Find("anonymous_id")->as_string(),
            "7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d");
  EXPECT_EQ(json->Find("config_dir")->as_string(), dir().string());
  EXPECT_FALSE(json->Find("zenml_version")->as_string().empty());
  EXPECT_FALSE(json->Find("os")->as_string().empty());
  EXPECT_TRUE(json->Find("config_error")->is_null());
}

TEST_F(ZenmlAnalyticsTest, OptOutWritesConfigAndCreatesNoUserId) {
  ProcessResult r = Run({"opt-out"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("Opted out"), std::string::npos);
  EXPECT_EQ(ReadFile(file()), "analytics_opt_in: false\n");
  struct stat st;
  ASSERT_EQ(::stat(file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  r = Run({"status"});
  EXPECT_NE(r.out.find("Analytics:     opted out"), std::string::npos);
  EXPECT_NE(r.out.find("Decided by:    config.yaml"), std::string::npos);
  EXPECT_NE(r.out.find("Anonymous id:  none yet"), std::string::npos);
}

TEST_F(ZenmlAnalyticsTest, OptInCreatesAnAnonymousIdOnce) {
  ProcessResult r = Run({"opt-in"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  YAML::Node config = YAML::LoadFile(file().string());
  EXPECT_TRUE(config["analytics_opt_in"].as<bool>());
  const std::string id = config["user_id"].as<std::string>();
  EXPECT_TRUE(core::IsUuid4(id)) << id;
  EXPECT_NE(r.out.find(id), std::string::npos);

  ASSERT_EQ(Run({"opt-out"}).exit_code, 0);
  ASSERT_EQ(Run({"opt-in"}).exit_code, 0);
  EXPECT_EQ(YAML::LoadFile(file().string())["user_id"].as<std::string>(), id);
  EXPECT_NE(Run({"status"}).out.find("Anonymous id:  " + id),
            std::string::npos);
}

TEST_F(ZenmlAnalyticsTest, PythonWrittenConfigIsKeptThroughOptOutAndOptIn) {
  WriteConfig(kZenmlConfig);
  const YAML::Node before = YAML::Load(kZenmlConfig);
  for (const char* command : {"opt-out", "opt-in", "opt-out"}) {
    ProcessResult r = Run({command});
    ASSERT_EQ(r.exit_code, 0) << command << ": " << r.err;
    const std::string text = ReadFile(file());
    const YAML::Node after = YAML::Load(text);
    ASSERT_EQ(after.size(), before.size()) << text;
    auto b = before.begin();
    for (auto a = after.begin(); a != after.end(); ++a, ++b) {
      const std::string key = a->first.Scalar();
      ASSERT_EQ(key, b->first.Scalar()) << "key order changed:\n" << text;
      if (key == "analytics_opt_in") {
        EXPECT_EQ(a->second.as<bool>(), std::string(command) == "opt-in");
      } else {
        EXPECT_EQ(YAML::Dump(a->second), YAML::Dump(b->second))
            << command << " changed " << key << ":\n"
            << text;
      }
    }
    // A quoted number stays a string for ZenML's Python.
    EXPECT_EQ(after["user_metadata"]["role"].Tag(), "!") << text;
  }
}

TEST_F(ZenmlAnalyticsTest, PythonReadsTheRewrittenConfigAsBefore) {
  // The strongest check of the round trip: ZenML's own YAML reader.
  testing::ProcessResult probe =
      testing::Run({"/usr/bin/env", "python3", "-c", "import yaml"});
  if (probe.exit_code != 0) GTEST_SKIP() << "python3 with PyYAML not found";
  WriteConfig(kZenmlConfig);
  const std::string script =
      "import sys, yaml\n"
      "a = yaml.safe_load(open(sys.argv[1]))\n"
      "b = yaml.safe_load(sys.argv[2])\n"
      "a.pop('analytics_opt_in'); b.pop('analytics_opt_in')\n"
      "sys.exit(0 if a == b else 1)\n";
  ASSERT_EQ(Run({"opt-out"}).exit_code, 0);
  testing::ProcessResult same = testing::Run(
      {"/usr/bin/env", "python3", "-c", script, file().string(), kZenmlConfig});
  EXPECT_EQ(same.exit_code, 0) << same.err << ReadFile(file());
}

TEST_F(ZenmlAnalyticsTest, EnvironmentOverridesAreShownAsTheDecidingSource) {
  WriteConfig("analytics_opt_in: true\n");
  ProcessResult r = Run({"status"}, {{"DO_NOT_TRACK", "1"}});
  EXPECT_NE(r.out.find("Analytics:     opted out"), std::string::npos);
  EXPECT_NE(r.out.find("Decided by:    DO_NOT_TRACK"), std::string::npos);
  r = Run({"status", "--json"}, {{"ZENML_ANALYTICS_OPT_IN", "false"}});
  auto json = core::ParseJson(r.out);
  ASSERT_TRUE(json.ok());
  EXPECT_FALSE(json->Find("consent")->Find("allowed")->as_bool());
  EXPECT_EQ(json->Find("consent")->Find("source")->as_string(),
            "ZENML_ANALYTICS_OPT_IN");
}

TEST_F(ZenmlAnalyticsTest, OptInUnderDoNotTrackSaysAnalyticsStayOff) {
  ProcessResult r = Run({"opt-in"}, {{"DO_NOT_TRACK", "1"}});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("DO_NOT_TRACK=1 overrides config.yaml"),
            std::string::npos)
      << r.out;
}

TEST_F(ZenmlAnalyticsTest, StatusOnACorruptConfigSaysSoInOneLine) {
  const std::string corrupt = "store: {type: sql\n";
  WriteConfig(corrupt);
  ProcessResult r = Run({"status"});
  EXPECT_EQ(r.exit_code, 0);
  auto lines = Lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("zenml-analytics: warning: ", 0), 0u);
  EXPECT_NE(lines[0].find("config.yaml is not valid YAML"), std::string::npos);
  EXPECT_NE(r.out.find("Decided by:    default"), std::string::npos);
  EXPECT_EQ(ReadFile(file()), corrupt);
}

TEST_F(ZenmlAnalyticsTest, OptOutOnACorruptConfigFailsAndLeavesItUntouched) {
  const std::string corrupt = "store: {type: sql\n";
  WriteConfig(corrupt);
  for (const char* command : {"opt-out", "opt-in"}) {
    ProcessResult r = Run({command});
    EXPECT_EQ(r.exit_code, core::kExitConfig) << command;
    EXPECT_EQ(r.out, "");
    auto lines = Lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_EQ(lines[0].rfind("zenml-analytics: ", 0), 0u);
    EXPECT_EQ(ReadFile(file()), corrupt);
  }
  // opt-out's one line also says how to opt out anyway.
  ProcessResult r = Run({"opt-out"});
  EXPECT_NE(r.err.find("is not valid YAML"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'zenml-analytics opt-out --force'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("ZENML_ANALYTICS_OPT_IN=false"), std::string::npos)
      << r.err;
}

// Hostile config.yaml files (issue 13), each with what the one-line error
// says. All were measured to hang or take tens of seconds before the limits.
struct Hostile {
  std::string name;
  std::string text;  // written to config.yaml
  off_t grow_to;     // then truncate(2) to this size (sparse), if not 0
  std::string why;
};

std::vector<Hostile> HostileConfigs() {
  std::string bomb = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 9; ++j) bomb += (j ? ", " : "") + prev;
    bomb += "]\n";
  }
  std::string many;
  for (int i = 0; i < 6'000; ++i) many += "k" + std::to_string(i) + ": 1\n";
  return {
      {"alias bomb", bomb + "analytics_opt_in: true\n", 0, "aliases expanded"},
      {"deep nesting",
       "store: " + std::string(30'000, '[') + std::string(30'000, ']') + "\n",
       0, "nests deeper"},
      {"100 MB", "analytics_opt_in: true\n", 100'000'000, "larger than"},
      {"many nodes", many, 0, "YAML nodes"},
      {"not YAML", "store: {type: sql\n", 0, "not valid YAML"},
  };
}

class HostileConfigTest : public ZenmlAnalyticsTest {
 protected:
  void WriteHostile(const Hostile& h) {
    WriteConfig(h.text);
    if (h.grow_to) {
      ASSERT_EQ(::truncate(file().c_str(), h.grow_to), 0);
    }
  }
};

TEST_F(HostileConfigTest, AOneLineErrorInEveryCommand) {
  for (const Hostile& h : HostileConfigs()) {
    ASSERT_NO_FATAL_FAILURE(WriteHostile(h));
    // Each must finish (the subprocess is killed after 60 s), with its code.
    const std::vector<std::pair<std::vector<std::string>, int>> commands = {
        {{"status"}, core::kExitOk},
        {{"opt-in"}, core::kExitConfig},
        {{"opt-out"}, core::kExitConfig},
        {{"track", "Pipeline run"}, core::kExitConfig},
    };
    for (const auto& [args, code] : commands) {
      ProcessResult r = Run(args);
      EXPECT_FALSE(r.timed_out) << h.name << " " << args[0];
      EXPECT_EQ(r.exit_code, code) << h.name << " " << args[0] << r.err;
      auto lines = Lines(r.err);
      ASSERT_EQ(lines.size(), 1u) << h.name << " " << args[0] << r.err;
      EXPECT_NE(lines[0].find(h.why), std::string::npos) << lines[0];
      EXPECT_NE(lines[0].find(file().string()), std::string::npos) << lines[0];
    }
    if (!h.grow_to) {
      EXPECT_EQ(ReadFile(file()), h.text) << h.name;
    }
    std::filesystem::remove_all(dir());
  }
}

TEST_F(HostileConfigTest, OptOutForceMovesItAsideAndOptsOut) {
  for (const Hostile& h : HostileConfigs()) {
    ASSERT_NO_FATAL_FAILURE(WriteHostile(h));
    ASSERT_EQ(::chmod(file().c_str(), 0644), 0);
    ProcessResult r = Run({"opt-out", "--force"});
    ASSERT_EQ(r.exit_code, 0) << h.name << r.err;
    EXPECT_EQ(r.err, "") << h.name;
    EXPECT_NE(r.out.find("Moved the unreadable config.yaml to "),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("Opted out"), std::string::npos) << r.out;
    // A fresh config that opts out, and no user_id.
    EXPECT_EQ(ReadFile(file()), "analytics_opt_in: false\n") << h.name;
    // The old file, whole, in one private backup beside it.
    std::vector<std::filesystem::path> backups;
    for (const auto& e : std::filesystem::directory_iterator(dir())) {
      if (e.path().filename().string().rfind("config.yaml.bak-", 0) == 0) {
        backups.push_back(e.path());
      }
    }
    ASSERT_EQ(backups.size(), 1u) << h.name;
    EXPECT_NE(r.out.find(backups[0].string()), std::string::npos) << r.out;
    struct stat st;
    ASSERT_EQ(::stat(backups[0].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << h.name;
    if (h.grow_to) {
      EXPECT_EQ(st.st_size, h.grow_to);
    } else {
      EXPECT_EQ(ReadFile(backups[0]), h.text) << h.name;
    }
    r = Run({"status"});
    EXPECT_NE(r.out.find("Analytics:     opted out"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("Decided by:    config.yaml"), std::string::npos);
    std::filesystem::remove_all(dir());
  }
}

TEST_F(ZenmlAnalyticsTest, OptOutForceOnAReadableConfigIsAPlainOptOut) {
  WriteConfig(kZenmlConfig);
  ProcessResult r = Run({"opt-out", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("Moved"), std::string::npos) << r.out;
  YAML::Node after = YAML::LoadFile(file().string());
  EXPECT_FALSE(after["analytics_opt_in"].as<bool>());
  EXPECT_EQ(after["user_id"].as<std::string>(),
            "7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d");
  size_t files = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(dir())) {
    ++files;
  }
  EXPECT_EQ(files, 1u);  // config.yaml, no backup
}

TEST_F(ZenmlAnalyticsTest, OptOutForceReplacesADirectoryNamedConfigYaml) {
  std::filesystem::create_directories(file() / "inside");
  ProcessResult r = Run({"opt-out"});
  EXPECT_EQ(r.exit_code, core::kExitIoErr) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  r = Run({"opt-out", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(file()), "analytics_opt_in: false\n");
}

TEST_F(HostileConfigTest, TheEnvironmentStillOptsOut) {
  for (const Hostile& h : HostileConfigs()) {
    ASSERT_NO_FATAL_FAILURE(WriteHostile(h));
    ProcessResult r =
        Run({"track", "Pipeline run"}, {{"ZENML_ANALYTICS_OPT_IN", "false"}});
    EXPECT_EQ(r.exit_code, 0) << h.name << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir() / "analytics")) << h.name;
    r = Run({"status", "--json"}, {{"ZENML_ANALYTICS_OPT_IN", "false"}});
    auto json = core::ParseJson(r.out);
    ASSERT_TRUE(json.ok()) << r.out;
    const core::Value* consent = json->Find("consent");
    ASSERT_NE(consent, nullptr) << r.out;
    ASSERT_NE(consent->Find("allowed"), nullptr) << r.out;
    EXPECT_FALSE(consent->Find("allowed")->as_bool()) << h.name;
    std::filesystem::remove_all(dir());
  }
}

TEST_F(ZenmlAnalyticsTest, NoConfigDirIsAConfigurationError) {
  ProcessResult r = Run({"status"}, {{"ZENML_CONFIG_PATH", std::nullopt},
                                     {"XDG_CONFIG_HOME", std::nullopt},
                                     {"HOME", std::nullopt}});
  EXPECT_EQ(r.exit_code, core::kExitConfig);
  auto lines = Lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("ZENML_CONFIG_PATH"), std::string::npos);
}

TEST_F(ZenmlAnalyticsTest, XdgConfigHomeIsHonoured) {
  ProcessResult r =
      Run({"opt-out"}, {{"ZENML_CONFIG_PATH", std::nullopt},
                        {"XDG_CONFIG_HOME", tmp_.path().string()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "zenml" / "config.yaml"));
}

}  // namespace
}  // namespace zenml::tools
