// ReadMessageFields (the table's fast reader) against ParseMessageFields
// (RapidJSON), on the messages our encoder writes and on the inputs where a
// hand-written reader would differ from a JSON parser.

#include "tools/zenml-spool-dump/message_fields.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zenml::tools {
namespace {

MessageFields Read(std::string_view json) {
  MessageFields f;
  ReadMessageFields(json, &f);
  return f;
}

MessageFields Parse(std::string_view json) {
  MessageFields f;
  ParseMessageFields(json, &f);
  return f;
}

TEST(MessageFieldsTest, ReadsWhatTheEncoderWrites) {
  const std::string json =
      R"({"type":"track","event":"Pipeline run","userId":"u",)"
      R"("anonymousId":"a","messageId":"m",)"
      R"("timestamp":"2026-11-27T10:00:00.123Z",)"
      R"("properties":{"event":"nested"},"context":{}})";
  const MessageFields f = Read(json);
  EXPECT_EQ(f.event, "Pipeline run");
  EXPECT_EQ(f.timestamp, "2026-11-27T10:00:00.123Z");
  ASSERT_TRUE(f.time.has_value());
  EXPECT_EQ(f, Parse(json));
}

// Each of these leaves the fast path somewhere (or must not be taken as a
// match by it); the answer must be RapidJSON's.
TEST(MessageFieldsTest, AgreesWithRapidJsonWhereAHandReaderWouldNot) {
  const std::vector<std::string> cases = {
      "",
      "   ",
      "[]",
      R"(["event","x"])",
      "{}",
      R"({"event":"a"})",
      R"({"event":"a")",                   // truncated
      R"({"event":"a",)",                  // truncated after a comma
      R"({"event" "a","timestamp":"t"})",  // no colon
      R"({"event":"a" "timestamp":"t"})",  // no comma
      R"({"ev\u0065nt":"escaped key"})",   // a key RapidJSON unescapes
      R"({"event":"tab\there","timestamp":"t"})",
      "{\"event\":\"raw\ttab\",\"timestamp\":\"t\"}",  // control character
      R"({"event":1,"timestamp":"t","event":"later"})",
      R"({"event":"","event":"second","timestamp":"t"})",
      R"({"event":"first","event":"second","timestamp":"t"})",
      R"({"x":{"event":"nested"},"event":"top","timestamp":"t"})",
      R"({"x":[1,"event"],"event":"top"})",
      R"({"x":tru,"event":"after a bad literal"})",
      R"({"x":true,"event":"after a literal"})",
      R"({"event":"a","timestamp":"t"} trailing)",
      R"({"event":"a"} {"timestamp":"t"})",
      std::string("{\"event\":\"nul\0byte\",\"timestamp\":\"t\"}", 36),
      std::string("{\"event\":\"a\"\0,\"timestamp\":\"t\"}", 30),
      " \n\t{ \"event\" : \"spaced\" , \"timestamp\" : \"t\" } ",
      R"({"timestamp":"2026-11-27T10:00:00Z","event":"e"})",
      R"({"timestamp":"not a time","event":"e"})",
      "{\"event\":\"caf\xc3\xa9\",\"timestamp\":\"t\"}",
      "{\"event\":\"bad \xff utf-8\",\"timestamp\":\"t\"}",
  };
  for (const std::string& json : cases) {
    SCOPED_TRACE(json);
    const MessageFields fast = Read(json);
    const MessageFields reference = Parse(json);
    EXPECT_EQ(fast.event, reference.event);
    EXPECT_EQ(fast.timestamp, reference.timestamp);
    EXPECT_EQ(fast.time, reference.time);
  }
}

TEST(MessageFieldsTest, AReusedObjectKeepsNothingFromTheMessageBefore) {
  MessageFields f;
  ReadMessageFields(R"({"event":"a","timestamp":"2026-11-27T10:00:00Z"})", &f);
  ASSERT_TRUE(f.time.has_value());
  ReadMessageFields(R"({"other":"b"})", &f);
  EXPECT_EQ(f, MessageFields{});
  ReadMessageFields(R"({"event":"a","timestamp":"2026-11-27T10:00:00Z"})", &f);
  ReadMessageFields(R"({"x":{},"event":"c"})", &f);  // through RapidJSON
  EXPECT_EQ(f.event, "c");
  EXPECT_TRUE(f.timestamp.empty());
  EXPECT_FALSE(f.time.has_value());
}

}  // namespace
}  // namespace zenml::tools
