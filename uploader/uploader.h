// Uploader: one run of draining the spool to a Segment-compatible batch
// endpoint, deleting exactly what the server acknowledged.
//
// A run (DESIGN.md "Upload policy", segment-api.md):
//   1. If an earlier 429 stored a not-before time: wait for it if the budget
//      allows, else stop (kRateLimited, the time is kept).
//   2. Loop until the spool is empty or the budget (max_time) is spent, over
//      the requests a RequestFeed prepares in its own thread (request_feed.h):
//      it reads the spool ahead (up to ten requests' worth per transaction,
//      past the last key it read), lays the events out request by request
//      (BatchBuilder: <= 475,000 bytes, <= 500 messages), dead-letters at
//      once a message over 32,000 bytes (status 0: it is never sent), and
//      builds and gzips each body. For each request this thread re-checks
//      consent (opted out: purge the spool and stop), sends the prepared
//      body (rebuilt with a fresh sentAt if it waited kMaxPreparedAge, and
//      for every retry or half) through the Transport, and acts on
//      ResponsePolicy's decision:
//          kSuccess     queue exactly that request's keys for the feed's
//                       next transaction (flushed before any wait and at
//                       the end of the run)
//          kSplit       retry each half, in order
//          kDeadLetter  a single message refused alone: DeadLetter it with the
//                       status and the server's reason, once a later
//                       request is accepted or the spool is drained; the
//                       kBreakerRejections-th such refusal in a row stops
//                       the run (kRejected) with the streak kept
//          kRetry       wait the next Backoff delay and resend; if the delay
//                       would pass the budget, stop at once (kRetryLater)
//          kRateLimited wait Retry-After (<= 300 s) and resend if the budget
//                       allows; else store now+wait as not-before and stop
//          kConfigError stop, keep everything (kKeyRejected / kConfigError)
//   3. Store the run's UploadRecord in the spool (Spool::RecordUpload).
// The spool is held only for the feed's short transactions, none of which
// waits for a request, so trackers are never held up by a slow server. A
// crash loses at most the queued Acks (about a request's worth; up to a
// second's worth while LevelDB compacts level 0) and the request in flight:
// those events are resent next run. Messages are sent byte for byte as spooled,
// so a resend after a crash carries the same messageIds and Segment
// deduplicates it. Events appended during the run get higher keys and are
// only ever deleted after they were themselves sent.
//
// The caller owns the run's exclusivity (UploadLock) and injects the Clock,
// the Transport and the consent check. Thread-compatible: one Run at a time.

#ifndef ZENML_UPLOADER_UPLOADER_H_
#define ZENML_UPLOADER_UPLOADER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/result.h"
#include "spool/spool.h"
#include "uploader/batch_builder.h"
#include "uploader/transport.h"

