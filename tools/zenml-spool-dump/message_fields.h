// MessageFields: what zenml-spool-dump's table and its filters read from one
// spooled message, its top-level "event" and "timestamp" strings.
//
// A message is whatever is in the spool (ours, another version's, a damaged
// one's), so reading must accept anything: what is not there, or not a
// string, stays empty. ParseMessageFields reads it with RapidJSON's SAX
// reader; ReadMessageFields gives the same answer faster for the messages
// our encoder writes (plain strings up to "timestamp", which it writes
// before "properties" and "context"), and hands anything else (an escape, a
// non-string value, malformed JSON) to ParseMessageFields. A table dump of
// 1,000,000 events spent ~1 s of ~2.6 s in RapidJSON (docs/BENCHMARKS.md);
// fuzz/fuzz_message_fields.cc checks that both answer the same.
//
// Pure functions; thread-safe.

#ifndef ZENML_TOOLS_ZENML_SPOOL_DUMP_MESSAGE_FIELDS_H_
#define ZENML_TOOLS_ZENML_SPOOL_DUMP_MESSAGE_FIELDS_H_

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace zenml::tools {

struct MessageFields {
  std::string event;                   // "" when absent or not a string
  std::string timestamp;               // as written
  std::optional<core::WallTime> time;  // the timestamp, if it parses
  bool operator==(const MessageFields&) const = default;
};

// Fills `out` (its buffers reused) from `json`. The first non-empty value of
// a repeated key wins; reading stops once both strings are non-empty, so
// what follows them is never looked at.
void ReadMessageFields(std::string_view json, MessageFields* out);

// The reference: the same with RapidJSON's SAX reader, for any input.
void ParseMessageFields(std::string_view json, MessageFields* out);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_SPOOL_DUMP_MESSAGE_FIELDS_H_
