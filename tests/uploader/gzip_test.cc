#include "uploader/gzip.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace zenml::uploader {
namespace {

TEST(GzipTest, RoundTripReturnsTheSameBytes) {
  std::string json = "{\"batch\":[";
  for (int i = 0; i < 2000; ++i) {
    json += "{\"event\":\"Pipeline run\",\"n\":" + std::to_string(i) + "},";
  }
  json += "{}]}";
  auto packed = GzipCompress(json);
  ASSERT_TRUE(packed.ok());
  EXPECT_LT(packed->size(), json.size() / 5);
  auto unpacked = GzipDecompress(*packed);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_EQ(*unpacked, json);
}

TEST(GzipTest, OutputHasTheGzipMagicAndDeflateMethod) {
  auto packed = GzipCompress("hello");
  ASSERT_TRUE(packed.ok());
  ASSERT_GE(packed->size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[1]), 0x8b);
  EXPECT_EQ((*packed)[2], 8);
}

TEST(GzipTest, EmptyAndIncompressibleInputsRoundTrip) {
  std::mt19937 rng(42);
  std::string noise(300'000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  for (const std::string& in : {std::string(), noise}) {
    auto packed = GzipCompress(in);
    ASSERT_TRUE(packed.ok());
    auto unpacked = GzipDecompress(*packed);
    ASSERT_TRUE(unpacked.ok());
    EXPECT_EQ(*unpacked, in);
  }
}

TEST(GzipTest, ConcatenatedMembersDecodeAsOneStream) {
  auto a = GzipCompress("abc");
  auto b = GzipCompress("def");
  ASSERT_TRUE(a.ok() && b.ok());
  auto both = GzipDecompress(*a + *b);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(*both, "abcdef");
}

TEST(GzipTest, TruncatedOrGarbageInputIsCorruption) {
  auto packed = GzipCompress(std::string(10'000, 'x'));
  ASSERT_TRUE(packed.ok());
  auto cut = GzipDecompress(packed->substr(0, packed->size() / 2));
  EXPECT_EQ(cut.status().code(), core::Status::Code::kCorruption);
  EXPECT_EQ(GzipDecompress("not gzip at all").status().code(),
            core::Status::Code::kCorruption);
  EXPECT_EQ(GzipDecompress("").status().code(),
            core::Status::Code::kCorruption);
}

TEST(GzipTest, OutputPastTheLimitIsRefused) {
  auto packed = GzipCompress(std::string(1'000'000, 'x'));
  ASSERT_TRUE(packed.ok());
  EXPECT_EQ(GzipDecompress(*packed, 100'000).status().code(),
            core::Status::Code::kResourceExhausted);
}

}  // namespace
}  // namespace zenml::uploader
