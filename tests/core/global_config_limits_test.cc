// Issue 13: a hostile config.yaml is a clear Corruption (or IoError), found
// before a YAML tree is built; keys written twice and merge keys read as
// ZenML's own reader (PyYAML) reads them, and a rewrite keeps that reading.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/config_dir.h"
#include "core/consent.h"
#include "core/global_config.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// "Billion laughs": 9 levels of 9 aliases, 9^9 (387 million) leaves once
// expanded, in under 400 bytes.
std::string AliasBomb() {
  std::string text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 9; ++j) text += (j ? ", " : "") + prev;
    text += "]\n";
  }
  return text + "analytics_opt_in: false\n";
}

std::string DeepNesting(int levels) {
  return "analytics_opt_in: false\nstore: " + std::string(levels, '[') +
         std::string(levels, ']') + "\n";
}

std::string ManyKeys(int keys) {
  std::string text = "analytics_opt_in: false\n";
  for (int i = 0; i < keys; ++i) {
    text += "k" + std::to_string(i) + ": 1\n";
  }
  return text;
}

class GlobalConfigLimitsTest : public ::testing::Test {
 protected:
  std::filesystem::path dir() const { return tmp_ / "zenml"; }
  std::filesystem::path file() const { return ConfigFilePath(dir()); }
  void Write(const std::string& text) {
    std::filesystem::create_directories(dir());
    WriteFile(file(), text);
  }
  // Loads, expects Corruption naming the file and saying `why`.
  void ExpectCorrupt(const std::string& why) {
    auto config = GlobalConfig::Load(dir());
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), Status::Code::kCorruption)
        << config.status();
    EXPECT_NE(config.status().message().find(file().string()),
              std::string::npos)
        << config.status();
    EXPECT_NE(config.status().message().find(why), std::string::npos)
        << config.status();
  }
  TempDir tmp_;
};

TEST_F(GlobalConfigLimitsTest, AliasBombIsCorruption) {
  Write(AliasBomb());
  ExpectCorrupt("aliases expanded");
  // Consent falls to the default, as for any unreadable file, and says why.
  const Consent consent = DecideConsent(dir(), MapEnvironment());
  EXPECT_EQ(consent.source, ConsentSource::kDefault);
  EXPECT_NE(consent.detail.find("aliases expanded"), std::string::npos);
  // Opting in or minting an id never rewrites it.
  EXPECT_FALSE(SetOptIn(dir(), true).ok());
  EXPECT_FALSE(EnsureAnonymousId(dir()).ok());
  EXPECT_EQ(ReadFile(file()), AliasBomb());
}

TEST_F(GlobalConfigLimitsTest, AnAliasToItsOwnAncestorIsCorruption) {
  // yaml-cpp would build a cycle; walking it would never end.
  for (const char* cycle : {"a: &a [*a]\n", "a: &a {b: *a}\n"}) {
    Write(cycle);
    ExpectCorrupt("alias to a node that contains it");
  }
}

