// TrackEncoder (Track()'s fast path) against EncodeTrackMessage (the general
// encoder with RapidJSON): for the same inputs, the same bytes or the same
// error.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/message.h"
#include "core/timestamp.h"
#include "core/uuid.h"

namespace zenml::core {
namespace {

Context TestContext() {
  Context c;
  c.library_version = "0.1.0";
  c.zenml_version = "0.5.0";
  c.os_name = "Debian GNU/Linux";
  c.os_version = "12";
  return c;
}

constexpr std::string_view kAnonymousId =
    "7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d";
constexpr std::string_view kMessageId = "0b0e1d2c-3f4a-4b5c-8d6e-7f8091a2b3c4";

WallTime At(const char* text) { return ParseTimestamp(text).value(); }

// Encodes with both encoders and expects the same outcome; returns it.
Result<std::string> ExpectSame(const TrackEncoder& encoder,
                               std::string_view anonymous_id,
                               const Context& context, std::string_view event,
                               const Value& properties, WallTime timestamp,
                               std::string_view message_id) {
  MessageFields f;
  f.event = std::string(event);
  f.properties = properties;
  f.anonymous_id = std::string(anonymous_id);
  f.context = context;
  f.timestamp = timestamp;
  f.message_id = std::string(message_id);
  Result<std::string> general = EncodeTrackMessage(f);
  Result<std::string> fast =
      encoder.Encode(event, properties, timestamp, message_id);
  EXPECT_EQ(fast.ok(), general.ok())
      << "fast: " << fast.status() << "; general: " << general.status();
  // EncodeTo (Client::Track()'s path) into a buffer reused across calls,
  // holding whatever the last call left there: the same outcome.
  thread_local std::string reused = "left over from an earlier message";
  Status into =
      encoder.EncodeTo(event, properties, timestamp, message_id, &reused);
  EXPECT_EQ(into.code(), fast.status().code()) << into;
  EXPECT_EQ(into.message(), fast.status().message());
  if (fast.ok() && general.ok()) {
    EXPECT_EQ(*fast, *general);
    if (into.ok()) {
      EXPECT_EQ(reused, *fast);
    }
  } else {
    EXPECT_EQ(fast.status().code(), general.status().code());
    EXPECT_EQ(fast.status().message(), general.status().message());
  }
  return fast;
}

class TrackEncoderTest : public ::testing::Test {
 protected:
  Result<std::string> Same(std::string_view event, const Value& properties,
                           WallTime timestamp = At("2026-11-27T10:00:00.123Z"),
                           std::string_view message_id = kMessageId) {
    return ExpectSame(encoder_, kAnonymousId, context_, event, properties,
                      timestamp, message_id);
  }

