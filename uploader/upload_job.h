// RunUploadJob: the upload use case, whole, in one place. zenml-upload (and
// any other front end) parses its flags into an UploadJob and renders the
// UploadReport; every policy is here:
//
//   1. the config dir: the job's, which must exist (a mistyped path is not an
//      empty spool), else core::ResolveConfigDir;
//   2. a purge request left by an opt-out that found the spool busy is
//      honoured before anything else (client/purge_request.h, through
//      `honour_purge_request`: it lives in client/, a sibling layer);
//   3. consent (core::DecideConsent): opted out means purge the spool and
//      stop, whatever else is set (--from-file, whose bundle was recorded
//      with consent elsewhere, skips 2 and 3);
//   4. --to-file: the spool into a bundle (uploader/bundle_job.h);
//   5. the write key and endpoint by the one precedence rule
//      (uploader/upload_config.h: flags, environment, the user's upload.yaml,
//      the system's, built in), upload.yaml's max_time and ca_file filling
//      what the job leaves unset; an invalid endpoint is a config error;
//   6. --from-file: a bundle, or a directory of them, to the network;
//   7. the upload lock (one uploader at a time; another running: "busy",
//      exit 0), then the spool to the network, re-checking consent before
//      every request; the run is recorded in the spool (Uploader::Run, or
//      the missing-key record here), so `zenml-analytics status` shows it.
//
// Returns the report of a job that ran to a decision, including the
// configuration errors (outcome "config_error", exit 78) and a missing write
// key. A Status instead: the job failed on the way (the spool's or a file's
// I/O, a lock that cannot be taken): exit core::ExitCodeFor(status).
//
// Thread-compatible: one job at a time per UploadJob; the callbacks run on
// the calling thread. Never throws (but for allocation failure).

#ifndef ZENML_UPLOADER_UPLOAD_JOB_H_
#define ZENML_UPLOADER_UPLOAD_JOB_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/environment.h"
#include "core/result.h"
#include "spool/spool.h"
#include "uploader/bundle_job.h"
#include "uploader/upload_config.h"
#include "uploader/upload_report.h"
#include "uploader/uploader.h"

namespace zenml::uploader {

struct UploadJob {
  // Required: where variables are read (ZENML_CONFIG_PATH, the key, ...).
  const core::Environment* env = nullptr;
  // Empty: resolved from `env`.
  std::filesystem::path config_dir;
  // --write-key, --write-key-file, --endpoint (a region already mapped to
  // its URL by the caller).
  UploadConfigFlags config;
  // Budget of the whole job in seconds; nullopt: upload.yaml's max_time,
  // then 60. Counted from `started`, so opening the spool and checking
  // consent come out of it too. Over 10 years (infinity included) counts
  // as 10 years, as does request_timeout: no limit, not an overflow.
  std::optional<double> max_time;
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();
  double request_timeout = 30;  // seconds, one request
  bool gzip = true;
  std::string cacert;  // empty: upload.yaml's ca_file, then the system's
  // Print (on_body) instead of sending; send, delete, purge and record
  // nothing. Not with to_file/from_file (the caller refuses that).
  bool dry_run = false;
  std::filesystem::path to_file;    // air gap: the spool into this bundle
  std::filesystem::path from_file;  // air gap: this bundle or directory
  // Asked before every request, during waits and inside a request: true
  // stops the job gracefully (outcome "interrupted", events kept).
  std::function<bool()> stop_requested;
  // Each request body, with dry_run (empty: dropped).
  std::function<void(std::string_view body)> on_body;
  // After each request of a spool upload.
  std::function<void(const UploadSummary&)> on_progress;
  // Each bundle of --from-file DIR.
  BundleProgress on_bundle;
  // Honours a pending purge request of the spool opened with these options
  // (client::HonourPurgeRequest); empty: none is honoured.
  std::function<core::Status(const spool::SpoolOptions&)> honour_purge_request;
};

core::Result<UploadReport> RunUploadJob(const UploadJob& job);

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_UPLOAD_JOB_H_
