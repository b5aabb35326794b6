// libFuzzer target: Track validation and encoding (core/message.h) of an
// event name and JSON properties from outside (the CLI's `track EVENT
// --properties JSON`, the Python binding). Input: the event name, a NUL
// byte, the properties JSON. Differential: TrackEncoder::Encode (Track()'s
// fast path) must return exactly what EncodeTrackMessage returns, bytes or
// error, and an encoded message must be valid JSON within kMaxMessageBytes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/message.h"
#include "core/value.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace core = zenml::core;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view event = input.substr(0, nul);
  const std::string_view json = nul == std::string_view::npos
                                    ? std::string_view()
                                    : input.substr(nul + 1);
  core::Value properties;
  if (!json.empty()) {
    auto parsed = core::ParseJson(json);
    if (!parsed.ok()) return 0;
    properties = std::move(parsed).value();
  }
  core::Context context;
  context.library_version = "0.1.0";
  context.zenml_version = "0.5.0";
  context.os_name = "Debian GNU/Linux";
  context.os_version = "12";
  const std::string anonymous_id = "7c8e3b5a-1d2f-4a6b-9c0d-1e2f3a4b5c6d";
  const std::string message_id = "0b7e5c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b";
  const core::WallTime timestamp{std::chrono::milliseconds(1'764'500'000'123)};

  core::MessageFields fields;
  fields.event = std::string(event);
  fields.properties = properties;
  fields.anonymous_id = anonymous_id;
  fields.context = context;
  fields.timestamp = timestamp;
  fields.message_id = message_id;
  auto general = core::EncodeTrackMessage(fields);

  auto encoder = core::TrackEncoder::Create(anonymous_id, context);
  Check(encoder.ok());
  auto fast = encoder->Encode(event, properties, timestamp, message_id);

  Check(general.ok() == fast.ok());
  if (!general.ok()) {
    Check(general.status().code() == fast.status().code());
    Check(general.status().message() == fast.status().message());
    return 0;
  }
  Check(*general == *fast);
  Check(general->size() <= core::kMaxMessageBytes);
  auto back = core::ParseJson(*general);
  Check(back.ok() && back->is_object());
  return 0;
}
