#include "core/status.h"

namespace zenml::core {

std::string_view CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kInvalidArgument:
      return "Invalid argument";
    case Status::Code::kNotFound:
      return "Not found";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kIoError:
      return "IO error";
    case Status::Code::kBusy:
      return "Busy";
    case Status::Code::kPermissionDenied:
      return "Permission denied";
    case Status::Code::kUnavailable:
      return "Unavailable";
    case Status::Code::kResourceExhausted:
      return "Resource exhausted";
    case Status::Code::kDeadlineExceeded:
      return "Deadline exceeded";
    case Status::Code::kFailedPrecondition:
      return "Failed precondition";
    case Status::Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return fmt::format("{}: {}", CodeName(code_), message_);
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, fmt::format("{}: {}", context, message_));
}

}  // namespace zenml::core
