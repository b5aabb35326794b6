// Result<T>: a T or the Status that explains why there is none.
//
// std::expected is not available on this toolchain (g++ 12, C++20). A Result
// is either ok() and holds a value, or holds a non-OK Status. Accessing the
// value of a failed Result is a bug (asserted in debug builds).
// Thread-compatible, like the T it holds.

#ifndef ZENML_CORE_RESULT_H_
#define ZENML_CORE_RESULT_H_

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/status.h"

namespace zenml::core {

template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit from a value and from a (non-OK) Status, so functions can
  // `return value;` or `return Status::IoError(...)`.
  Result(T value) : data_(std::move(value)) {}        // NOLINT
  Result(Status status) : data_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(data_).ok() && "Result from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  // OK when a value is held.
  Status status() const {
    return ok() ? Status::OK() : std::get<Status>(data_);
  }

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

}  // namespace zenml::core

#define ZENML_CONCAT_INNER_(a, b) a##b
#define ZENML_CONCAT_(a, b) ZENML_CONCAT_INNER_(a, b)

// ZENML_TRY(expr): returns expr's Status from the enclosing function unless OK.
// expr may be a Status or a Result<T>.
#define ZENML_TRY(expr)                                               \
  do {                                                                \
    auto&& zenml_try_ = (expr);                                       \
    if (!zenml_try_.ok()) return ::zenml::core::ToStatus(zenml_try_); \
  } while (false)

// ZENML_TRY_ASSIGN(lhs, expr): evaluates a Result<T>; on failure returns its
// Status, otherwise moves the value into lhs (which may be a declaration).
#define ZENML_TRY_ASSIGN(lhs, expr)                         \
  auto ZENML_CONCAT_(zenml_result_, __LINE__) = (expr);     \
  if (!ZENML_CONCAT_(zenml_result_, __LINE__).ok())         \
    return ZENML_CONCAT_(zenml_result_, __LINE__).status(); \
  lhs = std::move(ZENML_CONCAT_(zenml_result_, __LINE__)).value()

namespace zenml::core {
inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace zenml::core

#endif  // ZENML_CORE_RESULT_H_
