#include "core/message.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/catalogue.h"
#include "core/timestamp.h"
#include "core/uuid.h"

namespace zenml::core {
namespace {

class MessageTest : public ::testing::Test {
 protected:
  MessageFields Fields() {
    MessageFields f;
    f.event = std::string(EventName(Event::kPipelineRun));
    f.properties = Value::Object{{"steps", 3}};
    f.anonymous_id = "7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d";
    f.context.library_version = "0.1.0";
    f.context.zenml_version = "0.5.0";
    f.context.os_name = "Debian GNU/Linux";
    f.context.os_version = "12";
    f.timestamp = *ParseTimestamp("2026-11-27T10:00:00.123Z");
    f.message_id = "0b0e1d2c-3f4a-4b5c-8d6e-7f8091a2b3c4";
    return f;
  }
  // Fields whose encoding is exactly `size` bytes, padding one property.
  MessageFields FieldsOfSize(size_t size) {
    MessageFields f = Fields();
    f.properties = Value::Object{{"pad", ""}};
    const size_t base = EncodeTrackMessage(f)->size();
    f.properties = Value::Object{{"pad", std::string(size - base, 'x')}};
    return f;
  }
};

TEST_F(MessageTest, EncodesTheSegmentTrackMessage) {
  auto json = EncodeTrackMessage(Fields());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(
      *json,
      R"({"type":"track","event":"Pipeline run",)"
      R"("userId":"7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d",)"
      R"("anonymousId":"7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d",)"
      R"("messageId":"0b0e1d2c-3f4a-4b5c-8d6e-7f8091a2b3c4",)"
      R"("timestamp":"2026-11-27T10:00:00.123Z",)"
      R"("properties":{"steps":3},)"
      R"("context":{"library":{"name":"zenml-analytics","version":"0.1.0"},)"
      R"("os":{"name":"Debian GNU/Linux","version":"12"},)"
      R"("ip":"0.0.0.0","zenml":{"version":"0.5.0"}}})");
  auto parsed = ParseJson(*json);
  ASSERT_TRUE(parsed.ok());
}

TEST_F(MessageTest, NullPropertiesBecomeAnEmptyObject) {
  MessageFields f = Fields();
  f.properties = Value();
  auto json = EncodeTrackMessage(f);
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find(R"("properties":{})"), std::string::npos);
}

TEST_F(MessageTest, EscapesStringsAndNestsValues) {
  MessageFields f = Fields();
  f.properties = Value::Object{
      {"quote\"key", "line\nbreak"},
      {"nested", Value::Object{{"a", Value::Array{1, 2.5, nullptr}}}}};
  auto json = EncodeTrackMessage(f);
  ASSERT_TRUE(json.ok());
  auto parsed = ParseJson(*json);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed->Find("properties"), f.properties);
}

TEST_F(MessageTest, ExactlyTheLimitIsAccepted) {
  auto json = EncodeTrackMessage(FieldsOfSize(kMaxMessageBytes));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->size(), 32000u);
}

TEST_F(MessageTest, OneByteOverTheLimitIsRefused) {
  auto json = EncodeTrackMessage(FieldsOfSize(kMaxMessageBytes + 1));
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(json.status().message().find("32001 bytes"), std::string::npos)
      << json.status();
  EXPECT_NE(json.status().message().find("32000"), std::string::npos);
}

TEST_F(MessageTest, EmptyEventNameIsRefused) {
  MessageFields f = Fields();
  f.event.clear();
  auto json = EncodeTrackMessage(f);
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().message(), "event name is empty");
}

TEST_F(MessageTest, CustomEventNamesAreAllowed) {
  MessageFields f = Fields();
  f.event = "My plugin did something";
  EXPECT_TRUE(EncodeTrackMessage(f).ok());
}

TEST_F(MessageTest, InvalidUtf8AnywhereIsRefusedWithItsPlace) {
  struct Case {
    const char* name;
    void (*mutate)(MessageFields&);
    const char* where;
  };
  const Case cases[] = {
      {"event", [](MessageFields& f) { f.event = "Pipeline \xff run"; },
       "event name"},
      {"value",
       [](MessageFields& f) {
         f.properties = Value::Object{{"k", "\xc3("}};
       },
       "properties.k"},
      {"key",
       [](MessageFields& f) {
         f.properties = Value::Object{{"\xe2\x82", 1}};
       },
       "properties"},
      {"nested",
       [](MessageFields& f) {
         f.properties =
             Value::Object{{"a", Value::Array{"ok", "\xed\xa0\x80"}}};
       },
       "properties.a[1]"},
      {"overlong",
       [](MessageFields& f) {
         f.properties = Value::Object{{"k", "\xc0\xaf"}};
       },
       "properties.k"},
      {"os",
       [](MessageFields& f) { f.context.os_name = std::string(1, '\x80'); },
       "context.os.name"},
  };
  for (const Case& c : cases) {
    MessageFields f = Fields();
    c.mutate(f);
    auto json = EncodeTrackMessage(f);
    ASSERT_FALSE(json.ok()) << c.name;
    EXPECT_EQ(json.status().code(), Status::Code::kInvalidArgument) << c.name;
    EXPECT_NE(json.status().message().find(c.where), std::string::npos)
        << c.name << ": " << json.status();
    EXPECT_NE(json.status().message().find("UTF-8"), std::string::npos)
        << c.name;
  }
}

TEST_F(MessageTest, ValidMultibyteUtf8IsKept) {
  MessageFields f = Fields();
  f.properties = Value::Object{{"name", "Grüße \xf0\x9f\x9a\x80"}};
  auto json = EncodeTrackMessage(f);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("Grüße \xf0\x9f\x9a\x80"), std::string::npos);
}

TEST_F(MessageTest, NonObjectPropertiesAreRefused) {
  MessageFields f = Fields();
  f.properties = Value::Array{1, 2};
  EXPECT_EQ(EncodeTrackMessage(f).status().code(),
            Status::Code::kInvalidArgument);
  f.properties = "text";
  EXPECT_FALSE(EncodeTrackMessage(f).ok());
}

TEST_F(MessageTest, NonFiniteNumbersAreRefused) {
  MessageFields f = Fields();
  f.properties = Value::Object{{"x", std::numeric_limits<double>::quiet_NaN()}};
  EXPECT_FALSE(EncodeTrackMessage(f).ok());
  f.properties = Value::Object{{"x", -std::numeric_limits<double>::infinity()}};
  EXPECT_FALSE(EncodeTrackMessage(f).ok());
}

TEST_F(MessageTest, MissingIdsAreRefused) {
  MessageFields f = Fields();
  f.anonymous_id.clear();
  EXPECT_FALSE(EncodeTrackMessage(f).ok());
  f = Fields();
  f.message_id.clear();
  EXPECT_FALSE(EncodeTrackMessage(f).ok());
  f = Fields();
  f.message_id = std::string(101, 'a');
  EXPECT_FALSE(EncodeTrackMessage(f).ok());
  f.message_id = std::string(100, 'a');
  EXPECT_TRUE(EncodeTrackMessage(f).ok());
}

}  // namespace
}  // namespace zenml::core
