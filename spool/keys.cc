#include "spool/keys.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstdint>

namespace zenml::spool {

std::string EncodeFixed64BE(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

std::optional<uint64_t> DecodeFixed64BE(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

std::string EventKey(uint64_t seq) {
  std::string key(kEventPrefix);
  key += EncodeFixed64BE(seq);
  return key;
}

std::string DeadLetterKey(uint64_t seq) {
  std::string key(kDeadLetterPrefix);
  key += EncodeFixed64BE(seq);
  return key;
}

std::string InboxMarkerKey(std::string_view file_name) {
  std::string key(kInboxMarkerPrefix);
  key += file_name;
  return key;
}

std::optional<uint64_t> DecodeSeqKey(std::string_view key,
                                     std::string_view prefix) {
  if (key.size() != prefix.size() + 8 || !key.starts_with(prefix)) {
    return std::nullopt;
  }
  return DecodeFixed64BE(key.substr(prefix.size()));
}

namespace {

// CRC-32 (the gzip/zlib polynomial, values identical to zlib's crc32).
// libdeflate's uses carry-less multiplication where the CPU has it: every
// Peek checks every event, and zlib's table-driven crc32 was 39 % of the CPU
// of a 1,000,000-event `zenml-spool-dump --json`.
uint32_t Crc(std::string_view data) {
  return libdeflate_crc32(0, data.data(), data.size());
}

}  // namespace

// Clamped to kMaxAppendTimeMs, a time's high byte is 0x00 or 0xFF, never
// kEventTotalsMarker.
void AppendEventValue(int64_t append_time_ms, std::string_view json,
                      std::string* out,
                      const std::optional<AppendTotals>& totals) {
  if (totals) {
    out->push_back(kEventTotalsMarker);
    *out += EncodeFixed64BE(totals->count);
    *out += EncodeFixed64BE(totals->bytes);
  }
  const int64_t time =
      std::clamp(append_time_ms, -kMaxAppendTimeMs, kMaxAppendTimeMs);
  *out += EncodeFixed64BE(static_cast<uint64_t>(time));
  const uint32_t crc = Crc(json);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((crc >> shift) & 0xff));
  }
  *out += json;
}

std::string EncodeEventValue(int64_t append_time_ms, std::string_view json,
                             const std::optional<AppendTotals>& totals) {
  std::string value;
  value.reserve(kEventTotalsHeaderSize + json.size());
  AppendEventValue(append_time_ms, json, &value, totals);
  return value;
}

namespace {

size_t HeaderSize(std::string_view value) {
  return !value.empty() && value[0] == kEventTotalsMarker
             ? kEventTotalsHeaderSize
             : kEventHeaderSize;
}

}  // namespace

std::optional<EventValue> DecodeEventValue(std::string_view value) {
  const size_t header = HeaderSize(value);
  if (value.size() < header) return std::nullopt;
  EventValue out;
  size_t pos = 0;
  if (header == kEventTotalsHeaderSize) {
    out.totals = AppendTotals{*DecodeFixed64BE(value.substr(1, 8)),
                              *DecodeFixed64BE(value.substr(9, 8))};
    pos = 17;
  }
  out.append_time_ms =
      static_cast<int64_t>(*DecodeFixed64BE(value.substr(pos, 8)));
  uint32_t crc = 0;
  for (size_t i = pos + 8; i < header; ++i) {
    crc = (crc << 8) | static_cast<unsigned char>(value[i]);
  }
  out.json = value.substr(header);
  out.intact = Crc(out.json) == crc;
  return out;
}

size_t EventJsonSize(std::string_view value) {
  const size_t header = HeaderSize(value);
  return value.size() >= header ? value.size() - header : 0;
}

}  // namespace zenml::spool
