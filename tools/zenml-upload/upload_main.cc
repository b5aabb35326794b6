#include "tools/zenml-upload/upload_main.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>

#include "core/clock.h"
#include "core/config_dir.h"
#include "core/consent.h"
#include "core/consent_watcher.h"
#include "core/context.h"
#include "core/exit_code.h"
#include "core/timestamp.h"
#include "spool/spool.h"
#include "tools/common/command_line.h"
#include "tools/zenml-upload/bundle_commands.h"
#include "uploader/batch_builder.h"
#include "uploader/curl_transport.h"
#include "uploader/upload_lock.h"
#include "uploader/uploader.h"

#ifndef ZENML_SEGMENT_WRITE_KEY
#define ZENML_SEGMENT_WRITE_KEY ""
#endif

namespace zenml::tools {
namespace {

constexpr char kTool[] = "zenml-upload";

struct Flags {
  std::string write_key;
  std::string endpoint;
  std::string region;
  double max_time = 60;
  double request_timeout = 30;
  bool no_gzip = false;
  std::string cacert;
  bool json = false;
  bool quiet = false;
  bool dry_run = false;
  std::string config_dir;
  std::string to_file;    // --to-file BUNDLE (bundle_commands.h)
  std::string from_file;  // --from-file BUNDLE
};

// Reports `status` once, as the one line the tool prints for a failure.
int Fail(std::ostream& err, const core::Status& status, int code = -1) {
  err << kTool << ": " << status.message() << "\n";
  return code >= 0 ? code : core::ExitCodeFor(status);
}

std::string JsonSummary(const uploader::UploadSummary& s, int exit_code) {
  std::string not_before =
      s.not_before ? "\"" + core::FormatTimestamp(*s.not_before) + "\""
                   : std::string("null");
  return fmt::format(
      "{{\"outcome\":\"{}\",\"sent\":{},\"requests\":{},\"dead_lettered\":{},"
      "\"remaining\":{},\"purged\":{},\"last_http_status\":{},"
      "\"not_before\":{},\"detail\":\"{}\",\"exit_code\":{}}}",
      uploader::UploadOutcomeName(s.outcome), s.sent, s.requests,
      s.dead_lettered, s.remaining, s.purged, s.last_http_status, not_before,
      uploader::JsonEscape(s.detail), exit_code);
}

std::string SummaryLine(const uploader::UploadSummary& s) {
  std::string line =
      fmt::format("{}: sent {}, requests {}, dead-lettered {}, remaining {}",
                  kTool, s.sent, s.requests, s.dead_lettered, s.remaining);
  using uploader::UploadOutcome;
  switch (s.outcome) {
    case UploadOutcome::kSuccess:
    case UploadOutcome::kNothingToSend:
    case UploadOutcome::kDryRun:
      break;
    case UploadOutcome::kOptedOut:
      line += fmt::format(", purged {}", s.purged);
      break;
    case UploadOutcome::kRateLimited:
    case UploadOutcome::kRetryLater:
      line += s.not_before
                  ? ", next retry " + core::FormatTimestamp(*s.not_before)
                  : std::string(", next retry: next run");
      break;
    case UploadOutcome::kKeyRejected:
    case UploadOutcome::kConfigError:
      break;
  }
  if (!s.detail.empty()) line += " (" + s.detail + ")";
  return line;
}

std::chrono::milliseconds Seconds(double s) {
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::llround(s * 1000)));
}

// What every send takes from the command line, for the spool and a bundle
// alike.
uploader::UploaderOptions SendOptions(const Flags& flags,
                                      const std::string& endpoint,
                                      const std::string& key) {
  uploader::UploaderOptions options;
  options.endpoint = endpoint;
  options.write_key = key;
  options.user_agent =
      fmt::format("zenml-analytics/{}", core::LibraryVersion());
  options.gzip = !flags.no_gzip;
  options.max_time = Seconds(flags.max_time);
  options.request_timeout = Seconds(flags.request_timeout);
  return options;
}

