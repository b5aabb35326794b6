#include "uploader/response_policy.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace zenml::uploader {
namespace {

constexpr size_t kMaxReasonBytes = 200;

// The server's body as one short line: Segment's error bodies are plain text
// or JSON and not stable, so they are kept for humans, never parsed.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (out.size() >= kMaxReasonBytes) break;
    auto u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (u >= 0x20 && u != 0x7f) {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string Reason(int status, std::string_view body) {
  std::string line = OneLine(body);
  std::string out = "HTTP " + std::to_string(status);
  if (!line.empty()) out += ": " + line;
  return out;
}

bool IsTransient(int status) {
  if (status == 408 || status == 410 || status == 460) return true;
  return status >= 500 && status <= 599 && status != 501 && status != 505;
}

}  // namespace

std::string_view UploadActionName(UploadAction action) {
  switch (action) {
    case UploadAction::kSuccess:
      return "success";
    case UploadAction::kRetry:
      return "retry";
    case UploadAction::kRateLimited:
      return "rate_limited";
    case UploadAction::kSplit:
      return "split";
    case UploadAction::kDeadLetter:
      return "dead_letter";
    case UploadAction::kConfigError:
      return "config_error";
  }
  return "unknown";
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value,
                                                    core::WallTime now) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value[0]))) {
    value.remove_prefix(1);
  }
  while (!value.empty() &&
         std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value[0]))) {
    int64_t secs = 0;
    auto [end, ec] =
        std::from_chars(value.data(), value.data() + value.size(), secs);
    if (ec == std::errc::result_out_of_range) {
      return std::chrono::seconds(INT32_MAX);  // absurd but valid: "long"
    }
    if (ec != std::errc() || end != value.data() + value.size()) {
      return std::nullopt;
    }
    return std::chrono::seconds(secs);
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7).
  std::string text(value);
  char wday[4] = {}, mon[4] = {}, zone[4] = {};
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  if (std::sscanf(text.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", wday, &day, mon,
                  &year, &hh, &mm, &ss, zone) != 8 ||
      std::strcmp(zone, "GMT") != 0) {
    return std::nullopt;
  }
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::strcmp(mon, kMonths[i]) == 0) month = i;
  }
  // A 4-digit year (RFC 9110's IMF-fixdate); without the bound, year 20157
  // overflowed the nanosecond clock below (found by fuzz_response).
  if (month < 0 || day < 1 || day > 31 || year < 1000 || year > 9999 ||
      hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60) {
    return std::nullopt;
  }
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  const time_t when = timegm(&tm);
  // In whole seconds: system_clock counts nanoseconds, which overflow
  // after 2262. ceil(when - now) for a whole-second `when`:
  const int64_t secs =
      static_cast<int64_t>(when) -
      std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  return std::chrono::seconds(secs > 0 ? secs : 0);
}

ResponseDecision DecideResponse(const core::Result<HttpResponse>& answer,
                                size_t message_count, core::WallTime now) {
  ResponseDecision d;
  if (!answer.ok()) {
    const core::Status& s = answer.status();
    d.reason = s.message();
    d.action = s.code() == core::Status::Code::kFailedPrecondition
                   ? UploadAction::kConfigError
                   : UploadAction::kRetry;
    return d;
  }
  const HttpResponse& r = answer.value();
  d.http_status = r.status;
  d.reason = Reason(r.status, r.body);
  if (r.status >= 200 && r.status <= 299) {
    d.action = UploadAction::kSuccess;
  } else if (r.status == 429) {
    d.action = UploadAction::kRateLimited;
    if (auto h = r.Header("Retry-After")) {
      if (auto w = ParseRetryAfter(*h, now)) {
        d.wait = std::clamp(*w, std::chrono::seconds(kMinRetryAfter),
                            std::chrono::seconds(kMaxRetryAfter));
      }
    }
  } else if (r.status == 401 || r.status == 403) {
    d.action = UploadAction::kConfigError;
    d.key_rejected = true;
  } else if (r.status == 404 || (r.status >= 300 && r.status <= 399)) {
    d.action = UploadAction::kConfigError;
  } else if (IsTransient(r.status)) {
    d.action = UploadAction::kRetry;
  } else {
    d.action =
        message_count > 1 ? UploadAction::kSplit : UploadAction::kDeadLetter;
  }
  return d;
}

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(k[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return v;
  }
  return std::nullopt;
}

}  // namespace zenml::uploader
