#include "core/catalogue.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace zenml::core {
namespace {

TEST(CatalogueTest, TheTwelveNamesAreSpelledExactlyAsTheSeed) {
  // Copied from ZenML's usage-analytics page (zenml_analytics.py).
  const std::vector<std::string> seed = {
      "Datasources listed",         "Datasource created", "Step created",
      "Step Versions listed",       "Step listed",        "Pipeline created",
      "Pipeline registered",        "Pipeline run",       "Pipelines fetched",
      "Pipeline Artifacts fetched", "Repository created", "ZenML initialized"};
  ASSERT_EQ(AllEvents().size(), seed.size());
  for (size_t i = 0; i < seed.size(); ++i) {
    EXPECT_EQ(EventName(AllEvents()[i]), seed[i]);
  }
  EXPECT_EQ(EventName(Event::kStepVersionsListed), "Step Versions listed");
  EXPECT_EQ(EventName(Event::kZenmlInitialized), "ZenML initialized");
}

TEST(CatalogueTest, NamesAreDistinctAndRoundTrip) {
  std::set<std::string_view> names;
  for (Event e : AllEvents()) {
    EXPECT_TRUE(names.insert(EventName(e)).second);
    auto back = EventFromName(EventName(e));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, e);
  }
}

TEST(CatalogueTest, LookupIsExactAndCaseSensitive) {
  EXPECT_FALSE(EventFromName("pipeline run").has_value());
  EXPECT_FALSE(EventFromName("Pipeline run ").has_value());
  EXPECT_FALSE(EventFromName("My custom event").has_value());
  EXPECT_FALSE(EventFromName("").has_value());
}

}  // namespace
}  // namespace zenml::core
