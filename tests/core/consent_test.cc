#include "core/consent.h"

#include <gtest/gtest.h>

#include "core/config_dir.h"
#include "core/global_config.h"
#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

class ConsentTest : public ::testing::Test {
 protected:
  std::filesystem::path dir() const { return tmp_ / "zenml"; }
  void WriteConfig(const std::string& text) {
    std::filesystem::create_directories(dir());
    WriteFile(ConfigFilePath(dir()), text);
  }
  Consent Decide() { return DecideConsent(dir(), env_); }
  TempDir tmp_;
  MapEnvironment env_;
};

TEST_F(ConsentTest, SourceNames) {
  EXPECT_EQ(ConsentSourceName(ConsentSource::kEnvOptIn),
            "ZENML_ANALYTICS_OPT_IN");
  EXPECT_EQ(ConsentSourceName(ConsentSource::kDoNotTrack), "DO_NOT_TRACK");
  EXPECT_EQ(ConsentSourceName(ConsentSource::kConfigFile), "config.yaml");
  EXPECT_EQ(ConsentSourceName(ConsentSource::kDefault), "default");
}

TEST_F(ConsentTest, NothingSetMeansTheDefaultOptedIn) {
  Consent c = Decide();
  EXPECT_TRUE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kDefault);
  EXPECT_FALSE(std::filesystem::exists(dir()));  // nothing created
}

TEST_F(ConsentTest, ConfigFileDecidesWhenTheEnvironmentIsSilent) {
  WriteConfig("analytics_opt_in: false\nuser_id: x\n");
  Consent c = Decide();
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kConfigFile);
  EXPECT_NE(c.detail.find("analytics_opt_in: false"), std::string::npos);
  WriteConfig("analytics_opt_in: true\n");
  c = Decide();
  EXPECT_TRUE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kConfigFile);
}

TEST_F(ConsentTest, TheLoaderIsCalledOnceAndOnlyWhenTheEnvironmentIsSilent) {
  WriteConfig("analytics_opt_in: false\n");
  int loads = 0;
  auto load = [&]() -> Result<GlobalConfig> {
    ++loads;
    return GlobalConfig::Load(dir());
  };
  Consent c = DecideConsent(dir(), env_, load);
  EXPECT_EQ(loads, 1);
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kConfigFile);

  env_.Set("ZENML_ANALYTICS_OPT_IN", "true");
  c = DecideConsent(dir(), env_, load);
  EXPECT_EQ(loads, 1);  // the environment decided: the file is not read
  EXPECT_TRUE(c.allowed);
}

TEST_F(ConsentTest, ConfigFileWithoutTheKeyFallsToTheDefault) {
  WriteConfig("version: 0.5.0\n");
  Consent c = Decide();
  EXPECT_TRUE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kDefault);
}

TEST_F(ConsentTest, EnvOptInValues) {
  WriteConfig("analytics_opt_in: true\n");
  for (const char* v : {"false", "0", "no", "off", "FALSE", " No "}) {
    env_.Set("ZENML_ANALYTICS_OPT_IN", v);
    Consent c = Decide();
    EXPECT_FALSE(c.allowed) << v;
    EXPECT_EQ(c.source, ConsentSource::kEnvOptIn) << v;
  }
  WriteConfig("analytics_opt_in: false\n");
  for (const char* v : {"true", "1", "yes", "on", "True"}) {
    env_.Set("ZENML_ANALYTICS_OPT_IN", v);
    Consent c = Decide();
    EXPECT_TRUE(c.allowed) << v;
    EXPECT_EQ(c.source, ConsentSource::kEnvOptIn) << v;
  }
}

TEST_F(ConsentTest, UnrecognisedEnvOptInIsIgnoredAndSaidSo) {
  WriteConfig("analytics_opt_in: false\n");
  env_.Set("ZENML_ANALYTICS_OPT_IN", "perhaps");
  Consent c = Decide();
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kConfigFile);
  env_.Set("ZENML_ANALYTICS_OPT_IN", "");
  EXPECT_EQ(Decide().source, ConsentSource::kConfigFile);
}

