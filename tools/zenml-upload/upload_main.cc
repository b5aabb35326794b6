#include "tools/zenml-upload/upload_main.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <iostream>

#include "client/purge_request.h"
#include "core/clock.h"
#include "core/context.h"
#include "core/exit_code.h"
#include "spool/spool.h"
#include "tools/common/command_line.h"
#include "tools/zenml-upload/bundle_commands.h"
#include "tools/zenml-upload/dead_letter_commands.h"
#include "tools/zenml-upload/report.h"
#include "uploader/curl_transport.h"
#include "uploader/upload_job.h"
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

// The job the flags describe (uploader/upload_job.h owns every policy).
uploader::UploadJob JobOf(const Flags& flags, const core::Environment& env) {
  uploader::UploadJob job;
  job.env = &env;
  job.config_dir = flags.config_dir;
  job.config.write_key = flags.write_key;
  job.config.write_key_file = flags.write_key_file;
  job.config.endpoint = flags.endpoint;
  // An explicit --region beats the environment's endpoint.
  if (job.config.endpoint.empty() && flags.region == "eu") {
    job.config.endpoint = uploader::kEuEndpoint;
  } else if (job.config.endpoint.empty() && flags.region == "us") {
    job.config.endpoint = uploader::kDefaultEndpoint;
  }
  if (flags.max_time_given) job.max_time = flags.max_time;
  job.started = flags.started;
  job.request_timeout = flags.request_timeout;
  job.gzip = !flags.no_gzip;
  job.cacert = flags.cacert;
  job.dry_run = flags.dry_run;
  job.to_file = flags.to_file;
  job.from_file = flags.from_file;
  job.stop_requested = &StopRequested;
  job.honour_purge_request = [](const spool::SpoolOptions& options) {
    return client::HonourPurgeRequest(options);
  };
  return job;
}

Report Run(const Flags& flags, const core::Environment& env, bool progress,
           std::ostream& out, std::ostream& err) {
  uploader::UploadJob job = JobOf(flags, env);
  // With --json, stdout carries exactly one JSON object: the bodies go to
  // stderr.
  std::ostream& bodies = flags.json ? err : out;
  job.on_body = [&bodies](std::string_view body) { bodies << body << "\n"; };
  if (!flags.quiet) job.on_bundle = BundleProgressLines(err);

  const core::Clock& clock = core::RealClock();
  const core::MonoTime start = clock.Monotonic();
  bool progress_shown = false;
  if (progress && !flags.quiet && !flags.json && !flags.dry_run) {
    job.on_progress = [&](const uploader::UploadSummary& s) {
      // Only a long run earns a progress line.
      if (clock.Monotonic() - start < std::chrono::seconds(2)) return;
      progress_shown = true;
      err << fmt::format("\r{}: sent {} in {} request{}...", kTool, s.sent,
                         s.requests, s.requests == 1 ? "" : "s")
          << std::flush;
    };
  }

  auto report = uploader::RunUploadJob(job);
  if (progress_shown) err << "\r\033[K";
  if (!report.ok()) {
    return ErrorReport(report.status(), core::ExitCodeFor(report.status()));
  }
  return std::move(report).value();
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
