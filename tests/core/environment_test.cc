#include "core/environment.h"

#include <gtest/gtest.h>

namespace zenml::core {
namespace {

TEST(EnvironmentTest, ParseBoolSettingReadsYesAndNoInAnyCaseAndSpacing) {
  for (const char* yes : {"true", "1", "yes", "on", "TRUE", " Yes ", "On\n"}) {
    EXPECT_EQ(ParseBoolSetting(yes), std::optional<bool>(true)) << yes;
  }
  for (const char* no : {"false", "0", "no", "off", "FALSE", " No", "\tOFF"}) {
    EXPECT_EQ(ParseBoolSetting(no), std::optional<bool>(false)) << no;
  }
  for (const char* other : {"", " ", "2", "y", "n", "nope", "truely", "o n"}) {
    EXPECT_EQ(ParseBoolSetting(other), std::nullopt) << other;
  }
}

TEST(EnvironmentTest, MapEnvironmentTellsUnsetFromEmpty) {
  MapEnvironment env;
  EXPECT_EQ(env.Get("X"), std::nullopt);
  env.Set("X", "");
  EXPECT_EQ(env.Get("X"), std::optional<std::string>(""));
  env.Unset("X");
  EXPECT_EQ(env.Get("X"), std::nullopt);
}

}  // namespace
}  // namespace zenml::core
