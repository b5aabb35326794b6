#include "tools/zenml-upload/report.h"

#include <fmt/format.h>

#include "core/exit_code.h"
#include "core/json_writer.h"
#include "core/timestamp.h"

namespace zenml::tools {
namespace {

constexpr char kTool[] = "zenml-upload";

std::string Quoted(std::string_view s) { return core::JsonString(s); }

}  // namespace

std::string ReportJson(const Report& report) {
  const uploader::UploadSummary& s = report.summary;
  std::string bundle = "null";
  if (report.bundle) {
    const BundleReport& b = *report.bundle;
    bundle = fmt::format(
        "{{\"path\":{},\"messages\":{},\"batches\":{},\"sha256\":{},"
        "\"acknowledged\":{},\"progress_dir\":{}}}",
        Quoted(b.path), b.messages, b.batches,
        b.sha256.empty() ? "null" : Quoted(b.sha256), b.acknowledged,
        b.progress_dir.empty() ? "null" : Quoted(b.progress_dir));
  }
  std::string bundles;  // the key only appears with --from-file DIR
  if (report.bundles) {
    const BundlesReport& b = *report.bundles;
    bundles = fmt::format(
        ",\"bundles\":{{\"dir\":{},\"found\":{},\"imported\":{},"
        "\"already_imported\":{},\"damaged\":{},\"not_attempted\":{},"
        "\"ledger\":{}}}",
        Quoted(b.dir), b.found, b.imported, b.already_imported, b.damaged,
        b.not_attempted, Quoted(b.ledger));
  }
  std::string requeue;  // the key only appears with --requeue-dead-letters
  if (report.requeue) {
    const RequeueReport& q = *report.requeue;
    requeue = fmt::format(
        ",\"requeue\":{{\"requeued\":{},\"first_seq\":{},\"last_seq\":{},"
        "\"older\":{},\"left_no_room\":{},\"unreadable\":{},"
        "\"remaining_dead_letters\":{},\"pending\":{},\"since\":{}}}",
        q.requeued, q.first_seq, q.last_seq, q.older, q.left_no_room,
        q.unreadable, q.remaining_dead_letters, q.pending,
        q.since.empty() ? "null" : Quoted(q.since));
  }
  return fmt::format(
      "{{\"schema\":1,\"tool\":\"{}\",\"outcome\":{},\"exit_code\":{},"
      "\"sent\":{},\"requests\":{},\"dead_lettered\":{},\"remaining\":{},"
      "\"purged\":{},\"last_http_status\":{},\"not_before\":{},"
      "\"detail\":{},\"bundle\":{}{}{}}}",
      kTool, Quoted(report.outcome), report.exit_code, s.sent, s.requests,
      s.dead_lettered, s.remaining, s.purged, s.last_http_status,
      s.not_before ? Quoted(core::FormatTimestamp(*s.not_before)) : "null",
      Quoted(s.detail), bundle, bundles, requeue);
}

bool Loud(int exit_code, bool quiet) {
  return !quiet ||
         (exit_code != core::kExitOk && exit_code != core::kExitTempFail);
}

int Emit(const Report& report, bool json, bool quiet, std::ostream& out,
         std::ostream& err) {
  if (json) out << ReportJson(report) << "\n" << std::flush;
  if (!report.line.empty() && Loud(report.exit_code, quiet)) {
    err << kTool << ": " << report.line << "\n";
  }
  return report.exit_code;
}

}  // namespace zenml::tools
