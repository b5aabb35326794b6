// zenml::analytics::Value: a JSON-like value for event properties.
//
// One of null, bool, int64, double, string, array, or object (members kept in
// insertion order, so events serialize deterministically). Built from
// literals:
//
//   Value props = Value::Object{{"steps", 3}, {"gpu", true},
//                               {"tags", Value::Array{"a", "b"}}};
//
// Strings are bytes as given; Client::Track checks UTF-8 and size and returns
// InvalidArgument, never throws. A Value is a regular value type: copyable,
// movable, comparable; thread-compatible. C++17, standard library only.

#ifndef ZENML_ANALYTICS_VALUE_H_
#define ZENML_ANALYTICS_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "zenml/analytics/export.h"

namespace zenml::analytics {

class ZENML_ANALYTICS_EXPORT Value {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;  // ordered; Set() keeps keys unique

  Value() = default;           // null
  Value(std::nullptr_t) {}     // NOLINT: null
  Value(bool b) : data_(b) {}  // NOLINT
  // Any integer type but bool. Unsigned values above INT64_MAX become doubles.
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  Value(T i) {  // NOLINT
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (i > static_cast<T>(std::numeric_limits<int64_t>::max())) {
        data_ = static_cast<double>(i);
        return;
      }
    }
    data_ = static_cast<int64_t>(i);
  }
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
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

  // Calling the accessor of another type is a bug (std::get throws
  // std::bad_variant_access; check type() first).
  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_double() const { return std::get<double>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const Array& as_array() const { return std::get<Array>(data_); }
  Array& as_array() { return std::get<Array>(data_); }
  const Object& as_object() const { return std::get<Object>(data_); }
  Object& as_object() { return std::get<Object>(data_); }

  // Find: nullptr when this is not an object or has no such key. Set: turns
  // a null into an empty object first, replaces an existing key's value in
  // place or appends; a no-op on other types.
  const Value* Find(std::string_view key) const;
  void Set(std::string key, Value value);

  friend bool operator==(const Value& a, const Value& b) {
    return a.data_ == b.data_;
  }
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array,
               Object>
      data_;
};

}  // namespace zenml::analytics

#endif  // ZENML_ANALYTICS_VALUE_H_
