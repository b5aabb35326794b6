#include "core/global_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <thread>
#include <vector>

#include "core/config_dir.h"
#include "core/consent.h"
#include "core/uuid.h"
#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// As ZenML's Python CLI writes it (yaml.dump of its GlobalConfiguration).
constexpr char kZenmlConfig[] =
    "active_stack_id: 5d4fa3a8-2e0b-4c55-9f2e-6c1f1c4a0f1e\n"
    "analytics_opt_in: true\n"
    "store:\n"
    "  backup_strategy: in-memory\n"
    "  secrets_store:\n"
    "    type: sql\n"
    "  type: sql\n"
    "  url: sqlite:////home/user/.config/zenml/local_stores/default/zenml.db\n"
    "user_id: 7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d\n"
    "user_metadata: null\n"
    "quoted_number: '123'\n"
    "quoted_bool: 'true'\n"
    "list:\n"
    "- a\n"
    "- 2\n"
    "version: 0.5.0\n";

int Mode(const std::filesystem::path& p) {
  struct stat st;
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

class GlobalConfigTest : public ::testing::Test {
 protected:
  std::filesystem::path dir() const { return tmp_ / "zenml"; }
  std::filesystem::path file() const { return ConfigFilePath(dir()); }
  void Write(const std::string& text) {
    std::filesystem::create_directories(dir());
    WriteFile(file(), text);
  }
  TempDir tmp_;
};

TEST_F(GlobalConfigTest, MissingFileIsAnEmptyConfig) {
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->exists());
  EXPECT_FALSE(config->analytics_opt_in()->has_value());
  EXPECT_FALSE(config->user_id()->has_value());
  EXPECT_FALSE(std::filesystem::exists(dir()));  // loading creates nothing
}

TEST_F(GlobalConfigTest, ReadsTheTwoKeysOfAZenmlWrittenFile) {
  Write(kZenmlConfig);
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->exists());
  EXPECT_EQ(*config->analytics_opt_in(), std::optional<bool>(true));
  EXPECT_EQ(*config->user_id(),
            std::optional<std::string>("7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d"));
}

TEST_F(GlobalConfigTest, RoundTripKeepsEveryUnknownKeyAndValue) {
  Write(kZenmlConfig);
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok());
  config->set_analytics_opt_in(false);
  ASSERT_TRUE(config->Save(dir()).ok());

  const std::string text = ReadFile(file());
  YAML::Node before = YAML::Load(kZenmlConfig);
  YAML::Node after = YAML::Load(text);
  ASSERT_TRUE(after.IsMap()) << text;
  ASSERT_EQ(after.size(), before.size()) << text;
  // Same keys in the same order, same values except the one we set.
  auto b = before.begin();
  for (auto a = after.begin(); a != after.end(); ++a, ++b) {
    const std::string key = a->first.Scalar();
    EXPECT_EQ(key, b->first.Scalar());
    if (key == "analytics_opt_in") {
      EXPECT_EQ(a->second.as<std::string>(), "false");
      continue;
    }
    EXPECT_EQ(YAML::Dump(a->second), YAML::Dump(b->second)) << key;
  }
  EXPECT_EQ(after["store"]["secrets_store"]["type"].as<std::string>(), "sql");
  EXPECT_TRUE(after["user_metadata"].IsNull());
  // Quoted scalars stay quoted, so ZenML's Python still reads strings.
  EXPECT_EQ(after["quoted_number"].Tag(), "!") << text;
  EXPECT_EQ(after["quoted_bool"].Tag(), "!") << text;
  EXPECT_EQ(after["version"].as<std::string>(), "0.5.0");
  EXPECT_EQ(after["user_id"].as<std::string>(),
            "7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d");
}

TEST_F(GlobalConfigTest, SaveIsAtomicAndPrivate) {
  GlobalConfig config;
  config.set_analytics_opt_in(true);
  ASSERT_TRUE(config.Save(dir()).ok());
  EXPECT_EQ(Mode(dir()), 0700);
  EXPECT_EQ(Mode(file()), 0600);
  // No temp file left behind.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(ReadFile(file()), "analytics_opt_in: true\n");
}

TEST_F(GlobalConfigTest, SaveOverAnExistingFileMakesItPrivate) {
  Write(kZenmlConfig);
  ASSERT_EQ(::chmod(file().c_str(), 0644), 0);
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config->Save(dir()).ok());
  EXPECT_EQ(Mode(file()), 0600);
}

TEST_F(GlobalConfigTest, ASymlinkedConfigStaysASymlink) {
  std::filesystem::create_directories(dir());
  const auto real = tmp_ / "dotfiles" / "config.yaml";
  std::filesystem::create_directories(real.parent_path());
  WriteFile(real, kZenmlConfig);
  std::filesystem::create_symlink(real, file());
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  config->set_analytics_opt_in(false);
  ASSERT_TRUE(config->Save(dir()).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(file()));
  EXPECT_FALSE(*GlobalConfig::Load(dir())->analytics_opt_in().value());
  EXPECT_NE(ReadFile(real).find("analytics_opt_in: false"), std::string::npos);
}

TEST_F(GlobalConfigTest, EmptyFileIsAnEmptyConfig) {
  Write("");
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->exists());
  EXPECT_FALSE(config->analytics_opt_in()->has_value());
  Write("# only a comment\n\n");
  EXPECT_TRUE(GlobalConfig::Load(dir()).ok());
}

TEST_F(GlobalConfigTest, CorruptFileIsCorruptionNamingTheFile) {
  for (const char* bad : {"analytics_opt_in: [unclosed\n", "a: b: c\n",
                          "- a\n- b\n", "just a string\n", "a: b\n  c: d\n"}) {
    Write(bad);
    auto config = GlobalConfig::Load(dir());
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_EQ(config.status().code(), Status::Code::kCorruption) << bad;
    EXPECT_NE(config.status().message().find(file().string()),
              std::string::npos)
        << config.status();
  }
}

