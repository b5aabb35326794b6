#include "uploader/upload_job.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <system_error>

#include "core/clock.h"
#include "core/config_dir.h"
#include "core/consent.h"
#include "core/consent_watcher.h"
#include "core/context.h"
#include "core/exit_code.h"
#include "uploader/curl_transport.h"
#include "uploader/ingest_consent.h"
#include "uploader/upload_lock.h"

namespace zenml::uploader {
namespace {

// A budget longer than this is no limit at all. The cap keeps a deadline
// (steady_clock's nanoseconds from boot, plus the budget) far inside int64:
// --max-time 1e11, or upload.yaml's `.inf`, overflowed it into the past.
constexpr double kMaxSeconds = 10.0 * 366 * 86400;

// The spool's write buffer while a run drains it: 16 times the default.
// 1,000,000 events drained: 2.4 s of zenml-upload CPU against 3.4 s with
// the default (docs/BENCHMARKS.md "Uploader"); the buffer and the one
// LevelDB flushes meanwhile add up to 8 MiB of memory.
constexpr size_t kDrainWriteBufferBytes = 4 << 20;

std::chrono::milliseconds Milliseconds(double seconds) {
  return std::chrono::milliseconds(
      std::llround(std::clamp(seconds, 0.0, kMaxSeconds) * 1000));
}

UploadReport ConfigError(const core::Status& status, int exit_code) {
  return ErrorReport(status, exit_code, "config_error");
}

// The settings in effect once upload.yaml has filled what the job left out.
struct Effective {
  std::string key;
  std::string endpoint;
  std::string cacert;
  double max_time = 60;
};

// What every send takes from the job, for the spool and a bundle alike.
UploaderOptions SendOptions(const UploadJob& job, const Effective& e) {
  UploaderOptions options;
  options.endpoint = e.endpoint;
  options.write_key = e.key;
  options.user_agent =
      fmt::format("zenml-analytics/{}", core::LibraryVersion());
  options.gzip = job.gzip;
  auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - job.started);
  options.max_time =
      std::max(Milliseconds(e.max_time) - spent, std::chrono::milliseconds(1));
  options.request_timeout = Milliseconds(job.request_timeout);
  options.stop_requested = job.stop_requested;
  return options;
}

// The report of a job stopped before sending for a missing write key,
// recorded in the spool (so `status` shows why nothing is uploaded).
UploadReport NoWriteKey(spool::Spool* spool) {
  UploadSummary s;
  s.outcome = UploadOutcome::kConfigError;
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
    r.outcome = std::string(UploadOutcomeName(s.outcome));
    r.remaining = s.remaining;
    r.detail = s.detail;
    static_cast<void>(spool->RecordUpload(r));  // the exit code says it all
  }
  UploadReport report = ReportOf(s);
  report.line = s.detail;
  return report;
}

UploadReport Busy() {
  UploadReport busy;
  busy.outcome = "busy";
  busy.summary.detail = "another upload is running; nothing to do";
  busy.line = busy.summary.detail;
  return busy;
}

UploadReport Nothing(std::string detail) {
  UploadSummary s;
  s.detail = std::move(detail);
  return ReportOf(s);
}

// Steps 1: the config dir, or the report of why there is none.
core::Result<std::filesystem::path> ConfigDir(const UploadJob& job,
                                              UploadReport* error) {
  std::error_code ec;
  if (!job.config_dir.empty()) {
    if (!std::filesystem::is_directory(job.config_dir, ec)) {
      *error = ConfigError(core::Status::FailedPrecondition(
                               "the config dir " + job.config_dir.string() +
                               " (--config-dir) does not exist"),
                           core::kExitConfig);
      return core::Status::NotFound("no config dir");
    }
    return job.config_dir;
  }
  auto dir = core::ResolveConfigDir(*job.env);
  if (!dir.ok()) *error = ConfigError(dir.status(), core::kExitConfig);
  return dir;
}

// Step 3, opted out: purge (unless a dry run) and report.
core::Result<UploadReport> OptedOut(const UploadJob& job,
                                    const core::Consent& consent,
                                    const spool::SpoolOptions& spool_options,
                                    bool have_spool) {
  uint64_t purged = 0;
  if (have_spool && !job.dry_run) {
    spool::Spool spool(spool_options);
    ZENML_TRY_ASSIGN(purged, spool.Purge());  // compacts: no bytes left
  }
  UploadSummary s;
  s.outcome = UploadOutcome::kOptedOut;
  s.purged = purged;
  s.detail = "analytics are opted out by " +
             std::string(core::ConsentSourceName(consent.source)) +
             (job.dry_run ? "; dry run: nothing purged" : "");
  return ReportOf(s);
}

