// JSON string writing: the one escaper of the tree (the track encoder, the
// batch body, bundles, the tools' --json output all use it).
//
// Contract: writes exactly what rapidjson::Writer<StringBuffer> writes for a
// string with default flags: '"', '\\' and the control characters below 0x20
// are escaped (\b \t \n \f \r as such, the rest as \u00XX, uppercase hex);
// every other byte, UTF-8 included, is copied as is. No UTF-8 validation:
// callers that must refuse invalid UTF-8 check first (core/json_internal.h).
// Pure functions; thread-safe; never fail.

#ifndef ZENML_CORE_JSON_WRITER_H_
#define ZENML_CORE_JSON_WRITER_H_

#include <string>
#include <string_view>

namespace zenml::core {

// True when `s` needs no escaping (printable ASCII other than '"' and '\\').
bool IsPlainJsonAscii(std::string_view s);

// Appends `s` escaped, without the surrounding quotes.
void AppendJsonEscaped(std::string& out, std::string_view s);

// Appends `s` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view s);

// `s` as a quoted, escaped JSON string.
std::string JsonString(std::string_view s);

}  // namespace zenml::core

#endif  // ZENML_CORE_JSON_WRITER_H_
