#include "core/message.h"

#include <fmt/format.h>
#include <rapidjson/internal/dtoa.h>
#include <rapidjson/internal/itoa.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/json_internal.h"
#include "core/json_writer.h"
#include "core/timestamp.h"
#include "core/uuid.h"

namespace zenml::core {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

Status CheckText(std::string_view field, std::string_view value) {
  if (size_t at = internal::FindInvalidUtf8(value);
      at != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("{}: invalid UTF-8 at byte {}", field, at));
  }
  return Status::OK();
}

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void Pair(Writer& w, std::string_view key, std::string_view value) {
  Str(w, key);
  Str(w, value);
}

// ---------------------------------------------------------------------------
// The hand writer of TrackEncoder. It must write byte for byte what
// rapidjson::Writer<StringBuffer> (default flags, UTF-8 in and out) writes,
// which EncodeTrackMessage uses: message_test.cc compares the two.

// Appends `s` as a quoted, escaped JSON string (core/json_writer.h writes
// exactly what RapidJSON writes). False, with nothing written, when `s` is
// not valid UTF-8.
bool AppendString(std::string& out, std::string_view s) {
  if (IsPlainJsonAscii(s)) {  // the common case, scanned once
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return true;
  }
  if (internal::FindInvalidUtf8(s) != std::string_view::npos) return false;
  AppendJsonString(out, s);
  return true;
}

// Appends `v` as compact JSON. False when it is not valid (invalid UTF-8, a
// NaN or infinite number, nested deeper than internal::kMaxDepth): the caller
// then asks internal::ValidateValue for the error, so the message is exactly
// EncodeTrackMessage's.
bool AppendValue(std::string& out, const Value& v, int depth) {
  if (depth > internal::kMaxDepth) return false;
  switch (v.type()) {
    case Value::Type::kNull:
      out.append("null");
      return true;
    case Value::Type::kBool:
      out.append(v.as_bool() ? "true" : "false");
      return true;
    case Value::Type::kInt: {
      char digits[24];
      const char* end = rapidjson::internal::i64toa(v.as_int(), digits);
      out.append(digits, static_cast<size_t>(end - digits));
      return true;
    }
    case Value::Type::kDouble: {
      if (!std::isfinite(v.as_double())) return false;
      // What rapidjson::Writer::Double writes (its default maxDecimalPlaces).
      char digits[32];
      const char* end = rapidjson::internal::dtoa(v.as_double(), digits, 324);
      out.append(digits, static_cast<size_t>(end - digits));
      return true;
    }
    case Value::Type::kString:
      return AppendString(out, v.as_string());
    case Value::Type::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Value& e : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        if (!AppendValue(out, e, depth + 1)) return false;
      }
      out.push_back(']');
      return true;
    }
    case Value::Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, child] : v.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        if (!AppendString(out, key)) return false;
        out.push_back(':');
        if (!AppendValue(out, child, depth + 1)) return false;
      }
      out.push_back('}');
      return true;
    }
  }
  return false;
}

// Each thread encodes into its own buffer, which keeps its capacity between
// events; the returned string is then one exact-size allocation.
std::string& ThreadBuffer() {
  thread_local std::string buffer;
  return buffer;
}

Status TooBig(size_t size, std::string_view event) {
  return Status::InvalidArgument(
      fmt::format("message is {} bytes, over the {}-byte limit (event '{}')",
                  size, kMaxMessageBytes, event));
}

}  // namespace

