#include "uploader/uploader.h"

#include <algorithm>
#include <cctype>
#include <span>
#include <utility>
#include <vector>

#include "core/exit_code.h"
#include "core/timestamp.h"
#include "spool/spool_hold.h"
#include "uploader/gzip.h"
#include "uploader/request_feed.h"
#include "uploader/response_policy.h"

namespace zenml::uploader {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                 (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                 (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string FormatDelay(milliseconds d) {
  return std::to_string(d.count() / 1000) + "." +
         std::to_string(d.count() % 1000 / 100) + " s";
}

// `key` with all but its first four characters (none if it is short)
// replaced by '*'.
std::string MaskKey(std::string_view key) {
  size_t keep = key.size() > 8 ? 4 : 0;
  return std::string(key.substr(0, keep)) + std::string(key.size() - keep, '*');
}

// Requests' worth of events read per spool transaction (RequestFeed). An
// open, an Ack and a Peek cost far more than a request on loopback; a crash
// resends at most about twice this many requests, with the same messageIds.
constexpr size_t kRequestsPerPeek = 10;

// "1 request", "2 requests".
std::string Plural(uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

// What one attempt at a range of messages ended with.
enum class Step { kNext, kStop };

}  // namespace

std::string_view UploadOutcomeName(UploadOutcome outcome) {
  switch (outcome) {
    case UploadOutcome::kSuccess:
      return "success";
    case UploadOutcome::kNothingToSend:
      return "nothing_to_send";
    case UploadOutcome::kOptedOut:
      return "opted_out";
    case UploadOutcome::kRetryLater:
      return "retry";
    case UploadOutcome::kRateLimited:
      return "rate_limited";
    case UploadOutcome::kKeyRejected:
      return "key_rejected";
    case UploadOutcome::kConfigError:
      return "config_error";
    case UploadOutcome::kDryRun:
      return "dry_run";
    case UploadOutcome::kRejected:
      return "rejected";
    case UploadOutcome::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

int ExitCodeFor(UploadOutcome outcome) {
  switch (outcome) {
    case UploadOutcome::kSuccess:
    case UploadOutcome::kNothingToSend:
    case UploadOutcome::kOptedOut:
    case UploadOutcome::kDryRun:
      return core::kExitOk;
    case UploadOutcome::kRetryLater:
    case UploadOutcome::kRateLimited:
    case UploadOutcome::kInterrupted:
      return core::kExitTempFail;
    case UploadOutcome::kKeyRejected:
      return core::kExitNoPerm;
    case UploadOutcome::kConfigError:
      return core::kExitConfig;
    case UploadOutcome::kRejected:
      return core::kExitUnavailable;
  }
  return core::kExitTempFail;
}

std::string RedactWriteKey(std::string_view key) {
  std::string len = " (" + std::to_string(key.size()) + " chars)";
  if (key.size() <= 8) return "****" + len;
  return std::string(key.substr(0, 4)) + "…" + len;
}

core::Status CheckEndpoint(std::string_view url) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(c));
    return out;
  };
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string_view::npos
                           ? std::string()
                           : lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return core::Status::FailedPrecondition(
        "the endpoint \"" + std::string(url) +
        "\" is not an http:// or https:// URL");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  size_t host_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, host_end);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.empty() || authority.front() == ':') {
    return core::Status::FailedPrecondition(
        "the endpoint \"" + std::string(url) + "\" has no host name");
  }
  return core::Status::OK();
}

std::string BasicAuthorization(std::string_view write_key) {
  std::string user_pass(write_key);
  user_pass += ':';
  return "Basic " + Base64(user_pass);
}

// The state of one Run: counts, the budget, the backoff, the request feed.
class Uploader::RunState {
 public:
  explicit RunState(Uploader& u)
      : u_(u),
        opts_(u.options_),
        // A dry run prints its bodies: mask the key, keeping its length so
        // the bodies are laid out exactly as a real run would lay them out.
        body_key_(opts_.dry_run ? MaskKey(opts_.write_key) : opts_.write_key),
        builder_(body_key_, opts_.max_request_bytes, opts_.max_batch_messages),
        backoff_(opts_.backoff, opts_.random),
        deadline_(u.clock_.Monotonic() + opts_.max_time),
        authorization_(BasicAuthorization(opts_.write_key)) {}
  ~RunState() {
    if (feed_) static_cast<void>(feed_->Stop());  // Run reported its error
    hold_.Release();
  }
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;

