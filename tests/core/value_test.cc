#include "core/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace zenml::core {
namespace {

TEST(ValueTest, BuildsFromLiterals) {
  Value v = Value::Object{{"n", nullptr},
                          {"b", true},
                          {"i", 3},
                          {"d", 2.5},
                          {"s", "text"},
                          {"a", Value::Array{1, "two", false}},
                          {"o", Value::Object{{"k", "v"}}}};
  ASSERT_TRUE(v.is_object());
  EXPECT_TRUE(v.Find("n")->is_null());
  EXPECT_TRUE(v.Find("b")->as_bool());
  EXPECT_EQ(v.Find("i")->as_int(), 3);
  EXPECT_EQ(v.Find("d")->as_double(), 2.5);
  EXPECT_EQ(v.Find("s")->as_string(), "text");
  EXPECT_EQ(v.Find("a")->as_array().size(), 3u);
  EXPECT_EQ(v.Find("o")->Find("k")->as_string(), "v");
  EXPECT_EQ(v.Find("missing"), nullptr);
}

TEST(ValueTest, SetReplacesInPlaceAndKeepsOrder) {
  Value v;
  v.Set("b", 1);
  v.Set("a", 2);
  v.Set("b", 3);
  auto json = ToJson(v);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, R"({"b":3,"a":2})");
}

TEST(ValueTest, HugeUnsignedBecomesDouble) {
  Value v(std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(v.is_double());
  EXPECT_TRUE(Value(uint64_t{5}).is_int());
}

TEST(ValueTest, ParseAndSerializeRoundTrip) {
  const std::string text =
      R"({"z":1,"a":[true,false,null,-7,1.5,"x\"y"],"o":{"k":"\u00e9"}})";
  auto v = ParseJson(text);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->Find("a")->as_array()[3].as_int(), -7);
  EXPECT_EQ(v->Find("o")->Find("k")->as_string(), "\xc3\xa9");
  auto back = ToJson(*v);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back,
            "{\"z\":1,\"a\":[true,false,null,-7,1.5,\"x\\\"y\"],\"o\":{\"k\":"
            "\"\xc3\xa9\"}}");
  EXPECT_EQ(*ParseJson(*back), *v);
}

TEST(ValueTest, ParseRefusesMalformedJsonWithOffset) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{} x", "nul",
                          "\"\xff\"", "{\"a\":1}{}"}) {
    auto v = ParseJson(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), Status::Code::kInvalidArgument);
      EXPECT_NE(v.status().message().find("invalid JSON"), std::string::npos);
    }
  }
}

TEST(ValueTest, ParseRefusesNestingPastTheLimitWithoutCrashing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto v = ParseJson(deep);
  EXPECT_FALSE(v.ok());
}

TEST(ValueTest, ToJsonRefusesNonFiniteNumbersAndInvalidUtf8) {
  EXPECT_FALSE(ToJson(Value(std::nan(""))).ok());
  EXPECT_FALSE(ToJson(Value(std::numeric_limits<double>::infinity())).ok());
  EXPECT_FALSE(ToJson(Value("\xc3")).ok());
  EXPECT_FALSE(ToJson(Value(Value::Object{{"\xff", 1}})).ok());
}

// Found by fuzz_json_value (docs/FUZZING.md): RapidJSON 1.1.0's
// full-precision number path read outside its table of powers of ten for a
// long mantissa with a large negative exponent (a SEGV under ASan). Such
// numbers now go through the normal path; every other number keeps the
// full-precision one.
TEST(ValueTest, LongNumbersWithLargeNegativeExponentsParse) {
  const std::string numbers[] = {
      "[0,38103476423456."
      "347678989077777777777777775789012345678901476789890130789012342313777777"
      "7777777567877757801234567890834767898908570130e-456]",
      "0." + std::string(100, '0') + std::string(120, '7') + "e-300",
      std::string(300, '9') + "e-600",
      "1" + std::string(800, '0') + "e-1100",
      "0." + std::string(40, '0') + "1234e-300",
      "0." + std::string(60, '0') + "e-300",
  };
  for (const std::string& text : numbers) {
    auto v = ParseJson(text);
    // A value, or for a mantissa past the double range a clear error.
    EXPECT_TRUE(v.ok() || v.status().code() == Status::Code::kInvalidArgument)
        << v.status();
  }
  EXPECT_TRUE(ParseJson(numbers[1]).ok());
  EXPECT_EQ(ToJson(*ParseJson("[4.9e-324,0.1,1.5e300]")).value(),
            "[5e-324,0.1,1.5e300]");
  auto v = ParseJson(numbers[0]);
  ASSERT_TRUE(v->is_array());
  // The fuzzer's input itself (unclosed) is an error, not a crash.
  EXPECT_FALSE(ParseJson(numbers[0].substr(0, numbers[0].size() - 1)).ok());
  EXPECT_EQ(v->as_array().size(), 2u);
}

}  // namespace
}  // namespace zenml::core
