// Exit codes of the tools (sysexits.h values, DESIGN.md "Exit codes") and the
// one place that maps a Status to one. Every tool's page in docs/ lists them.

#ifndef ZENML_CORE_EXIT_CODE_H_
#define ZENML_CORE_EXIT_CODE_H_

#include "core/status.h"

namespace zenml::core {

enum ExitCode : int {
  // done; also nothing to send, opted out, another uploader running
  kExitOk = 0,
  kExitUsage = 64,        // bad command line
  kExitDataErr = 65,      // bad input data (corrupt bundle, invalid event)
  kExitUnavailable = 69,  // endpoint unavailable
  kExitSoftware = 70,     // internal error (a bug)
  kExitIoErr = 74,        // I/O error on the spool or config
  kExitTempFail = 75,  // temporary failure, try later (network, 5xx, 429, busy)
  kExitNoPerm = 77,    // permission: write key rejected, file ownership
  kExitConfig = 78,    // configuration error (no write key, bad config)
};

// The exit code a tool uses for a failed Status (kExitOk for OK).
inline int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return kExitOk;
    case Status::Code::kInvalidArgument:
    case Status::Code::kCorruption:
      return kExitDataErr;
    case Status::Code::kNotFound:
    case Status::Code::kIoError:
    case Status::Code::kInternal:
      return kExitIoErr;
    case Status::Code::kBusy:
    case Status::Code::kResourceExhausted:
    case Status::Code::kDeadlineExceeded:
      return kExitTempFail;
    case Status::Code::kUnavailable:
      return kExitUnavailable;
    case Status::Code::kPermissionDenied:
      return kExitNoPerm;
    case Status::Code::kFailedPrecondition:
      return kExitConfig;
  }
  return kExitIoErr;
}

}  // namespace zenml::core

#endif  // ZENML_CORE_EXIT_CODE_H_