  core::Result<UploadSummary> Run() {
    ZENML_TRY_ASSIGN(spool::SpoolStats stats, u_.spool_.Stats());
    if (stats.count == 0 && stats.inbox_files == 0) {
      summary_.outcome = UploadOutcome::kNothingToSend;
      summary_.detail = "the spool is empty";
      return Finish(/*record=*/!opts_.dry_run);
    }
    if (stats.not_before && !opts_.dry_run) {
      auto wait = stats.not_before.value() - u_.clock_.Now();
      if (wait.count() > 0) {
        if (wait > Left()) {
          summary_.outcome = UploadOutcome::kRateLimited;
          summary_.not_before = stats.not_before;
          summary_.detail = "rate limited by the server until " +
                            core::FormatTimestamp(stats.not_before.value());
          return Finish(true);
        }
        if (!Wait(std::chrono::ceil<milliseconds>(wait))) {
          Interrupted();
          return Finish(true);
        }
      }
    }

    RequestFeedOptions feed;
    feed.write_key = body_key_;
    feed.max_request_bytes = opts_.max_request_bytes;
    feed.max_batch_messages = opts_.max_batch_messages;
    feed.max_message_bytes = opts_.max_message_bytes;
    feed.gzip = opts_.gzip && !opts_.dry_run;  // a dry run prints the JSON
    feed.gzip_level = opts_.gzip_level;
    feed.requests_per_peek = kRequestsPerPeek;
    feed.max_ready = kRequestsPerPeek;
    feed.dry_run = opts_.dry_run;
    feed_.emplace(u_.spool_, u_.clock_, std::move(feed));

    bool stopped = false;
    while (!stopped) {
      if (StopRequested()) {
        Interrupted();
        break;
      }
      ZENML_TRY_ASSIGN(std::optional<PreparedRequest> next, feed_->Next());
      if (!next) {
        ZENML_TRY(DeadLetterRefused());  // the streak did not trip
        summary_.outcome =
            opts_.dry_run ? UploadOutcome::kDryRun : UploadOutcome::kSuccess;
        if (summary_.detail.empty()) {
          summary_.detail =
              opts_.dry_run
                  ? "dry run: " + Plural(summary_.requests, "request") +
                        " printed; nothing sent, deleted or recorded"
                  : "the spool is drained";
        }
        drained_ = !opts_.dry_run;
        break;
      }
      ZENML_TRY(SendPrepared(std::move(*next), stopped));
    }
    return Finish(!opts_.dry_run &&
                  summary_.outcome != UploadOutcome::kOptedOut);
  }

 private:
  milliseconds Left() const {
    return duration_cast<milliseconds>(deadline_ - u_.clock_.Monotonic());
  }

  bool Consents() const { return !opts_.consent || opts_.consent(); }

  bool StopRequested() const {
    return opts_.stop_requested && opts_.stop_requested();
  }

  Step Interrupted() {
    summary_.outcome = UploadOutcome::kInterrupted;
    summary_.detail =
        "stopped by a signal; what the server accepted is deleted, the rest "
        "kept for the next run";
    return Step::kStop;
  }

  // Sleeps `d`, looking at stop_requested every kStopPoll; false if it
  // asked to stop.
  bool Wait(milliseconds d) {
    while (d.count() > 0) {
      if (StopRequested()) return false;
      milliseconds step = std::min(d, kStopPoll);
      u_.clock_.SleepFor(step);
      d -= step;
    }
    return !StopRequested();
  }

  // Sends one prepared request, splitting it as the answers require. Sets
  // `stopped` when the run must stop.
  core::Status SendPrepared(PreparedRequest request, bool& stopped) {
    prepared_ = std::move(request);
    prepared_fresh_ = true;
    std::vector<const spool::Entry*> chunk;
    chunk.reserve(prepared_.entries.size());
    for (const spool::Entry& e : prepared_.entries) chunk.push_back(&e);
    // Ranges [begin, end) of `chunk` still to send, the next on top.
    std::vector<std::pair<size_t, size_t>> todo{{0, chunk.size()}};
    while (!todo.empty()) {
      auto [begin, end] = todo.back();
      todo.pop_back();
      ZENML_TRY_ASSIGN(Step step, SendRange(chunk, begin, end, todo));
      if (step == Step::kStop) {
        stopped = true;
        return core::Status::OK();
      }
    }
    return core::Status::OK();
  }

  // The body of the next attempt at `messages`: the feed's, for the first
  // attempt at a whole prepared request built less than kMaxPreparedAge ago;
  // else built now (a retry, a half, a body that waited too long).
  core::Result<std::string> AttemptBody(
      std::span<const std::string_view> messages, bool whole) {
    if (whole && prepared_fresh_) {
      prepared_fresh_ = false;
      if (u_.clock_.Monotonic() - prepared_.built_at < kMaxPreparedAge) {
        return std::move(prepared_.body);
      }
    }
    prepared_fresh_ = false;
    std::string body =
        builder_.BuildFor(messages, core::FormatTimestamp(u_.clock_.Now()));
    if (opts_.gzip && !opts_.dry_run) {
      return GzipCompress(body, opts_.gzip_level);
    }
    return body;
  }