Result<std::string> EncodeTrackMessage(const MessageFields& f) {
  if (f.event.empty()) {
    return Status::InvalidArgument("event name is empty");
  }
  if (f.anonymous_id.empty()) {
    return Status::InvalidArgument("anonymous id is empty");
  }
  if (f.message_id.empty()) {
    return Status::InvalidArgument("message id is empty");
  }
  if (f.message_id.size() > kMaxMessageIdBytes) {
    return Status::InvalidArgument(
        fmt::format("message id is {} bytes, over the {}-byte limit",
                    f.message_id.size(), kMaxMessageIdBytes));
  }
  if (!f.properties.is_null() && !f.properties.is_object()) {
    return Status::InvalidArgument("properties must be a JSON object");
  }
  ZENML_TRY(CheckText("event name", f.event));
  ZENML_TRY(CheckText("anonymous id", f.anonymous_id));
  ZENML_TRY(CheckText("message id", f.message_id));
  ZENML_TRY(CheckText("context.library.name", f.context.library_name));
  ZENML_TRY(CheckText("context.library.version", f.context.library_version));
  ZENML_TRY(CheckText("context.os.name", f.context.os_name));
  ZENML_TRY(CheckText("context.os.version", f.context.os_version));
  ZENML_TRY(CheckText("context.zenml.version", f.context.zenml_version));
  ZENML_TRY(internal::ValidateValue(f.properties, "properties"));

  const std::string properties = f.properties.is_null()
                                     ? std::string("{}")
                                     : internal::ToJsonUnchecked(f.properties);
  const std::string timestamp = FormatTimestamp(f.timestamp);

  rapidjson::StringBuffer buffer;
  buffer.Reserve(properties.size() + 512);
  Writer w(buffer);
  w.StartObject();
  Pair(w, "type", "track");
  Pair(w, "event", f.event);
  Pair(w, "userId", f.anonymous_id);
  Pair(w, "anonymousId", f.anonymous_id);
  Pair(w, "messageId", f.message_id);
  Pair(w, "timestamp", timestamp);
  Str(w, "properties");
  w.RawValue(properties.data(), properties.size(), rapidjson::kObjectType);
  Str(w, "context");
  w.StartObject();
  Str(w, "library");
  w.StartObject();
  Pair(w, "name", f.context.library_name);
  Pair(w, "version", f.context.library_version);
  w.EndObject();
  Str(w, "os");
  w.StartObject();
  Pair(w, "name", f.context.os_name);
  Pair(w, "version", f.context.os_version);
  w.EndObject();
  // Stops Segment from recording and geolocating the sender's address.
  Pair(w, "ip", "0.0.0.0");
  Str(w, "zenml");
  w.StartObject();
  Pair(w, "version", f.context.zenml_version);
  w.EndObject();
  w.EndObject();
  w.EndObject();

  if (buffer.GetSize() > kMaxMessageBytes) {
    return TooBig(buffer.GetSize(), f.event);
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<TrackEncoder> TrackEncoder::Create(std::string_view anonymous_id,
                                          const Context& context) {
  if (anonymous_id.empty()) {
    return Status::InvalidArgument("anonymous id is empty");
  }
  ZENML_TRY(CheckText("anonymous id", anonymous_id));
  ZENML_TRY(CheckText("context.library.name", context.library_name));
  ZENML_TRY(CheckText("context.library.version", context.library_version));
  ZENML_TRY(CheckText("context.os.name", context.os_name));
  ZENML_TRY(CheckText("context.os.version", context.os_version));
  ZENML_TRY(CheckText("context.zenml.version", context.zenml_version));

  // The checks above make every AppendString succeed.
  TrackEncoder e;
  e.ids_ = R"(,"userId":)";
  AppendString(e.ids_, anonymous_id);
  e.ids_ += R"(,"anonymousId":)";
  AppendString(e.ids_, anonymous_id);
  e.ids_ += R"(,"messageId":)";

  e.context_ = R"(,"context":{"library":{"name":)";
  AppendString(e.context_, context.library_name);
  e.context_ += R"(,"version":)";
  AppendString(e.context_, context.library_version);
  e.context_ += R"(},"os":{"name":)";
  AppendString(e.context_, context.os_name);
  e.context_ += R"(,"version":)";
  AppendString(e.context_, context.os_version);
  // "ip": see EncodeTrackMessage.
  e.context_ += R"(},"ip":"0.0.0.0","zenml":{"version":)";
  AppendString(e.context_, context.zenml_version);
  e.context_ += "}}}";
  return e;
}

Result<std::string> TrackEncoder::Encode(std::string_view event,
                                         const Value& properties,
                                         WallTime timestamp,
                                         std::string_view message_id) const {
  std::string& out = ThreadBuffer();
  Status s = EncodeTo(event, properties, timestamp, message_id, &out);
  Result<std::string> result =
      s.ok() ? Result<std::string>(out) : Result<std::string>(s);
  // One huge event must not pin its memory in every thread that saw one.
  if (out.capacity() > 2 * kMaxMessageBytes) std::string().swap(out);
  return result;
}

Status TrackEncoder::EncodeTo(std::string_view event, const Value& properties,
                              WallTime timestamp, std::string_view message_id,
                              std::string* out_ptr) const {
  // The same checks in the same order as EncodeTrackMessage (those of the
  // anonymous id and context were done by Create), so the same error wins.
  if (event.empty()) {
    return Status::InvalidArgument("event name is empty");
  }
  if (message_id.empty()) {
    return Status::InvalidArgument("message id is empty");
  }
  if (message_id.size() > kMaxMessageIdBytes) {
    return Status::InvalidArgument(
        fmt::format("message id is {} bytes, over the {}-byte limit",
                    message_id.size(), kMaxMessageIdBytes));
  }
  if (!properties.is_null() && !properties.is_object()) {
    return Status::InvalidArgument("properties must be a JSON object");
  }

  std::string& out = *out_ptr;
  out.clear();
  out += R"({"type":"track","event":)";
  if (!AppendString(out, event)) return CheckText("event name", event);
  out += ids_;
  if (!AppendString(out, message_id)) {
    return CheckText("message id", message_id);
  }
  out += R"(,"timestamp":")";
  const auto ts = FormatTimestampChars(timestamp);
  out.append(ts.data(), ts.size());
  out += R"(","properties":)";
  if (properties.is_null()) {
    out += "{}";
  } else if (!AppendValue(out, properties, 0)) {
    Status s = internal::ValidateValue(properties, "properties");
    if (s.ok()) s = Status::Internal("properties: could not be written");
    return s;
  }
  out += context_;
  if (out.size() > kMaxMessageBytes) return TooBig(out.size(), event);
  return Status::OK();
}

}  // namespace zenml::core
