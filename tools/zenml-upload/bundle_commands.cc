#include "tools/zenml-upload/bundle_commands.h"

#include <fmt/format.h>

#include <optional>

#include "core/clock.h"
#include "core/exit_code.h"
#include "spool/spool.h"
#include "uploader/batch_builder.h"
#include "uploader/curl_transport.h"
#include "uploader/file_transport.h"
#include "uploader/upload_lock.h"

namespace zenml::tools {
namespace {

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

Report RunToFile(const std::filesystem::path& analytics_dir,
                 const std::filesystem::path& bundle) {
  auto acquired = uploader::UploadLock::TryAcquire(analytics_dir);
  if (!acquired.ok()) {
    return ErrorReport(acquired.status(), core::ExitCodeFor(acquired.status()));
  }
  if (!acquired->has_value()) {
    Report busy;
    busy.outcome = "busy";
    busy.summary.detail = "another upload is running; nothing to do";
    busy.line = busy.summary.detail;
    return busy;
  }
  spool::SpoolOptions spool_options;
  spool_options.dir = analytics_dir;
  spool::Spool spool(spool_options);
  uploader::ToFileOptions options;
  options.drain = true;
  options.origin = "zenml-upload --to-file";
  auto result = uploader::WriteSpoolToBundle(spool, bundle, options);
  if (!result.ok()) {
    return ErrorReport(result.status(), core::ExitCodeFor(result.status()));
  }

  // Recorded like an upload, so --stats and `status` show where events went.
  spool::UploadRecord record;
  record.at = core::RealClock().Now();
  record.outcome = "to_file";
  record.sent = result->acknowledged;
  record.detail = fmt::format("wrote {} events to {}", result->summary.messages,
                              bundle.string());
  if (auto stats = spool.Stats(); stats.ok()) record.remaining = stats->count;
  (void)spool.RecordUpload(record);

  Report r;
  r.outcome = "to_file";
  r.summary.sent = result->acknowledged;
  r.summary.remaining = record.remaining;
  r.summary.detail = record.detail;
  r.bundle = BundleReport{.path = bundle.string(),
                          .messages = result->summary.messages,
                          .batches = result->summary.batches,
                          .sha256 = result->summary.sha256,
                          .acknowledged = result->acknowledged,
                          .progress_dir = {}};
  r.line = fmt::format("wrote {} in {} to {}",
                       Plural(result->summary.messages, "event", "events"),
                       Plural(result->summary.batches, "batch", "batches"),
                       bundle.string());
  return r;
}

Report RunFromFile(const std::filesystem::path& bundle,
                   uploader::UploaderOptions options,
                   const std::string& cacert) {
  uploader::CurlTransport transport(
      {.ca_file = cacert, .abort = options.stop_requested});
  auto result = uploader::SendBundle(bundle, transport, core::RealClock(),
                                     std::move(options));
  if (!result.ok()) {
    return ErrorReport(result.status(), core::ExitCodeFor(result.status()));
  }
  const uploader::UploadSummary& s = result->upload;
  Report r = ReportOf(s);
  r.bundle = BundleReport{.path = bundle.string(),
                          .messages = result->bundle.messages,
                          .batches = result->bundle.batches,
                          .sha256 = result->bundle.sha256,
                          .acknowledged = s.sent,
                          .progress_dir = result->progress_dir.string()};
  r.line = fmt::format(
      "{}: sent {}, requests {}, dead-lettered {}, remaining {} of {}{}",
      bundle.string(), s.sent, s.requests, s.dead_lettered, s.remaining,
      result->bundle.messages,
      s.detail.empty() ? std::string() : " (" + s.detail + ")");
  return r;
}

}  // namespace zenml::tools
