// Value: a JSON-like property value for event properties.
//
// One of null, bool, int64, double, string, array, or object (keys kept in
// insertion order, so messages serialize deterministically). Built from
// literals:
//
//   Value props = Value::Object{{"steps", 3}, {"gpu", true},
//                               {"tags", Value::Array{"a", "b"}}};
//
// Strings are bytes as given; UTF-8 validity is checked where JSON is
// written (message.h, ToJson), not here. A Value is a regular value type:
// copyable, movable, comparable; thread-compatible.

#ifndef ZENML_CORE_VALUE_H_
#define ZENML_CORE_VALUE_H_

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"

namespace zenml::core {

class Value {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;  // ordered; keys unique via Set()

  Value() = default;           // null
  Value(std::nullptr_t) {}     // NOLINT: null
  Value(bool b) : data_(b) {}  // NOLINT
  // Any integer type but bool. Unsigned values above INT64_MAX become doubles.
  template <std::integral T>
  requires(!std::same_as<T, bool>) Value(T i) {  // NOLINT
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (i > static_cast<T>(std::numeric_limits<int64_t>::max())) {
        data_ = static_cast<double>(i);
        return;
      }
    }
    data_ = static_cast<int64_t>(i);
  }
  template <std::floating_point T>
  Value(T d) : data_(static_cast<double>(d)) {}         // NOLINT
  Value(const char* s) : data_(std::string(s)) {}       // NOLINT
  Value(std::string s) : data_(std::move(s)) {}         // NOLINT
  Value(std::string_view s) : data_(std::string(s)) {}  // NOLINT
  Value(Array a) : data_(std::move(a)) {}               // NOLINT
  Value(Object o) : data_(std::move(o)) {}              // NOLINT

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_double() const { return type() == Type::kDouble; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Accessors: calling one for the wrong type is a bug (std::get throws
  // std::bad_variant_access; check type() first).
  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_double() const { return std::get<double>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const Array& as_array() const { return std::get<Array>(data_); }
  Array& as_array() { return std::get<Array>(data_); }
  const Object& as_object() const { return std::get<Object>(data_); }
  Object& as_object() { return std::get<Object>(data_); }

  // Object helpers. Find returns nullptr when this is not an object or has no
  // such key. Set turns a null into an empty object first, replaces the value
  // of an existing key in place, or appends; it is a no-op on other types.
  const Value* Find(std::string_view key) const;
  void Set(std::string key, Value value);

  friend bool operator==(const Value& a, const Value& b) {
    return a.data_ == b.data_;
  }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array,
               Object>
      data_;
};

// Parses JSON text into a Value. Integers that fit int64 become kInt, others
// kDouble. Fails with InvalidArgument ("invalid JSON at offset N: <reason>")
// for malformed text, invalid UTF-8, or trailing garbage. Iterative: deep
// nesting cannot overflow the stack. Duplicate object keys: the last wins.
Result<Value> ParseJson(std::string_view text);

// Serializes compactly (no spaces). Fails with InvalidArgument for invalid
// UTF-8 in a string or key, and for NaN or infinite doubles.
Result<std::string> ToJson(const Value& value);

}  // namespace zenml::core

#endif  // ZENML_CORE_VALUE_H_