namespace zenml::uploader {

inline constexpr std::string_view kDefaultEndpoint =
    "https://api.segment.io/v1/batch";
inline constexpr std::string_view kEuEndpoint =
    "https://events.eu1.segmentapis.com/v1/batch";

// How a run ended.
enum class UploadOutcome {
  kSuccess,        // the spool is empty (every event sent or dead-lettered)
  kNothingToSend,  // it was empty to begin with
  kOptedOut,       // consent withdrawn: the spool was purged, nothing sent
  kRetryLater,     // transient failures or the budget ran out; events kept
  kRateLimited,    // 429: not-before stored for the next run; events kept
  kKeyRejected,    // 401/403: write key refused or source disabled
  kConfigError,    // 404, a redirect, TLS/CA or URL problem
  kDryRun,         // --dry-run: bodies printed, nothing changed
  kRejected,       // the rejection breaker: the server refuses every message
  kInterrupted,    // stop_requested (SIGTERM, SIGINT, SIGHUP): acks applied
};
// "success", "nothing_to_send", "opted_out", "retry", "rate_limited",
// "key_rejected", "config_error", "dry_run", "rejected", "interrupted":
// stored in UploadRecord::outcome.
std::string_view UploadOutcomeName(UploadOutcome outcome);
// The tool's exit code (core/exit_code.h): 0 for success, nothing to send,
// opted out and dry run; 75 for retry later and rate limited; 77 key
// rejected; 78 config error; 69 (EX_UNAVAILABLE) rejected; 75 interrupted.
int ExitCodeFor(UploadOutcome outcome);

// The rejection breaker: a run stops (kRejected) when this many messages in
// a row were each refused on their own (a 4xx that splitting cannot cure)
// with no request accepted in between. Such refusals are only dead-lettered
// once the server has accepted a later request, or the run reached the end
// of the spool without the breaker tripping; a tripped run dead-letters
// none of its streak, so a server or proxy that refuses everything moves
// nothing out of the spool.
inline constexpr size_t kBreakerRejections = 3;

struct UploadSummary {
  UploadOutcome outcome = UploadOutcome::kNothingToSend;
  uint64_t sent = 0;           // events acknowledged by the server
  uint64_t requests = 0;       // HTTP requests made (answered or not); dry run:
                               // the bodies printed
  uint64_t dead_lettered = 0;  // events moved to the dead-letter area
  uint64_t remaining = 0;      // events pending at the end
  uint64_t purged = 0;         // kOptedOut: events deleted unsent
  int last_http_status = 0;    // of the last answer, 0 if none
  // After a 429 that outlasted the budget: no request before this time.
  std::optional<core::WallTime> not_before;
  std::string detail;  // one line for humans: why the run ended
};

struct UploaderOptions {
  std::string endpoint{kDefaultEndpoint};
  std::string write_key;  // required; never printed whole (RedactWriteKey)
  std::string user_agent = "zenml-analytics";
  bool gzip = true;  // Content-Encoding: gzip
  // gzip level (libdeflate). 1, not zlib's default 6: on 500 track messages
  // with random messageIds level 1 is about twice as fast for bodies ~13 %
  // larger (ratio ~11x against ~12x; docs/BENCHMARKS.md), and at level 6
  // compression was the largest cost of a drain once the spool's was cut.
  int gzip_level = 1;
  // The run's whole budget, waits included.
  std::chrono::milliseconds max_time{60'000};
  std::chrono::milliseconds connect_timeout{10'000};
  // One request's total timeout; never more than what is left of max_time.
  std::chrono::milliseconds request_timeout{30'000};
  size_t max_request_bytes = kMaxRequestBytes;
  size_t max_batch_messages = kMaxBatchMessages;
  size_t max_message_bytes = kMaxMessageBytes;
  core::BackoffOptions backoff;
  // Random source in [0, 1) for the backoff jitter; empty: a real one.
  std::function<double()> random;
  // Re-checked before every request; false means the user opted out.
  // Empty: always consents.
  std::function<bool()> consent;
  // Polled before every request and at least every kStopPoll during a wait;
  // true stops the run (kInterrupted): what the server accepted is deleted,
  // the run recorded, everything else kept. Must be cheap and thread-safe
  // (the tool reads an atomic its signal handler sets). The transport should
  // abort a request in flight on the same condition (CurlTransportOptions).
  // Empty: never.
  std::function<bool()> stop_requested;
  // Dry run: each body that would be sent goes to on_body (uncompressed,
  // with all but the first four characters of the writeKey masked as '*');
  // nothing is posted, acknowledged, dead-lettered, purged or recorded.
  bool dry_run = false;
  std::function<void(std::string_view body)> on_body;
  // Called after every request with the running counts (for a progress
  // line); `remaining` is not maintained during the run.
  std::function<void(const UploadSummary&)> on_progress;
};

// The write key for humans: its first four characters and its length
// ("abcd… (32 chars)"); keys of eight characters or fewer are fully masked.
std::string RedactWriteKey(std::string_view key);

// "Basic " + base64(key + ":"): Segment's HTTP Basic auth (empty password).
std::string BasicAuthorization(std::string_view write_key);

// OK for an http:// or https:// URL with a host; FailedPrecondition (a
// configuration error) otherwise: "notaurl" would reach libcurl as a host
// name and fail as a network error, retried until the budget is spent.
core::Status CheckEndpoint(std::string_view url);

// How often a wait (backoff, Retry-After, a stored not-before time) looks
// at stop_requested.
inline constexpr std::chrono::milliseconds kStopPoll{100};

class Uploader {
 public:
  // `spool`, `transport` and `clock` must outlive the Uploader.
  Uploader(spool::Spool& spool, Transport& transport, const core::Clock& clock,
           UploaderOptions options);

  // Runs once, as the file comment says. Network and server failures are
  // outcomes, not errors: Run fails only when the spool itself fails
  // (IoError, Busy, ...); what was acknowledged before is already deleted,
  // and anything sent but not yet acknowledged will be resent next run.
  core::Result<UploadSummary> Run();

 private:
  class RunState;
  spool::Spool& spool_;
  Transport& transport_;
  const core::Clock& clock_;
  UploaderOptions options_;
};

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_UPLOADER_H_
