// Internal to zenml::core (not installed): writing Values with RapidJSON, and
// the UTF-8 validation shared by value.cc and message.cc. RapidJSON appears
// only in .cc files; this header only declares.

#ifndef ZENML_CORE_JSON_INTERNAL_H_
#define ZENML_CORE_JSON_INTERNAL_H_

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/value.h"

namespace zenml::core::internal {

// Nesting deeper than this is refused: it bounds recursion over a Value.
inline constexpr int kMaxDepth = 64;

// Offset of the first byte that is not part of valid UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF are invalid), or npos.
size_t FindInvalidUtf8(std::string_view s);

// Checks every string and key of `value` for UTF-8, every double for being
// finite, and the nesting depth. `where` names the value in messages, e.g.
// "properties"; errors read "properties.tags[2]: invalid UTF-8 at byte 3".
Status ValidateValue(const Value& value, const std::string& where);

// Compact JSON of a value that passed ValidateValue.
std::string ToJsonUnchecked(const Value& value);

}  // namespace zenml::core::internal

#endif  // ZENML_CORE_JSON_INTERNAL_H_
