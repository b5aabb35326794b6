#include "core/config_dir.h"

#include <gtest/gtest.h>

#include "core/environment.h"
#include "tests/testing/temp_dir.h"

namespace zenml::core {
namespace {

TEST(ConfigDirTest, ZenmlConfigPathWinsOverEverythingElse) {
  MapEnvironment env{{"ZENML_CONFIG_PATH", "/a/zen"},
                     {"XDG_CONFIG_HOME", "/xdg"},
                     {"HOME", "/home/u"}};
  auto dir = ResolveConfigDir(env);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, "/a/zen");
}

TEST(ConfigDirTest, XdgConfigHomeIsUsedWhenNoOverride) {
  MapEnvironment env{{"XDG_CONFIG_HOME", "/xdg"}, {"HOME", "/home/u"}};
  EXPECT_EQ(*ResolveConfigDir(env), "/xdg/zenml");
}

TEST(ConfigDirTest, HomeDotConfigIsTheLastResort) {
  MapEnvironment env{{"HOME", "/home/u"}};
  EXPECT_EQ(*ResolveConfigDir(env), "/home/u/.config/zenml");
}

TEST(ConfigDirTest, EmptyVariablesCountAsUnset) {
  MapEnvironment env{
      {"ZENML_CONFIG_PATH", ""}, {"XDG_CONFIG_HOME", ""}, {"HOME", "/h"}};
  EXPECT_EQ(*ResolveConfigDir(env), "/h/.config/zenml");
}

TEST(ConfigDirTest, NoHomeAndNoOverrideIsAClearFailedPrecondition) {
  MapEnvironment env;
  auto dir = ResolveConfigDir(env);
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(dir.status().message().find("ZENML_CONFIG_PATH"),
            std::string::npos);
  EXPECT_NE(dir.status().message().find("HOME"), std::string::npos);
}

TEST(ConfigDirTest, ResolvingCreatesNothing) {
  testing::TempDir tmp;
  MapEnvironment env{{"ZENML_CONFIG_PATH", (tmp / "cfg").string()}};
  auto dir = ResolveConfigDir(env);
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(AnalyticsDir(*dir), tmp / "cfg" / "analytics");
  EXPECT_FALSE(std::filesystem::exists(tmp / "cfg"));
}

TEST(EnvironmentTest, MapEnvironmentSetsAndUnsets) {
  MapEnvironment env;
  EXPECT_FALSE(env.Get("X").has_value());
  env.Set("X", "");
  ASSERT_TRUE(env.Get("X").has_value());
  EXPECT_EQ(*env.Get("X"), "");
  env.Set("X", "1");
  EXPECT_EQ(*env.Get("X"), "1");
  env.Unset("X");
  EXPECT_FALSE(env.Get("X").has_value());
}

TEST(EnvironmentTest, ProcessEnvironmentReadsTheRealEnvironment) {
  testing::ScopedEnv set("ZENML_TEST_ENVIRONMENT_VAR", "value");
  testing::ScopedEnv unset("ZENML_TEST_ENVIRONMENT_UNSET", std::nullopt);
  EXPECT_EQ(ProcessEnvironment().Get("ZENML_TEST_ENVIRONMENT_VAR"), "value");
  EXPECT_FALSE(
      ProcessEnvironment().Get("ZENML_TEST_ENVIRONMENT_UNSET").has_value());
}

}  // namespace
}  // namespace zenml::core
