#include "tools/zenml-upload/upload_main.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>

#include "client/purge_request.h"
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
#include "tools/zenml-upload/dead_letter_commands.h"
#include "tools/zenml-upload/report.h"
#include "uploader/batch_builder.h"
#include "uploader/curl_transport.h"
#include "uploader/upload_config.h"
#include "uploader/upload_lock.h"
#include "uploader/uploader.h"

namespace zenml::tools {
namespace {

constexpr char kTool[] = "zenml-upload";

// Graceful stop: set by the SIGTERM/SIGINT/SIGHUP handler UploadMain
// installs, read by the uploader before every request and during waits and
// by libcurl's progress callback during a request.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
pthread_t g_main_thread;

bool StopRequested() { return g_stop.load(std::memory_order_relaxed); }

extern "C" void OnStopSignal(int sig) {
  if (g_stop.exchange(true)) {
    // A second signal: the operator insists. Die of it at once.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  // The kernel may have picked any thread (LevelDB's, the request feed's):
  // pass the signal on to the main thread, so a poll() it is blocked in
  // returns now rather than at libcurl's next timeout.
  if (!pthread_equal(pthread_self(), g_main_thread)) {
    g_stop.store(false);
    ::pthread_kill(g_main_thread, sig);
  }
}

void InstallStopSignals() {
  g_main_thread = pthread_self();
  struct sigaction sa {};
  sa.sa_handler = &OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: interrupt the main thread's poll()
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

struct Flags {
  std::string write_key;
  std::string write_key_file;
  bool max_time_given = false;  // --max-time on the command line
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
  // When the tool started: --max-time counts from here, so opening the
  // spool and checking consent come out of the budget too.
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();
};

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
  auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - flags.started);
  options.max_time =
      std::max(Seconds(flags.max_time) - spent, std::chrono::milliseconds(1));
  options.request_timeout = Seconds(flags.request_timeout);
  options.stop_requested = &StopRequested;
  return options;
}

// The report of a run stopped before sending for a missing write key,
// recorded in the spool (so `status` shows why nothing is uploaded).
Report NoWriteKey(spool::Spool* spool) {
  uploader::UploadSummary s;
  s.outcome = uploader::UploadOutcome::kConfigError;
  s.detail =
      "no Segment write key: put write_key in <config dir>/analytics/"
      "upload.yaml (0600), or pass --write-key-file, or set "
      "ZENML_SEGMENT_WRITE_KEY";
  if (spool != nullptr) {
    if (auto stats = spool->Stats(); stats.ok()) {
      s.remaining = stats->count + stats->inbox_events;
    }
    spool::UploadRecord r;
    r.at = core::RealClock().Now();
    r.outcome = std::string(uploader::UploadOutcomeName(s.outcome));
    r.remaining = s.remaining;
    r.detail = s.detail;
    static_cast<void>(spool->RecordUpload(r));  // the exit code says it all
  }
  Report report = ReportOf(s);
  report.line = s.detail;
  return report;
}

Report Run(const Flags& flags, const core::Environment& env, bool progress,
           std::ostream& out, std::ostream& err) {
  // Where the spool is. A --config-dir that does not exist is a mistyped
  // path, not an empty spool: running "successfully" would hide it.
  std::filesystem::path config_dir;
  std::error_code ec;
  if (!flags.config_dir.empty()) {
    config_dir = flags.config_dir;
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
  std::filesystem::path analytics = core::AnalyticsDir(config_dir);
  spool::SpoolOptions spool_options;
  spool_options.dir = analytics;
  // No bounds set: the spool keeps the ones its writers stored, and applies
  // them only where events enter (inbox ingestion here), never to a read.

  // Consent first: opted out means purge and leave, whatever else is set.
  // (--from-file sends a bundle, not this spool: it skips this step.)
  core::Consent consent = core::DecideConsent(config_dir, env);
  bool have_spool = std::filesystem::exists(analytics, ec);
  // An opt-out that found the spool busy left its purge to us: before
  // anything is sent (client/purge_request.h).
  if (have_spool && flags.from_file.empty() && !flags.dry_run) {
    if (auto p = client::HonourPurgeRequest(spool_options); !p.ok()) {
      return ErrorReport(p, core::ExitCodeFor(p));
    }
  }
  if (!consent.allowed && flags.from_file.empty()) {
    uint64_t purged = 0;
    if (have_spool && !flags.dry_run) {
      spool::Spool spool(spool_options);
      auto n = spool.Purge();  // compacts: no bytes left in a table
      if (!n.ok())
        return ErrorReport(n.status(), core::ExitCodeFor(n.status()));
      purged = *n;
    }
    uploader::UploadSummary s;
    s.outcome = uploader::UploadOutcome::kOptedOut;
    s.purged = purged;
    s.detail = "analytics are opted out by " +
               std::string(core::ConsentSourceName(consent.source)) +
               (flags.dry_run ? "; dry run: nothing purged" : "");
    return ReportOf(s);
  }

  // Air gap: the spool into a bundle, instead of the network.
  if (!flags.to_file.empty()) {
    if (!have_spool) {
      uploader::UploadSummary s;
      s.detail = "no spool yet; nothing to write";
      return ReportOf(s);
    }
    return RunToFile(analytics, flags.to_file);
  }

  // Configuration: the command line, then the environment, then
  // upload.yaml, then what was built in (uploader/upload_config.h).
  uploader::UploadConfigFlags config_flags;
  config_flags.write_key = flags.write_key;
  config_flags.write_key_file = flags.write_key_file;
  config_flags.endpoint = flags.endpoint;
  // An explicit --region beats the environment's endpoint.
  if (config_flags.endpoint.empty() && flags.region == "eu") {
    config_flags.endpoint = uploader::kEuEndpoint;
  } else if (config_flags.endpoint.empty() && flags.region == "us") {
    config_flags.endpoint = uploader::kDefaultEndpoint;
  }
  auto resolved = uploader::ResolveUploadConfig(config_flags, config_dir, env);
  if (!resolved.ok()) {
    return ErrorReport(
        resolved.status(),
        resolved.status().code() == core::Status::Code::kFailedPrecondition
            ? core::kExitConfig
            : core::ExitCodeFor(resolved.status()),
        "config_error");
  }
  const uploader::UploadConfig& file_config = resolved->file;
  Flags effective = flags;  // with upload.yaml's values filled in
  if (!flags.max_time_given && file_config.max_time) {
    effective.max_time = *file_config.max_time;
  }
  if (effective.cacert.empty() && file_config.ca_file) {
    effective.cacert = *file_config.ca_file;
  }
  const std::string key = resolved->write_key;
  const std::string endpoint = resolved->endpoint;
  if (core::Status s = uploader::CheckEndpoint(endpoint); !s.ok()) {
    return ErrorReport(s, core::kExitConfig, "config_error");
  }

  if (!flags.from_file.empty()) {
    if (key.empty()) return NoWriteKey(nullptr);
    // A bundle's events were recorded with consent where they were spooled;
    // this machine's own spool is not involved.
    if (std::filesystem::is_directory(flags.from_file, ec)) {
      return RunFromDirectory(
          flags.from_file,
          [&] { return SendOptions(effective, endpoint, key); },
          effective.cacert, analytics, flags.quiet ? nullptr : &err);
    }
    uploader::UploaderOptions options = SendOptions(effective, endpoint, key);
    return RunFromFile(flags.from_file, std::move(options), effective.cacert);
  }

  if (!have_spool) {
    uploader::UploadSummary s;
    s.detail = "no spool yet";
    return ReportOf(s);
  }

  // One uploader at a time; the lock is held until we return.
  std::optional<uploader::UploadLock> lock;
  if (!flags.dry_run) {
    auto acquired = uploader::UploadLock::TryAcquire(analytics);
    if (!acquired.ok()) {
      return ErrorReport(acquired.status(),
                         core::ExitCodeFor(acquired.status()));
    }
    if (!acquired->has_value()) {
      Report busy;
      busy.outcome = "busy";
      busy.summary.detail = "another upload is running; nothing to do";
      busy.line = busy.summary.detail;
      return busy;
    }
    lock = std::move(**acquired);
  }

  spool::Spool spool(spool_options);
  if (key.empty() && !flags.dry_run) {
    // Nothing waiting: nothing to configure yet, and nothing for cron to
    // mail about.
    auto stats = spool.Stats();
    if (!stats.ok()) {
      return ErrorReport(stats.status(), core::ExitCodeFor(stats.status()));
    }
    if (stats->count == 0 && stats->inbox_files == 0) {
      uploader::UploadSummary s;
      s.detail = "the spool is empty (no write key is set)";
      return ReportOf(s);
    }
    return NoWriteKey(&spool);
  }

  uploader::CurlTransport transport(
      {.ca_file = effective.cacert, .abort = &StopRequested});
  uploader::UploaderOptions options = SendOptions(effective, endpoint, key);
  // Asked before every request: re-read config.yaml only when it changed.
  core::ConsentWatcher consent_watcher(config_dir, env);
  options.consent = [&consent_watcher] { return consent_watcher.Allowed(); };
  options.dry_run = flags.dry_run;
  // With --json, stdout carries exactly one JSON object: the bodies go to
  // stderr.
  std::ostream& bodies = flags.json ? err : out;
  options.on_body = [&bodies](std::string_view body) {
    bodies << body << "\n";
  };

  const core::Clock& clock = core::RealClock();
  core::MonoTime start = clock.Monotonic();
  bool progress_shown = false;
  if (progress && !flags.quiet && !flags.json && !flags.dry_run) {
    options.on_progress = [&](const uploader::UploadSummary& s) {
      // Only a long run earns a progress line.
      if (clock.Monotonic() - start < std::chrono::seconds(2)) return;
      progress_shown = true;
      err << fmt::format("\r{}: sent {} in {} request{}...", kTool, s.sent,
                         s.requests, s.requests == 1 ? "" : "s")
          << std::flush;
    };
  }

  uploader::Uploader up(spool, transport, clock, options);
  auto result = up.Run();
  if (progress_shown) err << "\r\033[K";
  if (!result.ok()) {
    return ErrorReport(result.status(), core::ExitCodeFor(result.status()));
  }
  return ReportOf(*result);
}

}  // namespace

int RunUpload(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err, const core::Environment& env, bool progress) {
  const bool json_wanted =
      std::find(args.begin(), args.end(), "--json") != args.end();
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
    auto* write_key = app.add_option(
        "--write-key", flags.write_key,
        "Segment write key (default: $ZENML_SEGMENT_WRITE_KEY, then "
        "write_key in <config dir>/analytics/upload.yaml, then in "
        "/etc/zenml/upload.yaml, then the built-in key). Visible to every "
        "local user in ps: prefer --write-key-file or "
        "upload.yaml");
    app.add_option("--write-key-file", flags.write_key_file,
                   "Read the write key from the first line of FILE (mode "
                   "0600 or 0400; refused if group or others may read it)")
        ->excludes(write_key);
    auto* endpoint = app.add_option(
        "--endpoint", flags.endpoint,
        "Batch endpoint URL (default: $ZENML_ANALYTICS_ENDPOINT, then "
        "endpoint in upload.yaml (yours, then /etc/zenml's), then "
        "https://api.segment.io/v1/batch)");
    app.add_option("--region", flags.region,
                   "Segment region: us (default) or eu "
                   "(https://events.eu1.segmentapis.com/v1/batch)")
        ->check(CLI::IsMember({"us", "eu"}))
        ->excludes(endpoint);
    auto* max_time =
        app.add_option("--max-time", flags.max_time,
                       "Time budget of the whole run, in seconds (default: "
                       "max_time in upload.yaml, then 60)")
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
                 "Print nothing unless an operator must act: silent on exit "
                 "0 and 75 (for cron)");
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
        "was not acknowledged (progress in BUNDLE.progress/). A directory: "
        "each *.bundle in it once (ledger <config dir>/analytics/"
        "imported-bundles)");
    to_file->excludes(from_file)->excludes(endpoint);
    app.add_option("--config-dir", flags.config_dir,
                   "ZenML config dir (default: $ZENML_CONFIG_PATH, "
                   "$XDG_CONFIG_HOME/zenml, ~/.config/zenml)");
    DeadLetterFlags dead_letters;
    AddDeadLetterFlags(app, dead_letters);
    app.footer(
        "Exit status: 0 done (also nothing to send, opted out, another upload\n"
        "running), 64 usage, 65 damaged bundle, 69 the server rejects every\n"
        "message (rejection breaker; events kept), 70 internal error,\n"
        "74 spool I/O error, 75 try later (network, 5xx, 429, time budget),\n"
        "77 write key rejected, 78 configuration error.\n"
        "See man zenml-upload (docs/zenml-upload.md in the sources).");
    if (auto exit_code = ParseCommandLine(app, args, kTool, out, err)) {
      if (*exit_code != core::kExitOk && json_wanted) {
        // The usage error is on stderr already; the JSON says only that.
        out << ReportJson(ErrorReport(core::Status::InvalidArgument(
                                          "bad command line (see stderr)"),
                                      *exit_code, "usage_error"))
            << "\n";
      }
      return *exit_code;
    }
    flags.max_time_given = max_time->count() > 0;
    if (dead_letters.requeue) {
      return RunRequeueDeadLetters(
          dead_letters,
          {flags.config_dir, flags.json, flags.quiet,
           flags.dry_run || !flags.to_file.empty() || !flags.from_file.empty()},
          env, out, err);
    }
    if (flags.dry_run && (!flags.to_file.empty() || !flags.from_file.empty())) {
      constexpr char kWhy[] =
          "--dry-run does not combine with --to-file/--from-file";
      int code = UsageError(kTool, kWhy, err);
      if (flags.json) {
        out << ReportJson(ErrorReport(core::Status::InvalidArgument(kWhy), code,
                                      "usage_error"))
            << "\n";
      }
      return code;
    }
    return Emit(Run(flags, env, progress, out, err), flags.json, flags.quiet,
                out, err);
  } catch (const std::exception& e) {
    Report internal = ErrorReport(
        core::Status::Internal(std::string("internal error: ") + e.what()),
        core::kExitSoftware);
    return Emit(internal, json_wanted, /*quiet=*/false, out, err);
  }
}

int UploadMain(int argc, char** argv) {
  InstallStopSignals();
  std::vector<std::string> args(argv + 1, argv + argc);
  return RunUpload(args, std::cout, std::cerr, core::ProcessEnvironment(),
                   ::isatty(2) == 1);
}

}  // namespace zenml::tools
