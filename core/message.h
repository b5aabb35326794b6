// Segment track messages: validation and encoding to the JSON bytes that are
// spooled and later sent byte for byte (segment-api.md "Body").
//
// EncodeTrackMessage is the general encoder (RapidJSON); TrackEncoder writes
// the same bytes faster for a fixed anonymous id and context (Track()'s path).
// Both are thread-safe.

#ifndef ZENML_CORE_MESSAGE_H_
#define ZENML_CORE_MESSAGE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/context.h"
#include "core/result.h"
#include "core/value.h"

namespace zenml::core {

// Segment refuses a whole request with a message larger than 32 KB; the
// official libraries budget 32,000 bytes of serialized JSON per message.
inline constexpr size_t kMaxMessageBytes = 32000;

// Segment keeps at most 100 characters of a messageId.
inline constexpr size_t kMaxMessageIdBytes = 100;

struct MessageFields {
  std::string event;         // a catalogue name (EventName) or a custom one
  Value properties;          // an object (null is taken as {})
  std::string anonymous_id;  // the user's anonymous uuid (EnsureAnonymousId)
  Context context;           // DetectContext()
  WallTime timestamp;        // when the event happened
  std::string message_id;    // NewUuid4(), assigned once, never changed
};

// Encodes `fields` as one compact JSON track message:
//   {"type":"track","event":…,"userId":…,"anonymousId":…,"messageId":…,
//    "timestamp":"…Z","properties":{…},
//    "context":{"library":{"name":…,"version":…},"os":{"name":…,"version":…},
//               "ip":"0.0.0.0","zenml":{"version":…}}}
// Fails with InvalidArgument and a message naming the problem for: an empty
// event name; an empty anonymous_id or message_id; a message_id longer than
// kMaxMessageIdBytes; properties that are not an object (or null); invalid
// UTF-8 in any string or key; a NaN or infinite number; and a result longer
// than kMaxMessageBytes ("message is N bytes, over the 32000-byte limit").
Result<std::string> EncodeTrackMessage(const MessageFields& fields);

// TrackEncoder: EncodeTrackMessage for one anonymous id and context, the fast
// path of Client::Track() on the caller's thread.
//
// What is the same for every event of a client (userId, anonymousId and the
// whole context block) is validated and serialized once, by Create(); each
// Encode() writes only the event name, messageId, timestamp and properties
// around those fragments, into a per-thread buffer, with no parse of a format
// string and one allocation (the returned string).
//
// Encode(e, p, t, id) returns exactly what EncodeTrackMessage returns for
// {e, p, anonymous_id, context, t, id}: the same bytes, or the same error
// (the same code and message), including the UTF-8 checks and the
// kMaxMessageBytes limit (tests/core/message_test.cc compares the two).
//
// Thread safety: immutable after Create(); Encode() may be called from any
// number of threads at once.
class TrackEncoder {
 public:
  // Fails with the InvalidArgument EncodeTrackMessage would return for an
  // empty anonymous id or for invalid UTF-8 in it or in a context field.
  static Result<TrackEncoder> Create(std::string_view anonymous_id,
                                     const Context& context);

  // Fails as EncodeTrackMessage does (see above) for an empty event name, an
  // empty or too long message id, properties that are not an object (or
  // null), invalid UTF-8, a NaN or infinite number, nesting deeper than 64,
  // or a result over kMaxMessageBytes.
  Result<std::string> Encode(std::string_view event, const Value& properties,
                             WallTime timestamp,
                             std::string_view message_id) const;

  // As Encode, into `*out` (cleared first): no allocation once `out` has
  // the room (Client::Track() reuses one per thread). On failure `*out`
  // holds an unfinished message.
  Status EncodeTo(std::string_view event, const Value& properties,
                  WallTime timestamp, std::string_view message_id,
                  std::string* out) const;

 private:
  TrackEncoder() = default;

  // ,"userId":"…","anonymousId":"…","messageId":
  std::string ids_;
  // ,"context":{…}}   (closes the message)
  std::string context_;
};

}  // namespace zenml::core

#endif  // ZENML_CORE_MESSAGE_H_