// Step 7: the spool to the network, under the upload lock.
core::Result<UploadReport> SendSpool(const UploadJob& job, const Effective& e,
                                     const std::filesystem::path& config_dir,
                                     const spool::SpoolOptions& spool_options) {
  // One uploader at a time; the lock is held until we return.
  std::optional<UploadLock> lock;
  if (!job.dry_run) {
    ZENML_TRY_ASSIGN(std::optional<UploadLock> acquired,
                     UploadLock::TryAcquire(spool_options.dir));
    if (!acquired) return Busy();
    lock = std::move(acquired);
  }

  spool::Spool spool(spool_options);
  if (e.key.empty() && !job.dry_run) {
    // Nothing waiting: nothing to configure yet, and nothing for cron to
    // mail about.
    ZENML_TRY_ASSIGN(spool::SpoolStats stats, spool.Stats());
    if (stats.count == 0 && stats.inbox_files == 0) {
      return Nothing("the spool is empty (no write key is set)");
    }
    return NoWriteKey(&spool);
  }

  CurlTransport transport({.ca_file = e.cacert, .abort = job.stop_requested});
  UploaderOptions options = SendOptions(job, e);
  // Asked before every request: re-read config.yaml only when it changed.
  core::ConsentWatcher consent_watcher(config_dir, *job.env);
  options.consent = [&consent_watcher] { return consent_watcher.Allowed(); };
  options.dry_run = job.dry_run;
  options.on_body = job.on_body;
  if (!options.on_body) options.on_body = [](std::string_view) {};
  options.on_progress = job.on_progress;

  Uploader up(spool, transport, core::RealClock(), options);
  ZENML_TRY_ASSIGN(UploadSummary summary, up.Run());
  return ReportOf(summary);
}

}  // namespace

core::Result<UploadReport> RunUploadJob(const UploadJob& job) {
  UploadReport config_error;
  auto dir = ConfigDir(job, &config_error);
  if (!dir.ok()) return config_error;
  const std::filesystem::path config_dir = *dir;
  const std::filesystem::path analytics = core::AnalyticsDir(config_dir);
  spool::SpoolOptions spool_options;
  spool_options.dir = analytics;
  // No bounds set: the spool keeps the ones its writers stored, and applies
  // them only where events enter (inbox ingestion here), never to a read.
  // A drain deletes as it goes: a bigger write buffer makes fewer level-0
  // tables of tombstones for LevelDB to compact (spool.h).
  spool_options.write_buffer_bytes = kDrainWriteBufferBytes;
  // Inbox files are ingested only while the user consents, whichever step
  // below opens the spool (uploader/ingest_consent.h). Its own watcher: the
  // spool asks from the feed thread, the Uploader's `consent` from this one.
  IngestConsent ingest_consent(config_dir, *job.env);
  spool_options = ingest_consent.Guard(std::move(spool_options));

  const bool from_file = !job.from_file.empty();
  std::error_code ec;
  const bool have_spool = std::filesystem::exists(analytics, ec);
  // Step 2: an opt-out that found the spool busy left its purge to us,
  // before anything is sent.
  if (have_spool && !from_file && !job.dry_run && job.honour_purge_request) {
    ZENML_TRY(job.honour_purge_request(spool_options));
  }
  // Step 3: consent first: opted out means purge and leave.
  const core::Consent consent = core::DecideConsent(config_dir, *job.env);
  if (!consent.allowed && !from_file) {
    return OptedOut(job, consent, spool_options, have_spool);
  }

  // Step 4: the spool into a bundle, instead of the network.
  if (!job.to_file.empty()) {
    if (!have_spool) return Nothing("no spool yet; nothing to write");
    return RunToFile(spool_options, job.to_file);
  }

  // Step 5: the configuration, by the one precedence rule.
  auto resolved = ResolveUploadConfig(job.config, config_dir, *job.env);
  if (!resolved.ok()) {
    const core::Status& s = resolved.status();
    return ConfigError(s, s.code() == core::Status::Code::kFailedPrecondition
                              ? core::kExitConfig
                              : core::ExitCodeFor(s));
  }
  Effective e;
  e.key = resolved->write_key;
  e.endpoint = resolved->endpoint;
  e.cacert = job.cacert;
  if (e.cacert.empty() && resolved->file.ca_file) {
    e.cacert = *resolved->file.ca_file;
  }
  if (job.max_time) {
    e.max_time = *job.max_time;
  } else if (resolved->file.max_time) {
    e.max_time = *resolved->file.max_time;
  }
  if (core::Status s = CheckEndpoint(e.endpoint); !s.ok()) {
    return ConfigError(s, core::kExitConfig);
  }

  // Step 6: a bundle's events were recorded with consent where they were
  // spooled; this machine's own spool is not involved.
  if (from_file) {
    if (e.key.empty()) return NoWriteKey(nullptr);
    if (std::filesystem::is_directory(job.from_file, ec)) {
      return RunFromDirectory(
          job.from_file, [&] { return SendOptions(job, e); }, e.cacert,
          analytics, job.on_bundle);
    }
    return RunFromFile(job.from_file, SendOptions(job, e), e.cacert);
  }

  if (!have_spool) return Nothing("no spool yet");
  return SendSpool(job, e, config_dir, spool_options);
}

}  // namespace zenml::uploader