int Run(const Flags& flags, std::ostream& out, std::ostream& err,
        const core::Environment& env, bool progress) {
  if (flags.dry_run && (!flags.to_file.empty() || !flags.from_file.empty())) {
    return UsageError(
        kTool, "--dry-run does not combine with --to-file/--from-file", err);
  }
  // Where the spool is.
  std::filesystem::path config_dir;
  if (!flags.config_dir.empty()) {
    config_dir = flags.config_dir;
  } else {
    auto dir = core::ResolveConfigDir(env);
    if (!dir.ok()) return Fail(err, dir.status(), core::kExitConfig);
    config_dir = *dir;
  }
  std::filesystem::path analytics = core::AnalyticsDir(config_dir);
  spool::SpoolOptions spool_options;
  spool_options.dir = analytics;
  // No bounds set: the spool keeps the ones its writers stored, and applies
  // them only where events enter (inbox ingestion here), never to a read.

  // Consent first: opted out means purge and leave, whatever else is set.
  // (--from-file sends a bundle, not this spool: it skips this step.)
  core::Consent consent = core::DecideConsent(config_dir, env);
  std::error_code ec;
  bool have_spool = std::filesystem::exists(analytics, ec);
  if (!consent.allowed && flags.from_file.empty()) {
    uint64_t purged = 0;
    if (have_spool && !flags.dry_run) {
      spool::Spool spool(spool_options);
      auto n = spool.Purge();
      if (!n.ok()) return Fail(err, n.status());
      purged = *n;
    }
    uploader::UploadSummary s;
    s.outcome = uploader::UploadOutcome::kOptedOut;
    s.purged = purged;
    s.detail = "analytics are opted out by " +
               std::string(core::ConsentSourceName(consent.source)) +
               (flags.dry_run ? "; dry run: nothing purged" : "");
    if (flags.json) out << JsonSummary(s, core::kExitOk) << "\n";
    if (!flags.quiet) err << SummaryLine(s) << "\n";
    return core::kExitOk;
  }

  // Air gap: the spool into a bundle, instead of the network.
  if (!flags.to_file.empty()) {
    if (!have_spool) {
      err << kTool << ": no spool yet; nothing to write\n";
      return core::kExitOk;
    }
    return RunToFile(analytics, flags.to_file, flags.json, flags.quiet, out,
                     err);
  }

  // Configuration.
  std::string key = flags.write_key;
  if (key.empty()) key = env.Get("ZENML_SEGMENT_WRITE_KEY").value_or("");
  if (key.empty()) key = ZENML_SEGMENT_WRITE_KEY;
  if (key.empty() && !flags.dry_run) {
    err << kTool
        << ": no Segment write key: pass --write-key or set "
           "ZENML_SEGMENT_WRITE_KEY\n";
    return core::kExitConfig;
  }
  std::string endpoint = flags.endpoint;
  // An explicit --region beats the environment's endpoint.
  if (endpoint.empty() && flags.region == "eu") {
    endpoint = uploader::kEuEndpoint;
  } else if (endpoint.empty() && flags.region == "us") {
    endpoint = uploader::kDefaultEndpoint;
  }
  if (endpoint.empty()) {
    endpoint = env.Get("ZENML_ANALYTICS_ENDPOINT").value_or("");
  }
  if (endpoint.empty()) endpoint = uploader::kDefaultEndpoint;

  if (!flags.from_file.empty()) {
    // A bundle's events were recorded with consent where they were spooled;
    // this machine's own spool is not involved.
    uploader::UploaderOptions options = SendOptions(flags, endpoint, key);
    return RunFromFile(flags.from_file, std::move(options), flags.cacert,
                       flags.json, flags.quiet, out, err);
  }

  if (!have_spool) {
    uploader::UploadSummary s;
    s.detail = "no spool yet";
    if (flags.json) out << JsonSummary(s, core::kExitOk) << "\n";
    if (!flags.quiet) err << SummaryLine(s) << "\n";
    return core::kExitOk;
  }

  // One uploader at a time; the lock is held until we return.
  std::optional<uploader::UploadLock> lock;
  if (!flags.dry_run) {
    auto acquired = uploader::UploadLock::TryAcquire(analytics);
    if (!acquired.ok()) return Fail(err, acquired.status());
    if (!acquired->has_value()) {
      if (flags.json) {
        out << "{\"outcome\":\"busy\",\"detail\":\"another upload is "
               "running\",\"exit_code\":0}\n";
      }
      if (!flags.quiet) {
        err << kTool << ": another upload is running; nothing to do\n";
      }
      return core::kExitOk;
    }
    lock = std::move(**acquired);
  }

  spool::Spool spool(spool_options);
  uploader::CurlTransport transport({.ca_file = flags.cacert});
  uploader::UploaderOptions options = SendOptions(flags, endpoint, key);
  // Asked before every request: re-read config.yaml only when it changed.
  core::ConsentWatcher consent_watcher(config_dir, env);
  options.consent = [&consent_watcher] { return consent_watcher.Allowed(); };
  options.dry_run = flags.dry_run;
  options.on_body = [&out](std::string_view body) { out << body << "\n"; };

  const core::Clock& clock = core::RealClock();
  core::MonoTime start = clock.Monotonic();
  bool progress_shown = false;
  if (progress && !flags.quiet && !flags.json && !flags.dry_run) {
    options.on_progress = [&](const uploader::UploadSummary& s) {
      // Only a long run earns a progress line.
      if (clock.Monotonic() - start < std::chrono::seconds(2)) return;
      progress_shown = true;
      err << fmt::format("\r{}: sent {} in {} requests...", kTool, s.sent,
                         s.requests)
          << std::flush;
    };
  }

  uploader::Uploader up(spool, transport, clock, options);
  auto result = up.Run();
  if (progress_shown) err << "\r\033[K";
  if (!result.ok()) return Fail(err, result.status());
  const uploader::UploadSummary& s = *result;
  int code = uploader::ExitCodeFor(s.outcome);
  if (flags.json) out << JsonSummary(s, code) << "\n";
  if (!flags.quiet || code != core::kExitOk) err << SummaryLine(s) << "\n";
  return code;
}

}  // namespace