TEST_F(ConsentTest, DoNotTrackValues) {
  WriteConfig("analytics_opt_in: true\n");
  for (const char* v : {"1", "true", "yes", "anything", "TRUE"}) {
    env_.Set("DO_NOT_TRACK", v);
    Consent c = Decide();
    EXPECT_FALSE(c.allowed) << v;
    EXPECT_EQ(c.source, ConsentSource::kDoNotTrack) << v;
    EXPECT_EQ(c.detail, std::string("DO_NOT_TRACK=") + v);
  }
  for (const char* v : {"", "0", "false", "False", " 0 "}) {
    env_.Set("DO_NOT_TRACK", v);
    Consent c = Decide();
    EXPECT_TRUE(c.allowed) << v;
    EXPECT_EQ(c.source, ConsentSource::kConfigFile) << v;
  }
}

TEST_F(ConsentTest, EnvOptInBeatsDoNotTrack) {
  env_.Set("DO_NOT_TRACK", "1");
  env_.Set("ZENML_ANALYTICS_OPT_IN", "true");
  Consent c = Decide();
  EXPECT_TRUE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kEnvOptIn);
}

TEST_F(ConsentTest, DoNotTrackBeatsTheConfigFile) {
  WriteConfig("analytics_opt_in: true\n");
  env_.Set("DO_NOT_TRACK", "1");
  EXPECT_EQ(Decide().source, ConsentSource::kDoNotTrack);
}

TEST_F(ConsentTest, EnvOptOutBeatsAConfigOptIn) {
  WriteConfig("analytics_opt_in: true\n");
  env_.Set("ZENML_ANALYTICS_OPT_IN", "false");
  Consent c = Decide();
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kEnvOptIn);
}

TEST_F(ConsentTest, CorruptConfigIsNoOpinionAndSaysSo) {
  const std::string corrupt = "analytics_opt_in: [false\n";
  WriteConfig(corrupt);
  Consent c = Decide();
  EXPECT_TRUE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kDefault);
  EXPECT_NE(c.detail.find("not valid YAML"), std::string::npos) << c.detail;
  EXPECT_EQ(ReadFile(ConfigFilePath(dir())), corrupt);
}

TEST_F(ConsentTest, NonBooleanConfigValueIsNoOpinion) {
  WriteConfig("analytics_opt_in: maybe\n");
  Consent c = Decide();
  EXPECT_EQ(c.source, ConsentSource::kDefault);
  EXPECT_NE(c.detail.find("not true or false"), std::string::npos) << c.detail;
}

TEST_F(ConsentTest, UnreadableConfigIsNoOpinion) {
  std::filesystem::create_directories(ConfigFilePath(dir()));
  Consent c = Decide();
  EXPECT_TRUE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kDefault);
  EXPECT_NE(c.detail.find("ignored"), std::string::npos) << c.detail;
}

TEST_F(ConsentTest, SetOptInWritesTheFileWithoutAUserId) {
  ASSERT_TRUE(SetOptIn(dir(), false).ok());
  EXPECT_EQ(ReadFile(ConfigFilePath(dir())), "analytics_opt_in: false\n");
  Consent c = Decide();
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.source, ConsentSource::kConfigFile);
  ASSERT_TRUE(SetOptIn(dir(), true).ok());
  EXPECT_TRUE(Decide().allowed);
  EXPECT_FALSE(ReadAnonymousId(dir())->has_value());
}

TEST_F(ConsentTest, SetOptInRefusesToOverwriteACorruptFile) {
  const std::string corrupt = "store: {unclosed\n";
  WriteConfig(corrupt);
  Status s = SetOptIn(dir(), false);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_EQ(ReadFile(ConfigFilePath(dir())), corrupt);
}

}  // namespace
}  // namespace zenml::core
