// Status: the outcome of an operation that can fail, as a value.
//
// Modelled on leveldb::Status: nothing in this project throws into its caller;
// every fallible call returns a Status (or a Result<T>, see result.h). An OK
// status carries no message and allocates nothing. Status is a value type:
// copyable, movable, thread-compatible.

#ifndef ZENML_CORE_STATUS_H_
#define ZENML_CORE_STATUS_H_

#include <fmt/format.h>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace zenml::core {

class [[nodiscard]] Status {
 public:
  // What went wrong, coarse enough for a tool to pick an exit code from.
  enum class Code {
    kOk = 0,
    kInvalidArgument,     // the caller's input is bad (exit 64/65)
    kNotFound,            // a named thing does not exist
    kCorruption,          // stored data is damaged (exit 65 for bundles)
    kIoError,             // the OS refused a read or write (exit 74)
    kBusy,                // another process holds a lock; try later (exit 75)
    kPermissionDenied,    // file ownership/mode, or a rejected key (exit 77)
    kUnavailable,         // network or server unavailable (exit 69/75)
    kResourceExhausted,   // a bound was hit (queue full, spool full)
    kDeadlineExceeded,    // a time budget ran out
    kFailedPrecondition,  // configuration is missing or wrong (exit 78)
    kInternal,            // a bug
  };

  // The OK status.
  Status() = default;
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) {
    return {Code::kNotFound, std::move(msg)};
  }
  static Status Corruption(std::string msg) {
    return {Code::kCorruption, std::move(msg)};
  }
  static Status IoError(std::string msg) {
    return {Code::kIoError, std::move(msg)};
  }
  static Status Busy(std::string msg) { return {Code::kBusy, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status Unavailable(std::string msg) {
    return {Code::kUnavailable, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {Code::kResourceExhausted, std::move(msg)};
  }
  static Status DeadlineExceeded(std::string msg) {
    return {Code::kDeadlineExceeded, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {Code::kFailedPrecondition, std::move(msg)};
  }
  static Status Internal(std::string msg) {
    return {Code::kInternal, std::move(msg)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "<code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// "IO error", "Busy", ...: the human name of a code.
std::string_view CodeName(Status::Code code);

// Writes ToString(), so gtest and streams print a Status readably.
inline std::ostream& operator<<(std::ostream& os, const Status& status) {
  return os << status.ToString();
}

}  // namespace zenml::core

template <>
struct fmt::formatter<zenml::core::Status> : fmt::formatter<std::string> {
  template <typename FormatContext>
  auto format(const zenml::core::Status& s, FormatContext& ctx) const {
    return fmt::formatter<std::string>::format(s.ToString(), ctx);
  }
};

#endif  // ZENML_CORE_STATUS_H_
