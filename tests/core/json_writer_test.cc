#include "core/json_writer.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace zenml::core {
namespace {

std::string RapidJson(std::string_view s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("\b\t\n\f\r"), R"("\b\t\n\f\r")");
  EXPECT_EQ(JsonString(std::string("\x00\x01\x1f", 3)),
            R"("\u0000\u0001\u001F")");
  EXPECT_EQ(JsonString(""), R"("")");
}

TEST(JsonWriterTest, CopiesUtf8AndPrintableAsciiAsIs) {
  EXPECT_EQ(JsonString("Pipeline run"), "\"Pipeline run\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9 \xe2\x82\xac"),
            "\"caf\xc3\xa9 \xe2\x82\xac\"");
  EXPECT_EQ(JsonString("\x7f"), "\"\x7f\"");  // DEL is not a control to JSON
}

TEST(JsonWriterTest, EscapedHasNoQuotesAndAppends) {
  std::string out = "x";
  AppendJsonEscaped(out, "a\nb");
  EXPECT_EQ(out, "xa\\nb");
  AppendJsonString(out, "q");
  EXPECT_EQ(out, "xa\\nb\"q\"");
}

TEST(JsonWriterTest, PlainAsciiDetectsEveryByteThatNeedsCareAtEveryOffset) {
  // The eight-byte fast path and the tail: put each special byte at each
  // position of a 19-byte string.
  for (char special : {'"', '\\', '\n', '\x1f', '\x00', '\x80', '\xff'}) {
    for (size_t pos = 0; pos < 19; ++pos) {
      std::string s(19, 'a');
      s[pos] = special;
      EXPECT_FALSE(IsPlainJsonAscii(s)) << int(special) << " at " << pos;
    }
  }
  EXPECT_TRUE(IsPlainJsonAscii("~ !#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}"));
}

TEST(JsonWriterTest, WritesExactlyWhatRapidJsonWritesForEveryByte) {
  for (int c = 0; c < 256; ++c) {
    const std::string s = std::string("ab") + static_cast<char>(c) + "cdefghij";
    EXPECT_EQ(JsonString(s), RapidJson(s)) << "byte " << c;
  }
}

}  // namespace
}  // namespace zenml::core
