// ResponsePolicy: what the uploader does with one answer (or transport
// error). A pure function of the answer, the number of messages in the
// request and `now`, tested with a table (segment-api.md "Responses"):
//
//   2xx                                        kSuccess: ack exactly the
//                                              request's messages
//   429                                        kRateLimited: wait Retry-After
//                                              (capped at 300 s); not a retry
//   408, 410, 460, 5xx except 501/505,         kRetry: jittered exponential
//   any transport error but a configuration    backoff within the budget
//   one
//   400, 413, 501, 505, other 4xx and any      kSplit (more than one message)
//   other status                               or kDeadLetter (one message):
//                                              the request or one message in
//                                              it is bad
//   401, 403                                   kConfigError (key rejected or
//                                              source disabled: exit 77)
//   404, 3xx (redirects are not followed:      kConfigError (wrong endpoint,
//   a moved endpoint is a wrong one),          TLS/CA setup: exit 78)
//   transport kFailedPrecondition
//
// Thread-safe (stateless).

#ifndef ZENML_UPLOADER_RESPONSE_POLICY_H_
#define ZENML_UPLOADER_RESPONSE_POLICY_H_

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "uploader/transport.h"

namespace zenml::uploader {

enum class UploadAction {
  kSuccess,
  kRetry,
  kRateLimited,
  kSplit,
  kDeadLetter,
  kConfigError,
};
std::string_view UploadActionName(UploadAction action);  // "success", ...

inline constexpr std::chrono::seconds kMaxRetryAfter{300};
// The shortest Retry-After honoured: "0" (or a date in the past) would turn
// a 429 into a tight loop of requests against a server asking for less.
inline constexpr std::chrono::seconds kMinRetryAfter{1};

struct ResponseDecision {
  UploadAction action = UploadAction::kRetry;
  // kRateLimited: how long to wait, from Retry-After, held within
  // [kMinRetryAfter, kMaxRetryAfter]; nullopt when the server sent no usable
  // Retry-After (the caller then waits its backoff delay).
  std::optional<std::chrono::seconds> wait;
  // kConfigError: true when the write key was refused (401/403, exit 77),
  // false for a wrong endpoint or TLS setup (exit 78).
  bool key_rejected = false;
  // The HTTP status, 0 for a transport error.
  int http_status = 0;
  // One line for humans and dead letters: the server's reason (its body,
  // single-lined and truncated to 200 bytes) or the transport error.
  std::string reason;
};

// Parses a Retry-After value: delta-seconds ("120") or an IMF-fixdate
// ("Wed, 21 Oct 2015 07:28:00 GMT", relative to `now`; a date in the past is
// 0 s). nullopt if it is neither. Not capped.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value,
                                                    core::WallTime now);

// Decides what to do with the answer to a request of `message_count`
// messages.
ResponseDecision DecideResponse(const core::Result<HttpResponse>& answer,
                                size_t message_count, core::WallTime now);

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_RESPONSE_POLICY_H_
