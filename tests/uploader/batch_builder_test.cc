#include "uploader/batch_builder.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <deque>
#include <string>
#include <vector>

namespace zenml::uploader {
namespace {

constexpr std::string_view kSentAt = "2026-11-27T10:05:00.000Z";

// A message of exactly `size` bytes: {"messageId":"<i>","pad":"xxx..."}.
std::string Message(int i, size_t size) {
  std::string head = "{\"messageId\":\"m" + std::to_string(i) + "\",\"pad\":\"";
  std::string m = head + std::string(size - head.size() - 2, 'x') + "\"}";
  EXPECT_EQ(m.size(), size);
  return m;
}

TEST(BatchBuilderTest, BodyIsTheMessagesByteForByteWithSentAtAndWriteKey) {
  BatchBuilder b("key\"1");
  std::string m1 = "{\"a\": 1,  \"messageId\":\"x\"}";  // odd spacing kept
  std::string m2 = "{\"b\":\"\\u00e9\"}";
  ASSERT_TRUE(b.Add(m1));
  ASSERT_TRUE(b.Add(m2));
  std::string body = b.Build(kSentAt);
  EXPECT_EQ(body, "{\"batch\":[" + m1 + "," + m2 +
                      "],\"sentAt\":\"2026-11-27T10:05:00.000Z\","
                      "\"writeKey\":\"key\\\"1\"}");
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_EQ(doc["batch"].Size(), 2u);
  EXPECT_STREQ(doc["writeKey"].GetString(), "key\"1");
}

TEST(BatchBuilderTest, SizeAccountingIsExactForAnyCount) {
  BatchBuilder b("abc");
  EXPECT_EQ(b.size(), b.Build(kSentAt).size());
  std::deque<std::string> msgs;  // the builder keeps views: keep them alive
  for (int i = 0; i < 50; ++i) {
    msgs.push_back(Message(i, 100 + static_cast<size_t>(i)));
    ASSERT_TRUE(b.Add(msgs.back()));
    EXPECT_EQ(b.size(), b.Build(kSentAt).size()) << i;
  }
}

TEST(BatchBuilderTest, BodyOfExactly475000BytesFitsAndOneByteMoreDoesNot) {
  BatchBuilder b("writekey");
  // Fill with 30,000-byte messages, then one sized to land exactly on the
  // limit.
  std::vector<std::string> msgs;
  for (int i = 0; i < 15; ++i) msgs.push_back(Message(i, 30'000));
  for (const auto& m : msgs) ASSERT_TRUE(b.Add(m));
  size_t left = kMaxRequestBytes - b.size() - 1;  // the comma
  std::string exact = Message(99, left);
  std::string over = Message(98, left + 1);
  EXPECT_FALSE(b.Fits(over.size()));
  EXPECT_FALSE(b.Add(over));
  EXPECT_TRUE(b.Fits(exact.size()));
  ASSERT_TRUE(b.Add(exact));
  EXPECT_EQ(b.Build(kSentAt).size(), kMaxRequestBytes);
  EXPECT_EQ(b.size(), kMaxRequestBytes);
  EXPECT_FALSE(b.Add("{}"));
}

TEST(BatchBuilderTest, FiveHundredMessagesFitAndTheFiveHundredFirstDoesNot) {
  BatchBuilder b("k");
  std::string m = "{\"e\":1}";
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(b.Add(m)) << i;
  EXPECT_EQ(b.count(), 500u);
  EXPECT_FALSE(b.Fits(m.size()));
  EXPECT_FALSE(b.Add(m));
  EXPECT_EQ(b.count(), 500u);
}

TEST(BatchBuilderTest, MaxSingleMessageIsTheLargestThatFitsAlone) {
  BatchBuilder b("k", 1'000);
  size_t max = b.max_single_message();
  EXPECT_TRUE(b.Fits(max));
  EXPECT_FALSE(b.Fits(max + 1));
  std::string m = Message(1, max);
  ASSERT_TRUE(b.Add(m));
  EXPECT_EQ(b.Build(kSentAt).size(), 1'000u);
}

TEST(BatchBuilderTest, ClearStartsAnEmptyBatch) {
  BatchBuilder b("k");
  ASSERT_TRUE(b.Add("{\"x\":1}"));
  b.Clear();
  EXPECT_EQ(b.count(), 0u);
  EXPECT_EQ(b.Build(kSentAt),
            "{\"batch\":[],\"sentAt\":\"2026-11-27T10:05:00.000Z\","
            "\"writeKey\":\"k\"}");
}

TEST(BatchBuilderTest, BuildForLaysOutAnyHalf) {
  BatchBuilder b("k");
  std::vector<std::string_view> half = {"{\"a\":1}", "{\"b\":2}"};
  EXPECT_EQ(b.BuildFor(half, kSentAt),
            "{\"batch\":[{\"a\":1},{\"b\":2}],\"sentAt\":"
            "\"2026-11-27T10:05:00.000Z\",\"writeKey\":\"k\"}");
  EXPECT_EQ(b.BuildFor(half, kSentAt).size(), b.BodySize(2, 14));
}

TEST(BatchBuilderTest, TheWriteKeyIsEscapedAndCountedEscaped) {
  BatchBuilder b("a\"b\\c\n\x01é");
  std::vector<std::string_view> one = {"{}"};
  const std::string body = b.BuildFor(one, kSentAt);
  EXPECT_TRUE(body.ends_with("\"writeKey\":\"a\\\"b\\\\c\\n\\u0001é\"}"))
      << body;
  EXPECT_EQ(body.size(), b.BodySize(1, 2));
}

}  // namespace
}  // namespace zenml::uploader
