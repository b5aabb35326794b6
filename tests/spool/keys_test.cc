#include "spool/keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace zenml::spool {
namespace {

TEST(KeysTest, EventKeysSortInSequenceOrder) {
  const std::vector<uint64_t> seqs = {
      0,         1, 2, 255, 256, 65'535, 65'536, 1ull << 32, (1ull << 56) + 1,
      UINT64_MAX};
  std::vector<std::string> keys;
  for (uint64_t s : seqs) keys.push_back(EventKey(s));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(DecodeSeqKey(keys[i], kEventPrefix), seqs[i]);
  }
}

TEST(KeysTest, PrefixesKeepEventsDeadLettersMarkersAndMetadataApart) {
  // c/ < d/ < e/ < i/, and no e/ key sorts outside ["e/", "e0").
  EXPECT_LT(DeadLetterKey(UINT64_MAX), EventKey(0));
  EXPECT_LT(EventKey(UINT64_MAX), InboxMarkerKey(""));
  EXPECT_LT(EventKey(UINT64_MAX), std::string("e0"));
}

TEST(KeysTest, EveryMetadataKeySortsBeforeEveryDeadLetterAndEvent) {
  // So a table of Ack tombstones and counters spans only the metadata and
  // the drained range, never the pending events after it (keys.h).
  for (std::string_view key :
       {kMetaNextSeq, kMetaCount, kMetaBytes, kMetaDeadLetters, kMetaFirstSeq,
        kMetaFormat, kMetaWriteErrors, kMetaDeletesSinceCompact,
        kMetaLastUpload, kMetaNotBefore}) {
    EXPECT_LT(std::string(key), DeadLetterKey(0)) << key;
    EXPECT_LT(std::string(key), EventKey(0)) << key;
  }
  EXPECT_LT(std::string(kMetaDropPrefix) + "\xff", DeadLetterKey(0));
}

TEST(KeysTest, DecodeSeqKeyRejectsOtherPrefixesAndLengths) {
  EXPECT_FALSE(DecodeSeqKey(DeadLetterKey(7), kEventPrefix));
  EXPECT_FALSE(DecodeSeqKey("e/1234567", kEventPrefix));
  EXPECT_FALSE(DecodeSeqKey("e/123456789", kEventPrefix));
  EXPECT_EQ(DecodeSeqKey(DeadLetterKey(7), kDeadLetterPrefix), 7u);
}

TEST(KeysTest, Fixed64RoundTripsAndIsBigEndian) {
  EXPECT_EQ(EncodeFixed64BE(0x0102030405060708ull),
            std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(DecodeFixed64BE(EncodeFixed64BE(123456789)), 123456789u);
  EXPECT_FALSE(DecodeFixed64BE("short"));
}

TEST(KeysTest, EventValueKeepsTheJsonByteExact) {
  const std::string json = "{\"messageId\":\"\xc3\xa9\"}\n";
  const std::string value = EncodeEventValue(1'767'225'600'000, json);
  auto decoded = DecodeEventValue(value);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->append_time_ms, 1'767'225'600'000);
  EXPECT_EQ(decoded->json, json);
  EXPECT_TRUE(decoded->intact);
  EXPECT_FALSE(DecodeEventValue("12345678901"));
}

TEST(KeysTest, EventValueWithADamagedJsonIsNotIntact) {
  std::string value = EncodeEventValue(1, "{\"messageId\":\"x\"}");
  value[kEventHeaderSize + 3] ^= 0x20;
  auto decoded = DecodeEventValue(value);
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(decoded->intact);
}

TEST(KeysTest, EventValueCarriesAppendTotalsOnlyWhenGiven) {
  const std::string json = "{\"messageId\":\"t\"}";
  const std::string plain = EncodeEventValue(1'767'225'600'000, json);
  const std::string with =
      EncodeEventValue(1'767'225'600'000, json, AppendTotals{7, 1234});
  EXPECT_EQ(with.size(),
            plain.size() + kEventTotalsHeaderSize - kEventHeaderSize);
  auto a = DecodeEventValue(plain);
  auto b = DecodeEventValue(with);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->totals.has_value());
  EXPECT_EQ(b->totals, (AppendTotals{7, 1234}));
  EXPECT_EQ(b->append_time_ms, a->append_time_ms);
  EXPECT_EQ(b->json, json);
  EXPECT_TRUE(b->intact);
  EXPECT_EQ(EventJsonSize(plain), json.size());
  EXPECT_EQ(EventJsonSize(with), json.size());
  EXPECT_EQ(EventJsonSize("x"), 0u);
  // A value cut inside the longer header is no value.
  EXPECT_FALSE(DecodeEventValue(with.substr(0, kEventTotalsHeaderSize - 1)));
}

TEST(KeysTest, APlainValueNeverStartsWithTheTotalsMarker) {
  // Any time is clamped to what a system clock holds, whose high byte is
  // 0x00 or 0xFF: a plain value is never read as one with totals.
  for (int64_t t : {int64_t{0}, int64_t{1'767'225'600'000}, INT64_MAX,
                    int64_t{-1}, INT64_MIN}) {
    const std::string value = EncodeEventValue(t, "{}");
    ASSERT_NE(value[0], kEventTotalsMarker) << t;
    auto decoded = DecodeEventValue(value);
    ASSERT_TRUE(decoded);
    EXPECT_FALSE(decoded->totals.has_value()) << t;
    EXPECT_EQ(decoded->json, "{}");
  }
  EXPECT_EQ(DecodeEventValue(EncodeEventValue(INT64_MAX, "{}"))->append_time_ms,
            kMaxAppendTimeMs);
}

}  // namespace
}  // namespace zenml::spool