  Context context_ = TestContext();
  TrackEncoder encoder_ = TrackEncoder::Create(kAnonymousId, context_).value();
};

TEST_F(TrackEncoderTest, WritesTheSameBytesAsEncodeTrackMessage) {
  auto json = Same("Pipeline run", Value::Object{{"steps", 3}});
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
}

TEST_F(TrackEncoderTest, NullAndEmptyPropertiesAreTheSame) {
  EXPECT_TRUE(Same("Step created", Value()).ok());
  EXPECT_TRUE(Same("Step created", Value::Object{}).ok());
}

TEST_F(TrackEncoderTest, EveryAsciiCharacterIsEscapedTheSame) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  // A message id is at most 100 bytes: each half in turn.
  for (const std::string& id : {all.substr(0, 64), all.substr(64)}) {
    auto json =
        Same(all, Value::Object{{all, all}}, At("1970-01-01T00:00:00Z"), id);
    EXPECT_TRUE(json.ok()) << json.status();
  }
}

TEST_F(TrackEncoderTest, EveryByteAtEveryPositionOfAWordIsTheSame) {
  // The encoder checks strings eight bytes at a time: each byte value at
  // each position of two words and a tail.
  for (int c = 0; c < 256; ++c) {
    for (size_t at = 0; at < 19; ++at) {
      std::string text(19, 'a');
      text[at] = static_cast<char>(c);
      auto json = Same("Pipeline run", Value::Object{{"k", text}});
      if (HasFailure()) {
        ADD_FAILURE() << "byte " << c << " at " << at;
        return;
      }
    }
  }
}

TEST_F(TrackEncoderTest, NumbersAndNestingAreWrittenTheSame) {
  Value props = Value::Object{
      {"ints", Value::Array{0, -1, std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max()}},
      {"doubles",
       Value::Array{0.0, -0.0, 0.1, 1.0, -2.5, 1e300, 5e-324, 1e21, 1e-7,
                    123456789.125, std::numeric_limits<double>::max()}},
      {"big_unsigned", std::numeric_limits<uint64_t>::max()},
      {"flags", Value::Array{true, false, nullptr}},
      {"empty", Value::Object{{"a", Value::Array{}}, {"o", Value::Object{}}}},
      {"utf8", "héllo € 𝄞"},
      {"nested",
       Value::Object{
           {"a", Value::Object{{"b", Value::Array{Value::Array{1}}}}}}},
  };
  auto json = Same("Pipeline run", props);
  ASSERT_TRUE(json.ok()) << json.status();
}

TEST_F(TrackEncoderTest, TimestampsAcrossTheRangeAreTheSame) {
  for (const char* t :
       {"1970-01-01T00:00:00.000Z", "2000-02-29T23:59:59.999Z",
        "2026-12-31T23:59:59.001Z", "2200-01-01T00:00:00.000Z"}) {
    EXPECT_TRUE(Same("Pipeline run", Value(), At(t)).ok()) << t;
  }
  // Before 1970 is clamped to 1970 by both. (WallTime counts nanoseconds,
  // so it cannot reach the year-9999 clamp.)
  EXPECT_TRUE(
      Same("Pipeline run", Value(), WallTime(std::chrono::milliseconds(-5)))
          .ok());
}

TEST_F(TrackEncoderTest, EscapesInTheIdsAndContextAreTheSame) {
  Context c = TestContext();
  c.os_name = "Quote \" and \\ back\tslash\x01";
  c.library_name = "lib/\"x\"";
  c.zenml_version = "é";
  const std::string odd_id = "id with \"quotes\" and \\";
  auto encoder = TrackEncoder::Create(odd_id, c);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  auto json = ExpectSame(*encoder, odd_id, c, "Pipeline run", Value(),
                         At("2026-11-27T10:00:00Z"), "m\"id");
  EXPECT_TRUE(json.ok()) << json.status();
}

TEST_F(TrackEncoderTest, RefusesWhatEncodeTrackMessageRefusesWithTheSameError) {
  Value too_deep = 1;
  for (int i = 0; i < 70; ++i) too_deep = Value::Array{too_deep};

  EXPECT_FALSE(Same("", Value()).ok());
  EXPECT_FALSE(
      Same("Pipeline run", Value(), At("2026-11-27T10:00:00Z"), "").ok());
  EXPECT_FALSE(Same("Pipeline run", Value(), At("2026-11-27T10:00:00Z"),
                    std::string(kMaxMessageIdBytes + 1, 'a'))
                   .ok());
  EXPECT_FALSE(Same("Pipeline run", Value::Array{1}).ok());
  EXPECT_FALSE(Same("Pipeline run", Value(3)).ok());
  EXPECT_FALSE(Same("bad \xff event", Value()).ok());
  EXPECT_FALSE(
      Same("Pipeline run", Value(), At("2026-11-27T10:00:00Z"), "bad\xc0\xaf")
          .ok());
  EXPECT_FALSE(Same("Pipeline run", Value::Object{{"\xe2\x82", 1}}).ok());
  EXPECT_FALSE(Same("Pipeline run",
                    Value::Object{{"a", Value::Array{"ok", "\xed\xa0\x80"}}})
                   .ok());
  EXPECT_FALSE(Same("Pipeline run", Value::Object{{"x", std::nan("")}}).ok());
  EXPECT_FALSE(
      Same("Pipeline run", Value::Object{{"x", Value::Array{1, -INFINITY}}})
          .ok());
  EXPECT_FALSE(Same("Pipeline run", Value::Object{{"deep", too_deep}}).ok());
  // Several problems at once: the same one is reported.
  EXPECT_FALSE(Same("\xff", Value::Array{}).ok());
  EXPECT_FALSE(Same("\xff", Value::Object{{"k", "\xff"}}).ok());
}

TEST_F(TrackEncoderTest, TheSizeLimitIsTheSame) {
  auto base = Same("Pipeline run", Value::Object{{"pad", ""}});
  ASSERT_TRUE(base.ok());
  const size_t room = kMaxMessageBytes - base->size();
  auto exact =
      Same("Pipeline run", Value::Object{{"pad", std::string(room, 'x')}});
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->size(), kMaxMessageBytes);
  auto over =
      Same("Pipeline run", Value::Object{{"pad", std::string(room + 1, 'x')}});
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("32001 bytes"), std::string::npos)
      << over.status();
  // A huge event, then a normal one on the same thread: the per-thread
  // buffer is given back and the next message is still exact.
  EXPECT_FALSE(
      Same("Pipeline run", Value::Object{{"pad", std::string(1 << 20, 'x')}})
          .ok());
  EXPECT_TRUE(Same("Pipeline run", Value::Object{{"steps", 3}}).ok());
}

// Random values, strings of random bytes (often invalid UTF-8) included.
class RandomValues {
 public:
  explicit RandomValues(uint32_t seed) : rng_(seed) {}