TEST_F(GlobalConfigLimitsTest, DeepNestingIsCorruption) {
  Write(DeepNesting(static_cast<int>(kConfigMaxDepth)));
  ExpectCorrupt("nests deeper than 32 levels");
  Write(DeepNesting(30'000));  // would overflow a recursive walk's stack
  ExpectCorrupt("nests deeper than 32 levels");
  // Unclosed: refused before yaml-cpp's scanner reads ahead through it all.
  Write("store: " + std::string(60'000, '['));
  ExpectCorrupt("nests deeper than 32 levels");
  // Brackets in quoted scalars and comments are not nesting.
  const std::string many(40, '[');
  Write("a: \"" + many + "\\\"" + many + "\"\nb: '" + many + "''" + many +
        "'\n# " + many + "\nanalytics_opt_in: false # " + many + "\n");
  auto quoted = GlobalConfig::Load(dir());
  ASSERT_TRUE(quoted.ok()) << quoted.status();
  EXPECT_EQ(quoted->analytics_opt_in().value(), std::optional<bool>(false));
  // Nor in a plain scalar in block context (found by fuzz_config_yaml: the
  // rewrite wrote `anal: !!bool "tu{{{…"` unquoted, and the old lexical
  // check then refused the file it had written).
  Write("a: !!str tu" + std::string(40, '{') + "e\nb: x " + many +
        "\nc: [x, {y: z}]\nanalytics_opt_in: false\n");
  auto plain = GlobalConfig::Load(dir());
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(SetOptIn(dir(), true).ok());
  plain = GlobalConfig::Load(dir());
  ASSERT_TRUE(plain.ok()) << plain.status() << ReadFile(file());
  EXPECT_EQ(plain->analytics_opt_in().value(), std::optional<bool>(true));
  // Within the limit: read as usual.
  Write(DeepNesting(static_cast<int>(kConfigMaxDepth) - 1));
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->analytics_opt_in().value(), std::optional<bool>(false));
}

TEST_F(GlobalConfigLimitsTest, ManyNodesAreCorruption) {
  Write(ManyKeys(6'000));  // 12,002 nodes
  ExpectCorrupt("more than 10000 YAML nodes");
  Write(ManyKeys(4'000));  // 8,003 nodes: within the limit
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->analytics_opt_in().value(), std::optional<bool>(false));
}

TEST_F(GlobalConfigLimitsTest, ALongValueAliasedManyTimesIsCorruption) {
  // 30 KB aliased 5,000 times: 45 KB of text, 150 MB once a rewrite writes
  // every alias out.
  std::string text =
      "analytics_opt_in: false\nv: &v " + std::string(30'000, 'x') + "\nl: [";
  for (int i = 0; i < 5'000; ++i) text += i ? ",*v" : "*v";
  Write(text + "]\n");
  ExpectCorrupt("more than 1048576 bytes of values (aliases expanded)");
}

TEST_F(GlobalConfigLimitsTest, AFileOverTheSizeLimitIsCorruption) {
  std::string big = "analytics_opt_in: false\nnote: \"" +
                    std::string(kConfigMaxBytes, 'x') + "\"\n";
  Write(big);
  ExpectCorrupt("larger than 65536 bytes");
  // 100 MB (sparse): Load reads no more than the limit.
  Write("analytics_opt_in: false\n");
  ASSERT_EQ(::truncate(file().c_str(), 100'000'000), 0);
  ExpectCorrupt("larger than 65536 bytes");
}

TEST_F(GlobalConfigLimitsTest, AFifoIsAnIoErrorAndDoesNotBlock) {
  std::filesystem::create_directories(dir());
  ASSERT_EQ(::mkfifo(file().c_str(), 0600), 0);
  auto config = GlobalConfig::Load(dir());  // would block for a writer
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Status::Code::kIoError);
  EXPECT_NE(config.status().message().find("not a regular file"),
            std::string::npos)
      << config.status();
}

TEST_F(GlobalConfigLimitsTest, MoreThanOneDocumentIsCorruption) {
  Write("analytics_opt_in: true\n---\nanalytics_opt_in: false\n");
  ExpectCorrupt("more than one YAML document");
}

TEST_F(GlobalConfigLimitsTest, AFewAliasesWithinTheLimitsAreRead) {
  Write(
      "defaults: &d {analytics_opt_in: false}\n"
      "copy: *d\n"
      "flag: &t true\n"
      "analytics_opt_in: *t\n");
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->analytics_opt_in().value(), std::optional<bool>(true));
  // Setting the key replaces the value, not the node shared with `flag`.
  config->set_analytics_opt_in(false);
  ASSERT_TRUE(config->Save(dir()).ok());
  auto again = GlobalConfig::Load(dir());
  ASSERT_TRUE(again.ok()) << again.status() << ReadFile(file());
  EXPECT_EQ(again->analytics_opt_in().value(), std::optional<bool>(false));
  EXPECT_NE(ReadFile(file()).find("flag: true"), std::string::npos)
      << ReadFile(file());
}

// Found by fuzz_config_yaml (docs/FUZZING.md): a byte that is not UTF-8 was
// read, then written back by the rewrite as U+FFFD, changing user_id.
// PyYAML refuses such a file outright; so do we now.
TEST_F(GlobalConfigLimitsTest, TextThatIsNotPrintableUtf8IsCorruption) {
  const std::string bad[] = {
      std::string("analytics_opt_in: !!bool \"true\"\nuser_id: !!sary "
                  "\xff\0aGVsbG8=\n",
                  58),
      "user_id: \xc3\n",          // truncated sequence
      "user_id: \xc0\xaf\n",      // overlong '/'
      "user_id: \xed\xa0\x80\n",  // a UTF-16 surrogate
      "user_id: a\x07 b\n",       // a control character
      "user_id: \xef\xbf\xbe\n",  // U+FFFE
      // Found by fuzz_config_yaml: lone CRs read by yaml-cpp as part of the
      // value, written back raw, and the rewrite no longer parsed.
      "x: !custom: of\r\ru\r\r\rn:\r",
  };
  for (const std::string& text : bad) {
    Write(text);
    ExpectCorrupt("has a byte YAML does not allow at offset");
    EXPECT_FALSE(SetOptIn(dir(), false).ok());
    EXPECT_EQ(ReadFile(file()), text);
  }
  // Printable UTF-8, a BOM, tabs and CRLF are fine.
  Write(
      "\xef\xbb\xbfuser_id: \"caf\xc3\xa9 \xf0\x9f\x98\x80\"\r\nx: "
      "\"a\tb\"\r\n");
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->user_id().value(),
            std::optional<std::string>("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  ASSERT_TRUE(SetOptIn(dir(), false).ok());
  config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->user_id().value(),
            std::optional<std::string>("caf\xc3\xa9 \xf0\x9f\x98\x80"));
}

// Found by fuzz_config_yaml: a value holding a CR from an escape ("t\rue")
// under an explicit tag was written back raw and unquoted, and the rewritten
// file no longer parsed.
TEST_F(GlobalConfigLimitsTest, ControlCharactersFromEscapesSurviveARewrite) {
  Write(
      "a: !custom \"t\\rue\"\nb: \"x\\ty\\u0007z\\u00e9\"\n"
      "c: !!str \"\\r\\n\"\n");
  auto before = GlobalConfig::Load(dir());
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(SetOptIn(dir(), false).ok());
  auto after = GlobalConfig::Load(dir());
  ASSERT_TRUE(after.ok()) << after.status() << ReadFile(file());
  EXPECT_EQ(before->ToYaml().substr(0, 40), after->ToYaml().substr(0, 40));
  const std::string text = ReadFile(file());
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
}

TEST_F(GlobalConfigLimitsTest, RepeatedKeysTakeTheLastValue) {
  Write(
      "analytics_opt_in: true\n"
      "user_id: 11111111-1111-4111-8111-111111111111\n"
      "version: 0.40.0\n"
      "analytics_opt_in: false\n"
      "user_id: 22222222-2222-4222-8222-222222222222\n");
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->analytics_opt_in().value(), std::optional<bool>(false));
  EXPECT_EQ(config->user_id().value(),
            std::optional<std::string>("22222222-2222-4222-8222-222222222222"));
  EXPECT_EQ(DecideConsent(dir(), MapEnvironment()).allowed, false);
  // The rewrite keeps each key once, where it first stood.
  ASSERT_TRUE(SetOptIn(dir(), true).ok());
  EXPECT_EQ(ReadFile(file()),
            "analytics_opt_in: true\n"
            "user_id: 22222222-2222-4222-8222-222222222222\n"
            "version: 0.40.0\n");
}

TEST_F(GlobalConfigLimitsTest, MergeKeysAreFollowedAsPyYamlDoes) {
  Write("base: &b {analytics_opt_in: false}\n<<: *b\n");
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->analytics_opt_in().value(), std::optional<bool>(false));
  // A key written in the map beats a merged one; in a list the first wins.
  Write(
      "a: &a {analytics_opt_in: false}\n"
      "b: &b {analytics_opt_in: true}\n"
      "<<: [*b, *a]\n");
  config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->analytics_opt_in().value(), std::optional<bool>(true));
  Write("a: &a {analytics_opt_in: true}\n<<: *a\nanalytics_opt_in: false\n");
  config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->analytics_opt_in().value(), std::optional<bool>(false));
}

TEST_F(GlobalConfigLimitsTest, ForceOptOutKeepsASymlinkAndBacksUpItsTarget) {
  const std::filesystem::path dotfiles = tmp_ / "dotfiles";
  std::filesystem::create_directories(dotfiles);
  std::filesystem::create_directories(dir());
  WriteFile(dotfiles / "zenml.yaml", AliasBomb());
  std::filesystem::create_symlink(dotfiles / "zenml.yaml", file());
  auto backup = ForceOptOut(dir());
  ASSERT_TRUE(backup.ok()) << backup.status();
  ASSERT_TRUE(backup->has_value());
  EXPECT_EQ((*backup)->parent_path(), dotfiles);
  EXPECT_EQ(ReadFile(**backup), AliasBomb());
  EXPECT_TRUE(std::filesystem::is_symlink(file()));
  EXPECT_EQ(ReadFile(dotfiles / "zenml.yaml"), "analytics_opt_in: false\n");
  // Twice in the same second: a second backup name, the first kept.
  WriteFile(dotfiles / "zenml.yaml", "{");
  auto second = ForceOptOut(dir());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(second->has_value());
  EXPECT_NE(**second, **backup);
  EXPECT_EQ(ReadFile(**backup), AliasBomb());
  EXPECT_EQ(ReadFile(**second), "{");
  // A readable file is only updated.
  auto third = ForceOptOut(dir());
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_FALSE(third->has_value());
}

// The same texts through PyYAML, ZenML's reader: our reading of
// analytics_opt_in and user_id must be its reading, before and after a
// rewrite by SetOptIn.
TEST_F(GlobalConfigLimitsTest, PyYamlReadsTheSameValues) {
  testing::ProcessResult probe =
      testing::Run({"/usr/bin/env", "python3", "-c", "import yaml"});
  if (probe.exit_code != 0) GTEST_SKIP() << "python3 with PyYAML not found";
  const std::string script =
      "import sys, yaml\n"
      "d = yaml.safe_load(open(sys.argv[1])) or {}\n"
      "print(d.get('analytics_opt_in'), d.get('user_id'))\n";
  auto ours = [&]() -> std::string {
    auto config = GlobalConfig::Load(dir());
    if (!config.ok()) return config.status().ToString();
    std::optional<bool> in = config->analytics_opt_in().value();
    std::optional<std::string> id = config->user_id().value();
    return std::string(!in   ? "None"
                       : *in ? "True"
                             : "False") +
           " " + id.value_or("None") + "\n";
  };
  auto python = [&]() {
    return testing::Run(
               {"/usr/bin/env", "python3", "-c", script, file().string()})
        .out;
  };
  const std::vector<std::string> texts = {
      "analytics_opt_in: true\nanalytics_opt_in: false\n",
      "analytics_opt_in: false\nanalytics_opt_in: true\n",
      "user_id: 11111111-1111-4111-8111-111111111111\n"
      "user_id: 22222222-2222-4222-8222-222222222222\n",
      "'analytics_opt_in': yes\nanalytics_opt_in: no\n",
      "base: &b {analytics_opt_in: false}\n<<: *b\n",
      "a: &a {analytics_opt_in: false}\nb: &b {analytics_opt_in: true}\n"
      "<<: [*b, *a]\n",
      "a: &a {analytics_opt_in: true}\nb: &b {user_id: x}\n<<: *a\n<<: *b\n"
      "analytics_opt_in: false\n",
  };
  for (const std::string& text : texts) {
    Write(text);
    EXPECT_EQ(ours(), python()) << text;
    ASSERT_TRUE(SetOptIn(dir(), true).ok()) << text;
    EXPECT_EQ(python().substr(0, 5), "True ") << text << ReadFile(file());
    EXPECT_EQ(ours(), python()) << text << ReadFile(file());
  }
}

}  // namespace
}  // namespace zenml::core