int RunUpload(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err, const core::Environment& env, bool progress) {
  try {
    Flags flags;
    CLI::App app(
        "Send the spooled ZenML usage-analytics events to Segment's batch API\n"
        "(or any Segment-compatible collector) and delete exactly what the\n"
        "server acknowledged.",
        kTool);
    app.set_version_flag(
        "--version",
        fmt::format("{} {} ({})", kTool, core::LibraryVersion(),
                    uploader::CurlTransport::Version()),
        "Print the version and exit");
    app.add_option("--write-key", flags.write_key,
                   "Segment write key (default: $ZENML_SEGMENT_WRITE_KEY, "
                   "then the built-in key)");
    auto* endpoint = app.add_option(
        "--endpoint", flags.endpoint,
        "Batch endpoint URL (default: $ZENML_ANALYTICS_ENDPOINT, then "
        "https://api.segment.io/v1/batch)");
    app.add_option("--region", flags.region,
                   "Segment region: us (default) or eu "
                   "(https://events.eu1.segmentapis.com/v1/batch)")
        ->check(CLI::IsMember({"us", "eu"}))
        ->excludes(endpoint);
    app.add_option("--max-time", flags.max_time,
                   "Time budget of the whole run, in seconds (default 60)")
        ->check(CLI::PositiveNumber);
    app.add_option("--request-timeout", flags.request_timeout,
                   "Timeout of one request, in seconds (default 30)")
        ->check(CLI::PositiveNumber);
    app.add_flag("--no-gzip", flags.no_gzip, "Send bodies uncompressed");
    app.add_option("--cacert", flags.cacert,
                   "PEM file of CA certificates to trust instead of the "
                   "system's")
        ->check(CLI::ExistingFile);
    app.add_flag("--json", flags.json,
                 "Print a machine-readable summary on stdout");
    app.add_flag("--quiet,-q", flags.quiet,
                 "Print nothing unless the run fails (for cron)");
    app.add_flag("--dry-run", flags.dry_run,
                 "Print the request bodies that would be sent; send, delete "
                 "and record nothing");
    auto* to_file = app.add_option(
        "--to-file", flags.to_file,
        "Air gap: drain the spool into a new bundle file instead of the "
        "network (docs/bundle-format.md)");
    auto* from_file = app.add_option(
        "--from-file", flags.from_file,
        "Air gap: send a bundle made by --to-file; a rerun sends only what "
        "was not acknowledged (progress in BUNDLE.progress/)");
    to_file->excludes(from_file)->excludes(endpoint);
    app.add_option("--config-dir", flags.config_dir,
                   "ZenML config dir (default: $ZENML_CONFIG_PATH, "
                   "$XDG_CONFIG_HOME/zenml, ~/.config/zenml)");
    app.footer(
        "Exit status: 0 done (also nothing to send, opted out, another upload\n"
        "running), 64 usage, 74 spool I/O error, 75 try later (network, 5xx,\n"
        "429, time budget), 77 write key rejected, 78 configuration error.\n"
        "See docs/zenml-upload.md.");
    if (auto exit_code = ParseCommandLine(app, args, kTool, out, err)) {
      return *exit_code;
    }
    return Run(flags, out, err, env, progress);
  } catch (const std::exception& e) {
    err << kTool << ": internal error: " << e.what() << "\n";
    return core::kExitSoftware;
  }
}

int UploadMain(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return RunUpload(args, std::cout, std::cerr, core::ProcessEnvironment(),
                   ::isatty(2) == 1);
}

}  // namespace zenml::tools
