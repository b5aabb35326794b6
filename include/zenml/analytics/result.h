// zenml::analytics::Result<T>: a T, or the Status that explains why there is
// none.
//
// Either ok() and holds a value, or holds a non-OK Status. Reading the value
// of a failed Result is a bug (asserted in debug builds). Thread-compatible,
// like the T it holds. Header-only, C++17.

#ifndef ZENML_ANALYTICS_RESULT_H_
#define ZENML_ANALYTICS_RESULT_H_

#include <cassert>
#include <utility>
#include <variant>

#include "zenml/analytics/status.h"

namespace zenml::analytics {

template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit from a value and from a (non-OK) Status.
  Result(T value) : data_(std::move(value)) {}        // NOLINT
  Result(Status status) : data_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(data_).ok() && "Result from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(data_); }

  T& value() & {
    assert(ok());
    return std::get<T>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(data_));
  }
  T value_or(T fallback) const& { return ok() ? value() : fallback; }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace zenml::analytics

#endif  // ZENML_ANALYTICS_RESULT_H_
