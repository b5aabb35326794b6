#include "core/message.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/json_internal.h"
#include "core/timestamp.h"

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
    return Status::InvalidArgument(
        fmt::format("message is {} bytes, over the {}-byte limit (event '{}')",
                    buffer.GetSize(), kMaxMessageBytes, f.event));
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace zenml::core
