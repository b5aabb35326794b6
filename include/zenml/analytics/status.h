// zenml::analytics::Status: the outcome of a call that can fail, as a value.
//
// Nothing in this library throws into its caller: every fallible call returns
// a Status (or a Result<T>, see result.h). An OK status carries no message.
// Copyable, movable, thread-compatible. C++17.
//
// This is the public twin of the library's internal status type (which
// depends on fmt and is C++20): the codes are the same, converted at the
// boundary, so the public headers need nothing but the standard library.

#ifndef ZENML_ANALYTICS_STATUS_H_
#define ZENML_ANALYTICS_STATUS_H_

#include <ostream>
#include <string>
#include <utility>

#include "zenml/analytics/export.h"

namespace zenml::analytics {

class ZENML_ANALYTICS_EXPORT [[nodiscard]] Status {
 public:
  // Coarse enough to decide what to do; the message says the rest.
  enum class Code {
    kOk = 0,
    kInvalidArgument,     // the caller's input is bad (e.g. an invalid event)
    kNotFound,            // a named thing does not exist
    kCorruption,          // stored data is damaged
    kIoError,             // the OS refused a read or write
    kBusy,                // another process holds a lock; try later
    kPermissionDenied,    // file ownership or mode
    kUnavailable,         // a service is unavailable
    kResourceExhausted,   // a bound was hit (queue full, spool full)
    kDeadlineExceeded,    // a time budget ran out (Flush)
    kFailedPrecondition,  // configuration is missing or wrong
    kInternal,            // a bug
  };

  Status() = default;  // OK
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "<code name>: <message>".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }
  friend bool operator!=(const Status& a, const Status& b) { return !(a == b); }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline std::ostream& operator<<(std::ostream& os, const Status& status) {
  return os << status.ToString();
}

}  // namespace zenml::analytics

#endif  // ZENML_ANALYTICS_STATUS_H_
