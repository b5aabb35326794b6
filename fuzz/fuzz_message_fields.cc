// libFuzzer target: zenml-spool-dump's fast reader of a message's "event"
// and "timestamp" (tools/zenml-spool-dump/message_fields.h) must answer
// what RapidJSON answers, for any bytes a spool may hold.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tools/zenml-spool-dump/message_fields.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tools = zenml::tools;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  tools::MessageFields fast, reference;
  tools::ReadMessageFields(json, &fast);
  tools::ParseMessageFields(json, &reference);
  if (!(fast == reference)) std::abort();
  return 0;
}
