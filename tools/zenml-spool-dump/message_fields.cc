#include "tools/zenml-spool-dump/message_fields.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "core/timestamp.h"

namespace zenml::tools {
namespace {

// Collects the top-level "event" and "timestamp" strings and stops the parse
// once it has both (a full DOM parse of every message held a 1,000,000-event
// table dump to ~180k events/s). A message that is not JSON keeps whatever
// was read before the error.
class FieldsHandler
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, FieldsHandler> {
 public:
  explicit FieldsHandler(MessageFields* fields) : fields_(fields) {}

  bool Default() {  // any scalar value
    want_ = nullptr;
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (depth_ == 1 && want_ != nullptr && want_->empty()) want_->assign(s, n);
    want_ = nullptr;
    return fields_->event.empty() || fields_->timestamp.empty();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    want_ = nullptr;
    if (depth_ != 1) return true;
    std::string_view key(s, n);
    if (key == "event") want_ = &fields_->event;
    if (key == "timestamp") want_ = &fields_->timestamp;
    return true;
  }
  bool StartObject() { return Open(); }
  bool StartArray() { return Open(); }
  bool EndObject(rapidjson::SizeType) { return Close(); }
  bool EndArray(rapidjson::SizeType) { return Close(); }

 private:
  bool Open() {
    ++depth_;
    want_ = nullptr;
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }

  MessageFields* fields_;
  int depth_ = 0;
  std::string* want_ = nullptr;  // the field the next string value fills
};

void Clear(MessageFields* out) {
  out->event.clear();
  out->timestamp.clear();
  out->time.reset();
}

void ParseTime(MessageFields* out) {
  if (out->timestamp.empty()) return;
  auto t = core::ParseTimestamp(out->timestamp);
  if (t.ok()) out->time = *t;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Reads the string that starts at json[*i] == '"' into `*text` and moves
// *i past its closing quote. False for a string RapidJSON would treat
// differently from its raw bytes (an escape) or refuse (a control
// character), and for one with no closing quote.
bool PlainString(std::string_view json, size_t* i, std::string_view* text) {
  const size_t start = *i + 1;
  for (size_t j = start; j < json.size(); ++j) {
    const auto c = static_cast<unsigned char>(json[j]);
    if (c == '"') {
      *text = json.substr(start, j - start);
      *i = j + 1;
      return true;
    }
    if (c == '\\' || c < 0x20) return false;
  }
  return false;
}

// The fast path: an object whose members are plain strings until both
// fields are found (or the object ends). False, with `out` in any state,
// for anything else.
bool ReadPlain(std::string_view json, MessageFields* out) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < json.size() && IsSpace(json[i])) ++i;
  };
  auto at = [&](char c) { return i < json.size() && json[i] == c; };
  skip_space();
  if (!at('{')) return false;
  ++i;
  skip_space();
  if (at('}')) return true;
  for (;;) {
    std::string_view key, value;
    if (!at('"') || !PlainString(json, &i, &key)) return false;
    skip_space();
    if (!at(':')) return false;
    ++i;
    skip_space();
    if (!at('"') || !PlainString(json, &i, &value)) return false;
    std::string* field = key == "event"       ? &out->event
                         : key == "timestamp" ? &out->timestamp
                                              : nullptr;
    if (field != nullptr && field->empty()) field->assign(value);
    if (!out->event.empty() && !out->timestamp.empty()) return true;
    skip_space();
    if (at('}')) return true;
    if (!at(',')) return false;
    ++i;
    skip_space();
  }
}

}  // namespace

void ParseMessageFields(std::string_view json, MessageFields* out) {
  Clear(out);
  FieldsHandler handler(out);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(json.data(), json.size());
  reader.Parse(stream, handler);
  ParseTime(out);
}

void ReadMessageFields(std::string_view json, MessageFields* out) {
  Clear(out);
  if (!ReadPlain(json, out)) return ParseMessageFields(json, out);
  ParseTime(out);
}

}  // namespace zenml::tools