TEST_F(GlobalConfigTest, UnreadableFileIsAnIoError) {
  std::filesystem::create_directories(file());  // a directory: read fails
  auto config = GlobalConfig::Load(dir());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Status::Code::kIoError);
}

TEST_F(GlobalConfigTest, FileWithoutReadPermissionIsPermissionDenied) {
  Write(kZenmlConfig);
  ASSERT_EQ(::chmod(file().c_str(), 0), 0);
  // Root reads any file: check as "nobody" instead (the directories are
  // opened up so that only the file's own mode stands in the way).
  const bool as_root = ::geteuid() == 0;
  if (as_root) {
    ASSERT_EQ(::chmod(tmp_.path().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(dir().c_str(), 0755), 0);
    ASSERT_EQ(::seteuid(65534), 0);
  }
  auto config = GlobalConfig::Load(dir());
  if (as_root) {
    ASSERT_EQ(::seteuid(0), 0);
  }
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(config.status().message().find(file().string()), std::string::npos);
}

TEST_F(GlobalConfigTest, NonBooleanOptInIsCorruption) {
  Write("analytics_opt_in: maybe\n");
  auto config = GlobalConfig::Load(dir());
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->analytics_opt_in().status().code(),
            Status::Code::kCorruption);
  Write("analytics_opt_in: {a: 1}\n");
  EXPECT_FALSE(GlobalConfig::Load(dir())->analytics_opt_in().ok());
}

TEST_F(GlobalConfigTest, EnsureAnonymousIdCreatesFileAndDirectory) {
  auto id = EnsureAnonymousId(dir());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(IsUuid4(*id));
  EXPECT_EQ(Mode(dir()), 0700);
  EXPECT_EQ(Mode(file()), 0600);
  auto again = EnsureAnonymousId(dir());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *id);
  EXPECT_EQ(*ReadAnonymousId(dir()), std::optional<std::string>(*id));
}

TEST_F(GlobalConfigTest, AConfigDirThatIsASymlinkCanBeWritten) {
  // Dotfile managers and ZENML_CONFIG_PATH often name a symlink to the
  // real directory: the read-modify-write lock must follow it (only a lock
  // *file* is never opened through a symlink), or no id could be made and
  // no opt-out recorded.
  const std::filesystem::path real = tmp_ / "real";
  std::filesystem::create_directories(real);
  const std::filesystem::path link = tmp_ / "link";
  std::filesystem::create_directory_symlink(real, link);
  auto id = EnsureAnonymousId(link);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*ReadAnonymousId(real), std::optional<std::string>(*id));
  Status opted_out = SetOptIn(link, false);
  ASSERT_TRUE(opted_out.ok()) << opted_out;
  EXPECT_EQ(*GlobalConfig::Load(real)->analytics_opt_in(),
            std::optional<bool>(false));
}

TEST_F(GlobalConfigTest, EnsureAnonymousIdKeepsTheExistingIdAndFile) {
  Write(kZenmlConfig);
  auto id = EnsureAnonymousId(dir());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d");
  EXPECT_EQ(ReadFile(file()), kZenmlConfig);  // not even rewritten
}

TEST_F(GlobalConfigTest, EnsureAnonymousIdAddsAnIdAndKeepsOtherKeys) {
  Write("active_stack_id: abc\nstore:\n  type: sql\nversion: 0.5.0\n");
  auto id = EnsureAnonymousId(dir());
  ASSERT_TRUE(id.ok());
  YAML::Node after = YAML::Load(ReadFile(file()));
  EXPECT_EQ(after["active_stack_id"].as<std::string>(), "abc");
  EXPECT_EQ(after["store"]["type"].as<std::string>(), "sql");
  EXPECT_EQ(after["version"].as<std::string>(), "0.5.0");
  EXPECT_EQ(after["user_id"].as<std::string>(), *id);
}

TEST_F(GlobalConfigTest, EnsureAnonymousIdNeverOverwritesACorruptFile) {
  const std::string corrupt = "user_id: [broken\n";
  Write(corrupt);
  auto id = EnsureAnonymousId(dir());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ReadFile(file()), corrupt);
}

// Found by fuzz_config_yaml: yaml-cpp writes a tagged flow sequence used as
// a map key without its "? " indicator, which reads back as two documents.
// A rewrite that would not read back the same is refused, the file kept.
TEST_F(GlobalConfigTest, ARewriteThatWouldNotReadBackIsRefusedAndTheFileKept) {
  const std::string tricky = "{!s [a, b]: x, analytics_opt_in: true}\n";
  Write(tricky);
  Status opted_out = SetOptIn(dir(), false);
  ASSERT_FALSE(opted_out.ok());
  EXPECT_NE(opted_out.message().find("config.yaml"), std::string::npos)
      << opted_out.message();
  EXPECT_EQ(ReadFile(file()), tricky);
  auto id = EnsureAnonymousId(dir());
  EXPECT_FALSE(id.ok());
  EXPECT_EQ(ReadFile(file()), tricky);
}

TEST_F(GlobalConfigTest, EnsureAnonymousIdRefusesAnIdThatIsNotAUuid) {
  Write("user_id: alice@example.com\n");
  auto id = EnsureAnonymousId(dir());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ReadFile(file()), "user_id: alice@example.com\n");
}

TEST_F(GlobalConfigTest, ConcurrentEnsureAnonymousIdAgreesOnOneId) {
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      auto id = EnsureAnonymousId(dir());
      if (id.ok()) ids[i] = *id;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_TRUE(IsUuid4(ids[0]));
}

}  // namespace
}  // namespace zenml::core
