// libFuzzer target: the JSON parser and serializer (core/value.h), which
// read track properties given as JSON (`zenml-analytics track --properties`,
// the Python binding). A value that parses serializes, and the serialized
// text parses back to an equal value and serializes to the same bytes.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/value.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using zenml::core::ParseJson;
  using zenml::core::ToJson;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto value = ParseJson(text);
  if (!value.ok()) return 0;
  auto json = ToJson(*value);
  if (!json.ok()) return 0;  // e.g. a number that overflows to infinity
  auto again = ParseJson(*json);
  if (!again.ok()) std::abort();
  auto json2 = ToJson(*again);
  if (!json2.ok() || *json2 != *json) std::abort();
  return 0;
}
