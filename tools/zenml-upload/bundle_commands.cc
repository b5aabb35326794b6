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

constexpr char kTool[] = "zenml-upload";

int Fail(std::ostream& err, const core::Status& status) {
  err << kTool << ": " << status.message() << "\n";
  return core::ExitCodeFor(status);
}

}  // namespace

int RunToFile(const std::filesystem::path& analytics_dir,
              const std::filesystem::path& bundle, bool json, bool quiet,
              std::ostream& out, std::ostream& err) {
  auto acquired = uploader::UploadLock::TryAcquire(analytics_dir);
  if (!acquired.ok()) return Fail(err, acquired.status());
  if (!acquired->has_value()) {
    if (!quiet) err << kTool << ": another upload is running; nothing to do\n";
    return core::kExitOk;
  }
  spool::SpoolOptions spool_options;
  spool_options.dir = analytics_dir;
  spool::Spool spool(spool_options);
  uploader::ToFileOptions options;
  options.drain = true;
  options.origin = "zenml-upload --to-file";
  auto result = uploader::WriteSpoolToBundle(spool, bundle, options);
  if (!result.ok()) return Fail(err, result.status());

  // Recorded like an upload, so --stats and `status` show where events went.
  spool::UploadRecord record;
  record.at = core::RealClock().Now();
  record.outcome = "to_file";
  record.sent = result->acknowledged;
  record.detail = fmt::format("wrote {} events to {}", result->summary.messages,
                              bundle.string());
  if (auto stats = spool.Stats(); stats.ok()) record.remaining = stats->count;
  (void)spool.RecordUpload(record);

  if (json) {
    out << fmt::format(
        "{{\"outcome\":\"to_file\",\"bundle\":\"{}\",\"messages\":{},"
        "\"batches\":{},\"sha256\":\"{}\",\"acknowledged\":{},\"exit_code\":0}}"
        "\n",
        uploader::JsonEscape(bundle.string()), result->summary.messages,
        result->summary.batches, result->summary.sha256, result->acknowledged);
  }
  if (!quiet) {
    err << fmt::format("{}: wrote {} events in {} batches to {}\n", kTool,
                       result->summary.messages, result->summary.batches,
                       bundle.string());
  }
  return core::kExitOk;
}

int RunFromFile(const std::filesystem::path& bundle,
                uploader::UploaderOptions options, const std::string& cacert,
                bool json, bool quiet, std::ostream& out, std::ostream& err) {
  uploader::CurlTransport transport({.ca_file = cacert});
  auto result = uploader::SendBundle(bundle, transport, core::RealClock(),
                                     std::move(options));
  if (!result.ok()) return Fail(err, result.status());
  const uploader::UploadSummary& s = result->upload;
  int code = uploader::ExitCodeFor(s.outcome);
  if (json) {
    out << fmt::format(
        "{{\"outcome\":\"{}\",\"bundle\":\"{}\",\"messages\":{},\"sent\":{},"
        "\"requests\":{},\"dead_lettered\":{},\"remaining\":{},"
        "\"progress\":\"{}\",\"detail\":\"{}\",\"exit_code\":{}}}\n",
        uploader::UploadOutcomeName(s.outcome),
        uploader::JsonEscape(bundle.string()), result->bundle.messages, s.sent,
        s.requests, s.dead_lettered, s.remaining,
        uploader::JsonEscape(result->progress_dir.string()),
        uploader::JsonEscape(s.detail), code);
  }
  if (!quiet || code != core::kExitOk) {
    err << fmt::format(
        "{}: {}: sent {}, requests {}, dead-lettered {}, remaining {} of "
        "{}{}\n",
        kTool, bundle.string(), s.sent, s.requests, s.dead_lettered,
        s.remaining, result->bundle.messages,
        s.detail.empty() ? std::string() : " (" + s.detail + ")");
  }
  return code;
}

}  // namespace zenml::tools
