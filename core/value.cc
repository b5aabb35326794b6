#include "core/value.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/json_internal.h"

namespace zenml::core {

const Value* Value::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : as_object()) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

void Value::Set(std::string key, Value value) {
  if (is_null()) data_ = Object{};
  if (!is_object()) return;
  for (Member& m : as_object()) {
    if (m.first == key) {
      m.second = std::move(value);
      return;
    }
  }
  as_object().emplace_back(std::move(key), std::move(value));
}

namespace internal {

size_t FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;  // continuation byte, 0xc0/0xc1 overlong, or > 0xf4
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

namespace {

// The path to the value being checked. Kept as views and indices and turned
// into text only on error, so validating a valid message allocates nothing
// (Track() validates on the caller's thread).
struct PathStep {
  std::string_view key;  // for an object member
  size_t index = 0;      // for an array element
  bool is_index = false;
};

class Validator {
 public:
  explicit Validator(const std::string& root) : root_(root) {}

  Status Check(const Value& v) {
    if (path_.size() > static_cast<size_t>(kMaxDepth)) {
      return Fail(fmt::format("nested deeper than {} levels", kMaxDepth));
    }
    switch (v.type()) {
      case Value::Type::kDouble:
        if (!std::isfinite(v.as_double())) {
          return Fail(fmt::format("{} is not a JSON number", v.as_double()));
        }
        break;
      case Value::Type::kString:
        if (size_t at = FindInvalidUtf8(v.as_string());
            at != std::string_view::npos) {
          return Fail(fmt::format("invalid UTF-8 at byte {}", at));
        }
        break;
      case Value::Type::kArray: {
        const auto& a = v.as_array();
        for (size_t i = 0; i < a.size(); ++i) {
          path_.push_back({{}, i, true});
          Status s = Check(a[i]);
          path_.pop_back();
          if (!s.ok()) return s;
        }
        break;
      }
      case Value::Type::kObject:
        for (const auto& [key, child] : v.as_object()) {
          if (size_t at = FindInvalidUtf8(key); at != std::string_view::npos) {
            return Fail(fmt::format("a key has invalid UTF-8 at byte {}", at));
          }
          path_.push_back({key, 0, false});
          Status s = Check(child);
          path_.pop_back();
          if (!s.ok()) return s;
        }
        break;
      default:
        break;
    }
    return Status::OK();
  }

 private:
  Status Fail(const std::string& what) const {
    std::string where = root_;
    for (const PathStep& step : path_) {
      where += step.is_index ? fmt::format("[{}]", step.index)
                             : fmt::format(".{}", step.key);
    }
    return Status::InvalidArgument(fmt::format("{}: {}", where, what));
  }

  const std::string& root_;
  std::vector<PathStep> path_;
};

}  // namespace

Status ValidateValue(const Value& value, const std::string& where) {
  return Validator(where).Check(value);
}

}  // namespace internal

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Write(const Value& v, Writer& w) {
  switch (v.type()) {
    case Value::Type::kNull:
      w.Null();
      break;
    case Value::Type::kBool:
      w.Bool(v.as_bool());
      break;
    case Value::Type::kInt:
      w.Int64(v.as_int());
      break;
    case Value::Type::kDouble:
      w.Double(v.as_double());
      break;
    case Value::Type::kString:
      w.String(v.as_string().data(),
               static_cast<rapidjson::SizeType>(v.as_string().size()));
      break;
    case Value::Type::kArray:
      w.StartArray();
      for (const Value& e : v.as_array()) Write(e, w);
      w.EndArray();
      break;
    case Value::Type::kObject:
      w.StartObject();
      for (const auto& [key, child] : v.as_object()) {
        w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
        Write(child, w);
      }
      w.EndObject();
      break;
  }
}

