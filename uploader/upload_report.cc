#include "uploader/upload_report.h"

#include <fmt/format.h>

#include "core/timestamp.h"

namespace zenml::uploader {
namespace {

std::string SummaryLine(const UploadSummary& s) {
  std::string line =
      fmt::format("sent {}, requests {}, dead-lettered {}, remaining {}",
                  s.sent, s.requests, s.dead_lettered, s.remaining);
  switch (s.outcome) {
    case UploadOutcome::kOptedOut:
      line += fmt::format(", purged {}", s.purged);
      break;
    case UploadOutcome::kRateLimited:
    case UploadOutcome::kRetryLater:
      line += s.not_before
                  ? ", next retry " + core::FormatTimestamp(*s.not_before)
                  : std::string(", next retry: next run");
      break;
    default:
      break;
  }
  if (!s.detail.empty()) line += " (" + s.detail + ")";
  return line;
}

}  // namespace

UploadReport ReportOf(const UploadSummary& summary) {
  UploadReport r;
  r.outcome = std::string(UploadOutcomeName(summary.outcome));
  r.exit_code = ExitCodeFor(summary.outcome);
  r.summary = summary;
  r.line = SummaryLine(summary);
  return r;
}

UploadReport ErrorReport(const core::Status& status, int exit_code,
                         std::string outcome) {
  UploadReport r;
  r.outcome = std::move(outcome);
  r.exit_code = exit_code;
  r.summary.detail = status.message();
  r.line = status.message();
  return r;
}

}  // namespace zenml::uploader