  core::Result<Step> SendRange(const std::vector<const spool::Entry*>& chunk,
                               size_t begin, size_t end,
                               std::vector<std::pair<size_t, size_t>>& todo) {
    std::vector<std::string_view> messages;
    messages.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) messages.push_back(chunk[i]->json);
    const bool whole = begin == 0 && end == chunk.size();

    for (;;) {
      if (StopRequested()) return Interrupted();
      if (!Consents()) {
        if (opts_.dry_run) {
          summary_.outcome = UploadOutcome::kOptedOut;
          summary_.detail = "analytics are opted out (dry run: nothing purged)";
          return Step::kStop;
        }
        // So `purged` counts only unsent events: the Acks go first.
        ZENML_TRY(feed_->Stop());
        ZENML_TRY_ASSIGN(summary_.purged, u_.spool_.Purge());
        summary_.outcome = UploadOutcome::kOptedOut;
        summary_.detail = "analytics are opted out: purged " +
                          std::to_string(summary_.purged) + " pending events";
        return Step::kStop;
      }
      milliseconds left = Left();
      if (left.count() <= 0) {
        summary_.outcome = UploadOutcome::kRetryLater;
        summary_.detail = "the time budget is spent";
        return Step::kStop;
      }
      ZENML_TRY_ASSIGN(std::string body, AttemptBody(messages, whole));
      if (opts_.dry_run) {
        if (opts_.on_body) opts_.on_body(body);
        ++summary_.requests;  // that would be made
        return Step::kNext;
      }

      HttpRequest request;
      request.url = opts_.endpoint;
      request.headers = {{"Content-Type", "application/json"},
                         {"Authorization", authorization_},
                         {"User-Agent", opts_.user_agent}};
      if (opts_.gzip) request.headers.emplace_back("Content-Encoding", "gzip");
      request.body = std::move(body);
      request.connect_timeout = std::min(opts_.connect_timeout, left);
      request.timeout = std::min(opts_.request_timeout, left);

      // The spool is not held here: only the feed's short transactions take
      // it, and none of them waits for this request.
      core::Result<HttpResponse> answer = u_.transport_.Post(request);
      ++summary_.requests;
      ResponseDecision d =
          DecideResponse(answer, messages.size(), u_.clock_.Now());
      summary_.last_http_status = d.http_status;

      switch (d.action) {
        case UploadAction::kSuccess: {
          std::vector<std::string> keys;
          keys.reserve(end - begin);
          for (size_t i = begin; i < end; ++i) keys.push_back(chunk[i]->key);
          // Deleted with the feed's next transaction, at the latest before
          // any wait and at the end of the run.
          summary_.sent += keys.size();
          feed_->Ack(std::move(keys));
          ZENML_TRY(DeadLetterRefused());  // the server does accept some
          backoff_.Reset();
          Progress();
          return Step::kNext;
        }
        case UploadAction::kSplit: {
          size_t mid = begin + (end - begin) / 2;
          todo.emplace_back(mid, end);  // second half after the first
          todo.emplace_back(begin, mid);
          Progress();
          return Step::kNext;
        }
        case UploadAction::kDeadLetter:
          refused_.push_back({chunk[begin]->key, d.http_status, d.reason});
          Progress();
          if (refused_.size() >= kBreakerRejections) {
            summary_.outcome = UploadOutcome::kRejected;
            summary_.detail =
                "the server rejects every message (" +
                std::to_string(refused_.size()) +
                " refused alone in a row, none accepted; last " + d.reason +
                "); stopped with every remaining event kept; check the "
                "endpoint " +
                opts_.endpoint + " and any proxy";
            refused_.clear();  // kept in the spool, not dead-lettered
            return Step::kStop;
          }
          return Step::kNext;
        case UploadAction::kRetry: {
          Progress();
          milliseconds delay = duration_cast<milliseconds>(backoff_.Next());
          if (delay >= Left()) {
            summary_.outcome = UploadOutcome::kRetryLater;
            summary_.detail = d.reason + "; the next retry (in " +
                              FormatDelay(delay) +
                              ") would pass the time budget";
            return Step::kStop;
          }
          ZENML_TRY(feed_->FlushAcks());  // keep no delivered event waiting
          if (!Wait(delay)) return Interrupted();
          continue;
        }
        case UploadAction::kRateLimited: {
          Progress();
          milliseconds wait =
              d.wait ? duration_cast<milliseconds>(*d.wait)
                     : duration_cast<milliseconds>(backoff_.Next());
          if (wait >= Left()) {
            summary_.outcome = UploadOutcome::kRateLimited;
            summary_.not_before =
                u_.clock_.Now() + duration_cast<core::WallTime::duration>(wait);
            summary_.detail =
                d.reason + "; rate limited until " +
                core::FormatTimestamp(summary_.not_before.value());
            return Step::kStop;
          }
          ZENML_TRY(feed_->FlushAcks());
          if (!Wait(wait)) return Interrupted();
          continue;
        }
        case UploadAction::kConfigError:
          summary_.outcome = d.key_rejected ? UploadOutcome::kKeyRejected
                                            : UploadOutcome::kConfigError;
          if (d.key_rejected) {
            summary_.detail = d.reason + "; check the write key " +
                              RedactWriteKey(opts_.write_key) +
                              " and that the source is enabled";
          } else if (d.http_status != 0) {
            summary_.detail =
                d.reason + "; check the endpoint " + opts_.endpoint;
          } else {
            summary_.detail = d.reason + "; check the endpoint and --cacert";
          }
          return Step::kStop;
      }
    }
  }

  // Moves the messages refused alone so far to the dead-letter area: the
  // server accepted a later request, or the run drained the spool, so the
  // refusals were about those messages, not a server refusing everything.
  core::Status DeadLetterRefused() {
    for (const Refused& r : refused_) {
      ZENML_TRY(u_.spool_.DeadLetter(r.key, r.status, r.reason));
      ++dead_lettered_here_;
    }
    refused_.clear();
    return core::Status::OK();
  }

  // Dead letters: the feed's (too large to send) and this thread's (refused
  // alone by the server).
  void CountDeadLetters() {
    summary_.dead_lettered =
        dead_lettered_here_ + (feed_ ? feed_->dead_lettered() : 0);
  }

  void Progress() {
    CountDeadLetters();
    if (opts_.on_progress) opts_.on_progress(summary_);
  }

  core::Result<UploadSummary> Finish(bool record) {
    // Held first: the feed's last Release then leaves the database open for
    // the counts and the record below, instead of closing and reopening it.
    if (!opts_.dry_run) (void)hold_.Acquire();  // if it fails, the calls report
    if (feed_) {
      ZENML_TRY(feed_->Stop());  // applies the queued Acks
    }
    CountDeadLetters();
    if (summary_.outcome != UploadOutcome::kOptedOut) {
      ZENML_TRY_ASSIGN(spool::SpoolStats stats, u_.spool_.Stats());
      summary_.remaining = stats.count;
      if (drained_ && summary_.remaining > 0) {
        // The feed stopped chasing trackers (RequestFeed::kMaxHeadReads).
        summary_.detail =
            "caught up with the spool; events tracked during the run go "
            "with the next one";
      }
    }
    if (record) {
      spool::UploadRecord r;
      r.at = u_.clock_.Now();
      r.outcome = std::string(UploadOutcomeName(summary_.outcome));
      r.sent = summary_.sent;
      r.requests = summary_.requests;
      r.dead_lettered = summary_.dead_lettered;
      r.remaining = summary_.remaining;
      r.not_before = summary_.not_before;
      r.detail = summary_.detail;
      ZENML_TRY(u_.spool_.RecordUpload(r));
    }
    hold_.Release();
    return summary_;
  }

  Uploader& u_;
  const UploaderOptions& opts_;
  std::string body_key_;
  BatchBuilder builder_;  // for bodies built on this thread (retries, halves)
  core::Backoff backoff_;
  core::MonoTime deadline_;
  std::string authorization_;
  UploadSummary summary_;
  bool drained_ = false;  // the feed found the end of the run
  uint64_t dead_lettered_here_ = 0;
  // Messages refused alone since the last accepted request (the breaker's
  // streak), not yet dead-lettered.
  struct Refused {
    std::string key;
    int status = 0;
    std::string reason;
  };
  std::vector<Refused> refused_;
  // Finish()'s hold, across the feed's Stop, the counts and the record.
  spool::SpoolHold hold_{u_.spool_};
  std::optional<RequestFeed> feed_;
  PreparedRequest prepared_;     // the request being sent
  bool prepared_fresh_ = false;  // its body is unused so far
};

Uploader::Uploader(spool::Spool& spool, Transport& transport,
                   const core::Clock& clock, UploaderOptions options)
    : spool_(spool),
      transport_(transport),
      clock_(clock),
      options_(std::move(options)) {}

core::Result<UploadSummary> Uploader::Run() {
  RunState state(*this);
  return state.Run();
}

}  // namespace zenml::uploader