Result<Value> FromRapid(const rapidjson::Value& r, int depth) {
  if (depth > internal::kMaxDepth) {
    return Status::InvalidArgument(fmt::format(
        "invalid JSON: nested deeper than {} levels", internal::kMaxDepth));
  }
  if (r.IsNull()) return Value();
  if (r.IsBool()) return Value(r.GetBool());
  if (r.IsInt64()) return Value(r.GetInt64());
  if (r.IsNumber()) return Value(r.GetDouble());
  if (r.IsString()) {
    return Value(std::string(r.GetString(), r.GetStringLength()));
  }
  if (r.IsArray()) {
    Value::Array a;
    a.reserve(r.Size());
    for (const auto& e : r.GetArray()) {
      ZENML_TRY_ASSIGN(Value child, FromRapid(e, depth + 1));
      a.push_back(std::move(child));
    }
    return Value(std::move(a));
  }
  Value o = Value::Object{};
  for (const auto& m : r.GetObject()) {
    ZENML_TRY_ASSIGN(Value child, FromRapid(m.value, depth + 1));
    o.Set(std::string(m.name.GetString(), m.name.GetStringLength()),
          std::move(child));
  }
  return o;
}

}  // namespace

namespace internal {
std::string ToJsonUnchecked(const Value& value) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  Write(value, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}
}  // namespace internal

namespace {

// True when RapidJSON 1.1.0's full-precision number path is safe for every
// number in `text`. That path (StrtodDiyFp) indexes a table of powers of
// ten from 10^-348 by a decimal exponent that, for a number whose first
// significant digit lies below 10^-330 but whose many digits get it past
// the "underflows to 0" test (`0.<40 zeros>1234e-300`, or 120 digits and
// e-456), falls before the table: a SEGV under ASan on 141 bytes of JSON
// from `track --properties` (found by fuzz_json_value; docs/FUZZING.md).
// Scans number tokens outside strings; any text that does not parse anyway
// may answer either way.
bool FullPrecisionIsSafe(std::string_view text) {
  const size_t n = text.size();
  bool in_string = false;
  for (size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    size_t j = c == '-' ? i + 1 : i;
    int64_t int_digits = 0;
    int64_t digits = 0;
    int64_t first_significant = -1;  // index among all digits
    auto digit = [&](bool integer) {
      if (text[j] != '0' && first_significant < 0) first_significant = digits;
      ++digits;
      if (integer) ++int_digits;
      ++j;
    };
    while (j < n && text[j] >= '0' && text[j] <= '9') digit(true);
    if (j < n && text[j] == '.') {
      ++j;
      while (j < n && text[j] >= '0' && text[j] <= '9') digit(false);
    }
    int64_t exp = 0;
    if (j < n && (text[j] == 'e' || text[j] == 'E')) {
      ++j;
      bool minus = false;
      if (j < n && (text[j] == '+' || text[j] == '-')) minus = text[j++] == '-';
      while (j < n && text[j] >= '0' && text[j] <= '9') {
        exp = std::min<int64_t>(exp * 10 + (text[j++] - '0'), 1'000'000);
      }
      if (minus) exp = -exp;
    }
    // The decimal exponent of the first significant digit (of the last digit
    // for a zero: RapidJSON trims zeros the same way).
    const int64_t k = first_significant >= 0 ? first_significant : digits - 1;
    if (digits > 0 && int_digits - 1 - k + exp < -330) return false;
    i = j > i ? j - 1 : i;
  }
  return true;
}

}  // namespace

Result<Value> ParseJson(std::string_view text) {
  rapidjson::Document doc;
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseFullPrecisionFlag;
  // Where the full-precision path is unsafe (see above), the normal one: at
  // most a few units in the last place off, for numbers no property needs.
  constexpr unsigned kSafeFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  if (FullPrecisionIsSafe(text)) {
    doc.Parse<kFlags>(text.data(), text.size());
  } else {
    doc.Parse<kSafeFlags>(text.data(), text.size());
  }
  if (doc.HasParseError()) {
    return Status::InvalidArgument(
        fmt::format("invalid JSON at offset {}: {}", doc.GetErrorOffset(),
                    rapidjson::GetParseError_En(doc.GetParseError())));
  }
  return FromRapid(doc, 0);
}

Result<std::string> ToJson(const Value& value) {
  ZENML_TRY(internal::ValidateValue(value, "value"));
  return internal::ToJsonUnchecked(value);
}

}  // namespace zenml::core