  std::string Text() {
    std::string s;
    const int n = Int(0, 12);
    for (int i = 0; i < n; ++i) {
      switch (Int(0, 5)) {
        case 0:  // any byte
          s.push_back(static_cast<char>(Int(0, 255)));
          break;
        case 1:  // a valid multi-byte character
          s += Pick<const char*>({"é", "€", "𝄞", "\xc2\x80", "\xef\xbf\xbf"});
          break;
        case 2:  // a control character or a JSON special
          s.push_back(static_cast<char>(
              Pick<int>({0, 8, 9, 10, 12, 13, 31, '"', '\\', '/', 127})));
          break;
        default:
          s.push_back(static_cast<char>(Int('a', 'z')));
      }
    }
    return s;
  }

  Value Make(int depth) {
    switch (Int(0, depth > 3 ? 5 : 7)) {
      case 0:
        return Value();
      case 1:
        return Value(Int(0, 1) == 1);
      case 2:
        return Value(static_cast<int64_t>(rng_()) * (Int(0, 1) == 1 ? 1 : -1) *
                     Int(1, 1 << 30));
      case 3: {
        if (Int(0, 30) == 0) return Value(std::nan(""));
        std::uniform_real_distribution<double> d(-1e6, 1e6);
        double v = d(rng_);
        if (Int(0, 3) == 0) v = std::ldexp(v, Int(-1000, 1000));
        return Value(v);
      }
      case 4:
      case 5:
        return Value(Text());
      case 6: {
        Value::Array a;
        for (int i = Int(0, 4); i > 0; --i) a.push_back(Make(depth + 1));
        return Value(std::move(a));
      }
      default:
        return Object(depth);
    }
  }

  Value Object(int depth) {
    Value o = Value::Object{};
    for (int i = Int(0, 5); i > 0; --i) o.Set(Text(), Make(depth + 1));
    return o;
  }

  int Int(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }

 private:
  template <typename T>
  T Pick(std::initializer_list<T> options) {
    return options.begin()[Int(0, static_cast<int>(options.size()) - 1)];
  }

  std::mt19937 rng_;
};

TEST_F(TrackEncoderTest, RandomEventsGiveTheSameBytesOrTheSameError) {
  RandomValues random(20261128);
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string event = random.Int(0, 3) == 0 ? random.Text() : "E";
    const Value props = random.Object(0);
    const WallTime t{std::chrono::milliseconds(
        static_cast<int64_t>(random.Int(0, 1 << 30)) * 4000)};
    auto json = Same(event, props, t);
    (json.ok() ? accepted : refused)++;
    if (HasFailure()) {
      ADD_FAILURE() << "case " << i;
      break;
    }
  }
  // Both kinds were exercised.
  EXPECT_GT(accepted, 300);
  EXPECT_GT(refused, 300);
}

TEST(TrackEncoderCreateTest, RefusesAnEmptyOrInvalidAnonymousIdOrContext) {
  Context c = TestContext();
  auto empty = TrackEncoder::Create("", c);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "anonymous id is empty");
  auto bad_id = TrackEncoder::Create("\xff", c);
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.status().message().find("anonymous id"), std::string::npos);
  c.os_version = std::string(1, '\x80');
  auto bad_context = TrackEncoder::Create(kAnonymousId, c);
  ASSERT_FALSE(bad_context.ok());
  EXPECT_EQ(bad_context.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad_context.status().message().find("context.os.version"),
            std::string::npos)
      << bad_context.status();
}

TEST(TrackEncoderThreadsTest, ThreadsEncodingAtOnceEachGetTheirOwnBytes) {
  const Context c = TestContext();
  const TrackEncoder encoder = TrackEncoder::Create(kAnonymousId, c).value();
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const Value props = Value::Object{
            {"thread", t}, {"i", i}, {"pad", std::string(t, 'x')}};
        MessageFields f;
        f.event = "Thread " + std::to_string(t);
        f.properties = props;
        f.anonymous_id = std::string(kAnonymousId);
        f.context = c;
        f.timestamp = WallTime(std::chrono::milliseconds(i));
        f.message_id = NewUuid4();
        auto fast = encoder.Encode(f.event, props, f.timestamp, f.message_id);
        auto general = EncodeTrackMessage(f);
        if (!fast.ok() || !general.ok() || *fast != *general) {
          ++mismatches[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(Uuid4CharsTest, AreCanonicalVersion4IdsAndDiffer) {
  const auto a = NewUuid4Chars();
  const auto b = NewUuid4Chars();
  const std::string_view va(a.data(), a.size());
  EXPECT_TRUE(IsUuid4(va)) << va;
  EXPECT_NE(va, std::string_view(b.data(), b.size()));
}

TEST(TimestampCharsTest, AreWhatFormatTimestampReturns) {
  const WallTime t = At("2024-02-29T23:59:59.999Z");
  const auto chars = FormatTimestampChars(t);
  EXPECT_EQ(std::string(chars.data(), chars.size()),
            "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(FormatTimestamp(t), "2024-02-29T23:59:59.999Z");
}

}  // namespace
}  // namespace zenml::core
