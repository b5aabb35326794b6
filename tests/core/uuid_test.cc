#include "core/uuid.h"

#include <gtest/gtest.h>

#include <regex>
#include <unordered_set>

namespace zenml::core {
namespace {

TEST(UuidTest, NewUuid4HasTheCanonicalVersion4Form) {
  const std::regex form(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid4();
    ASSERT_TRUE(std::regex_match(id, form)) << id;
    ASSERT_TRUE(IsUuid4(id)) << id;
  }
}

TEST(UuidTest, HundredThousandIdsAreAllDistinct) {
  std::unordered_set<std::string> seen;
  seen.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(seen.insert(NewUuid4()).second) << "duplicate at " << i;
  }
}

TEST(UuidTest, EveryRandomHexDigitVaries) {
  // A stuck nibble (e.g. a buffer left unfilled) would show up here.
  std::string seen_or(36, '\0');
  std::vector<std::unordered_set<char>> values(36);
  for (int i = 0; i < 2000; ++i) {
    const std::string id = NewUuid4();
    for (size_t k = 0; k < 36; ++k) values[k].insert(id[k]);
  }
  for (size_t k = 0; k < 36; ++k) {
    if (k == 8 || k == 13 || k == 18 || k == 23 || k == 14) {
      EXPECT_EQ(values[k].size(), 1u) << k;
    } else if (k == 19) {
      EXPECT_EQ(values[k].size(), 4u) << k;  // 8, 9, a, b
    } else {
      EXPECT_EQ(values[k].size(), 16u) << k;
    }
  }
}

TEST(UuidTest, IsUuid4RefusesOtherShapes) {
  EXPECT_TRUE(IsUuid4("7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d"));
  EXPECT_TRUE(IsUuid4("7C8E3B5A-1D2F-4A6B-9C0D-1E2F3A4B5C6D"));
  EXPECT_FALSE(IsUuid4(""));
  EXPECT_FALSE(IsUuid4("7c8e3b5a-1d2f-1a6b-9c0d-1e2f3a4b5c6d"));   // version 1
  EXPECT_FALSE(IsUuid4("7c8e3b5a-1d2f-4a6b-7c0d-1e2f3a4b5c6d"));   // variant
  EXPECT_FALSE(IsUuid4("7c8e3b5a1d2f4a6b9c0d1e2f3a4b5c6d"));       // no dashes
  EXPECT_FALSE(IsUuid4("7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6g"));   // not hex
  EXPECT_FALSE(IsUuid4("7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d0"));  // long
}

}  // namespace
}  // namespace zenml::core
