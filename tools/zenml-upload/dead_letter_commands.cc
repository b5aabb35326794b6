#include "tools/zenml-upload/dead_letter_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <system_error>

#include "core/config_dir.h"
#include "core/duration.h"
#include "core/exit_code.h"
#include "core/timestamp.h"
#include "spool/spool.h"
#include "tools/common/command_line.h"
#include "tools/zenml-upload/report.h"
#include "uploader/ingest_consent.h"
#include "uploader/upload_lock.h"

namespace zenml::tools {
namespace {

constexpr char kTool[] = "zenml-upload";

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string RequeueLine(const RequeueReport& r) {
  std::string line =
      r.requeued == 0
          ? std::string("no dead letters requeued")
          : fmt::format("requeued {} (sequences {}-{}) for the next upload",
                        Plural(r.requeued, "dead letter", "dead letters"),
                        r.first_seq, r.last_seq);
  if (r.older > 0) {
    line += fmt::format("; {} before --since left", r.older);
  }
  if (r.left_no_room > 0) {
    line += fmt::format(
        "; {} left: the spool is at its bounds (upload, then requeue again)",
        r.left_no_room);
  }
  if (r.unreadable > 0)
    line += fmt::format("; {} unreadable left", r.unreadable);
  line += fmt::format("; dead letters left {}, pending {}",
                      r.remaining_dead_letters, r.pending);
  return line;
}

Report Requeue(const DeadLetterFlags& flags, const RequeueContext& context,
               const core::Environment& env) {
  std::optional<core::WallTime> since;
  if (!flags.since.empty()) {
    auto t = ParseSince(flags.since, core::RealClock().Now());
    if (!t.ok()) {
      return ErrorReport(t.status(), core::kExitUsage, "usage_error");
    }
    since = *t;
  }
  std::filesystem::path config_dir;
  std::error_code ec;
  if (!context.config_dir.empty()) {
    config_dir = context.config_dir;
    if (!std::filesystem::is_directory(config_dir, ec)) {
      return ErrorReport(core::Status::FailedPrecondition(
                             "the config dir " + config_dir.string() +
                             " (--config-dir) does not exist"),
                         core::kExitConfig, "config_error");
    }
  } else {
    auto dir = core::ResolveConfigDir(env);
    if (!dir.ok()) {
      return ErrorReport(dir.status(), core::kExitConfig, "config_error");
    }
    config_dir = *dir;
  }
  const std::filesystem::path analytics = core::AnalyticsDir(config_dir);
  Report report;
  report.outcome = "requeued";
  report.requeue = RequeueReport();
  RequeueReport& rq = *report.requeue;
  if (since) rq.since = core::FormatTimestamp(*since);
  if (!std::filesystem::exists(analytics / "spool", ec)) {
    report.summary.detail = "no spool yet";
    report.line = RequeueLine(rq) + " (no spool yet)";
    return report;
  }
  // No uploader may run meanwhile: its cursor is past the requeued keys.
  auto acquired = uploader::UploadLock::TryAcquire(analytics);
  if (!acquired.ok()) {
    return ErrorReport(acquired.status(), core::ExitCodeFor(acquired.status()));
  }
  if (!acquired->has_value()) {
    return ErrorReport(core::Status::Busy("another upload is running; "
                                          "requeue when it is done"),
                       core::kExitTempFail);
  }
  spool::SpoolOptions options;
  options.dir = analytics;
  // Requeueing ingests the inbox: never after the user opted out.
  uploader::IngestConsent consent(config_dir, env);
  spool::Spool spool(consent.Guard(std::move(options)));
  spool::RequeueOptions ro;
  ro.since = since;
  auto result = spool.RequeueDeadLetters(ro);
  if (!result.ok()) {
    return ErrorReport(result.status(), core::ExitCodeFor(result.status()));
  }
  rq.requeued = result->requeued;
  rq.first_seq = result->first_seq;
  rq.last_seq = result->last_seq;
  rq.older = result->older;
  rq.left_no_room = result->left_no_room;
  rq.unreadable = result->unreadable;
  rq.remaining_dead_letters = result->remaining;
  if (auto stats = spool.Stats(); stats.ok()) {
    rq.pending = stats->count + stats->inbox_events;
  }
  report.summary.remaining = rq.pending;
  report.line = RequeueLine(rq);
  report.summary.detail = report.line;
  return report;
}

}  // namespace

void AddDeadLetterFlags(CLI::App& app, DeadLetterFlags& flags) {
  auto* requeue = app.add_flag(
      "--requeue-dead-letters", flags.requeue,
      "Put the dead letters (events the server refused on their own) back "
      "into the queue, in their original order, for the next run; sends "
      "nothing");
  app.add_option("--since", flags.since,
                 "With --requeue-dead-letters: only those dead-lettered in "
                 "the last DURATION (90s, 30m, 2h, 7d, 1w) or since an "
                 "ISO-8601 UTC time")
      ->needs(requeue);
}

core::Result<core::WallTime> ParseSince(std::string_view text,
                                        core::WallTime now) {
  if (auto t = core::ParseTimestamp(text); t.ok()) return *t;
  // The tree's one duration grammar (core/duration.h).
  const std::optional<std::chrono::seconds> d = core::ParseDuration(text);
  if (!d) {
    return core::Status::InvalidArgument(
        fmt::format("--since {}: not a duration (90s, 30m, 2h, 7d, 1w) nor "
                    "an ISO-8601 UTC time (2026-11-30T12:00:00Z)",
                    text));
  }
  // At most 100 years back: anything longer means "everything" anyway, and
  // the time point stays in range.
  constexpr std::chrono::seconds kMaxBack{int64_t{100} * 366 * 86400};
  return now - std::min(*d, kMaxBack);
}

int RunRequeueDeadLetters(const DeadLetterFlags& flags,
                          const RequeueContext& context,
                          const core::Environment& env, std::ostream& out,
                          std::ostream& err) {
  if (context.conflicting) {
    constexpr char kWhy[] =
        "--requeue-dead-letters does not combine with --dry-run, --to-file "
        "or --from-file";
    int code = UsageError(kTool, kWhy, err);
    if (context.json) {
      out << ReportJson(ErrorReport(core::Status::InvalidArgument(kWhy), code,
                                    "usage_error"))
          << "\n";
    }
    return code;
  }
  return Emit(Requeue(flags, context, env), context.json, context.quiet, out,
              err);
}

}  // namespace zenml::tools
