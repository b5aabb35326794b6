// libFuzzer target: the spool's value and key decoders (spool/keys.h), which
// read whatever is in the LevelDB files on disk (a damaged or foreign
// spool). Round trip: a decoded value (with or without AppendTotals)
// re-encodes to the same bytes, and an intact one's CRC holds; a decoded key
// re-encodes to itself.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spool/keys.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace spool = zenml::spool;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t header = !bytes.empty() && bytes[0] == spool::kEventTotalsMarker
                            ? spool::kEventTotalsHeaderSize
                            : spool::kEventHeaderSize;
  if (auto value = spool::DecodeEventValue(bytes)) {
    Check(bytes.size() >= header);
    Check(value->json.size() == bytes.size() - header);
    Check(spool::EventJsonSize(bytes) == value->json.size());
    Check(value->totals.has_value() ==
          (header == spool::kEventTotalsHeaderSize));
    // A plain value whose time a system clock cannot hold re-encodes
    // clamped; every other intact value re-encodes to itself.
    if (value->intact && value->append_time_ms >= -spool::kMaxAppendTimeMs &&
        value->append_time_ms <= spool::kMaxAppendTimeMs) {
      Check(spool::EncodeEventValue(value->append_time_ms, value->json,
                                    value->totals) == bytes);
    }
  } else {
    Check(bytes.size() < header);
    Check(spool::EventJsonSize(bytes) == 0);
  }
  if (auto seq = spool::DecodeSeqKey(bytes, "e/")) {
    Check(spool::EventKey(*seq) == bytes);
  }
  if (auto seq = spool::DecodeSeqKey(bytes, "d/")) {
    Check(spool::DeadLetterKey(*seq) == bytes);
  }
  if (auto n = spool::DecodeFixed64BE(bytes)) {
    Check(spool::EncodeFixed64BE(*n) == bytes);
  }
  return 0;
}
