#include "spool/keys.h"

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

std::string EncodeEventValue(int64_t append_time_ms, std::string_view json) {
  std::string value = EncodeFixed64BE(static_cast<uint64_t>(append_time_ms));
  value += json;
  return value;
}

std::optional<EventValue> DecodeEventValue(std::string_view value) {
  if (value.size() < kEventTimePrefix) return std::nullopt;
  EventValue out;
  out.append_time_ms =
      static_cast<int64_t>(*DecodeFixed64BE(value.substr(0, kEventTimePrefix)));
  out.json = value.substr(kEventTimePrefix);
  return out;
}

}  // namespace zenml::spool
