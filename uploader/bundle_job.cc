#include "uploader/bundle_job.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <vector>

#include "core/clock.h"
#include "core/exit_code.h"
#include "core/timestamp.h"
#include "spool/spool.h"
#include "uploader/batch_builder.h"
#include "uploader/bundle.h"
#include "uploader/curl_transport.h"
#include "uploader/file_transport.h"
#include "uploader/upload_lock.h"

namespace zenml::uploader {
namespace {

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

constexpr char kLedgerName[] = "imported-bundles";

// The checksums in the ledger (first word of each line); none if absent.
std::set<std::string> ReadLedger(const std::filesystem::path& ledger) {
  std::set<std::string> done;
  std::ifstream in(ledger);
  std::string line;
  while (std::getline(in, line)) {
    auto word = line.substr(0, line.find(' '));
    if (!word.empty()) done.insert(word);
  }
  return done;
}

// Appends one line and fsyncs it: a bundle recorded is never sent again.
core::Status AppendLedger(const std::filesystem::path& ledger,
                          const std::string& line) {
  std::error_code ec;
  if (!std::filesystem::exists(ledger.parent_path(), ec)) {
    std::filesystem::create_directories(ledger.parent_path(), ec);
    if (!ec) {
      std::filesystem::permissions(ledger.parent_path(),
                                   std::filesystem::perms::owner_all, ec);
    }
  }
  int fd =
      ::open(ledger.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Status::IoError(
        fmt::format("{}: {}", ledger.string(), std::strerror(errno)));
  }
  bool ok = ::write(fd, line.data(), line.size()) ==
                static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    return core::Status::IoError(
        fmt::format("{}: {}", ledger.string(), std::strerror(saved)));
  }
  return core::Status::OK();
}

}  // namespace

UploadReport RunToFile(const spool::SpoolOptions& spool_options,
                       const std::filesystem::path& bundle) {
  const std::filesystem::path& analytics_dir = spool_options.dir;
  auto acquired = UploadLock::TryAcquire(analytics_dir);
  if (!acquired.ok()) {
    return ErrorReport(acquired.status(), core::ExitCodeFor(acquired.status()));
  }
  if (!acquired->has_value()) {
    UploadReport busy;
    busy.outcome = "busy";
    busy.summary.detail = "another upload is running; nothing to do";
    busy.line = busy.summary.detail;
    return busy;
  }
  spool::Spool spool(spool_options);
  ToFileOptions options;
  options.drain = true;
  options.origin = "zenml-upload --to-file";
  auto result = WriteSpoolToBundle(spool, bundle, options);
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

  UploadReport r;
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

UploadReport RunFromFile(const std::filesystem::path& bundle,
                         UploaderOptions options, const std::string& cacert) {
  CurlTransport transport({.ca_file = cacert, .abort = options.stop_requested});
  auto result =
      SendBundle(bundle, transport, core::RealClock(), std::move(options));
  if (!result.ok()) {
    return ErrorReport(result.status(), core::ExitCodeFor(result.status()));
  }
  const UploadSummary& s = result->upload;
  UploadReport r = ReportOf(s);
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

UploadReport RunFromDirectory(
    const std::filesystem::path& dir,
    const std::function<UploaderOptions()>& options_now,
    const std::string& cacert, const std::filesystem::path& analytics_dir,
    const BundleProgress& progress) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() == ".bundle" && it->is_regular_file()) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    return ErrorReport(core::Status::IoError(
                           fmt::format("{}: {}", dir.string(), ec.message())),
                       core::kExitIoErr);
  }
  std::sort(files.begin(), files.end());

  BundlesReport b;
  b.dir = dir.string();
  b.found = files.size();
  b.ledger = (analytics_dir / kLedgerName).string();
  // Grows as this run imports: a copy later in DIR is skipped too.
  std::set<std::string> done = ReadLedger(b.ledger);
  UploadSummary total;
  std::optional<UploadReport> stopped;  // the outcome that ended the run early
  std::string first_damage;
  auto say = [&](size_t i, const std::string& text) {
    if (progress) progress(i, files.size(), files[i].filename().string(), text);
  };
  for (size_t i = 0; i < files.size(); ++i) {
    auto verified = VerifyBundle(files[i]);
    if (!verified.ok()) {
      ++b.damaged;
      if (first_damage.empty()) first_damage = verified.status().message();
      say(i, "damaged, skipped: " + verified.status().message());
      continue;
    }
    if (done.count(verified->sha256) != 0) {
      ++b.already_imported;
      say(i, "already imported, skipped");
      continue;
    }
    UploaderOptions options = options_now();
    if (options.stop_requested && options.stop_requested()) {
      b.not_attempted = files.size() - i;
      stopped = ErrorReport(core::Status::Unavailable("stopped by a signal"),
                            core::kExitTempFail, "interrupted");
      break;
    }
    UploadReport one = RunFromFile(files[i], std::move(options), cacert);
    total.sent += one.summary.sent;
    total.requests += one.summary.requests;
    total.dead_lettered += one.summary.dead_lettered;
    total.last_http_status = one.summary.last_http_status;
    say(i, one.outcome + ": sent " + std::to_string(one.summary.sent) + " of " +
               std::to_string(one.bundle ? one.bundle->messages : 0));
    if (one.exit_code != core::kExitOk || one.summary.remaining != 0) {
      b.not_attempted = files.size() - i;  // this one is not done either
      total.remaining = one.summary.remaining;
      stopped = std::move(one);
      break;
    }
    core::Status recorded = AppendLedger(
        b.ledger, fmt::format("{} {} {}\n", verified->sha256,
                              files[i].filename().string(),
                              core::FormatTimestamp(core::RealClock().Now())));
    if (!recorded.ok()) {
      // Sent, but a rerun would not know: say so loudly.
      UploadReport r = ErrorReport(recorded, core::kExitIoErr);
      r.summary.sent = total.sent;
      r.bundles = b;
      return r;
    }
    done.insert(verified->sha256);
    ++b.imported;
  }

  UploadReport r;
  if (stopped) {
    r = std::move(*stopped);
    r.bundle.reset();
  } else if (b.damaged > 0) {
    r = ErrorReport(core::Status::Corruption(first_damage), core::kExitDataErr);
  } else {
    total.outcome = b.imported > 0 ? UploadOutcome::kSuccess
                                   : UploadOutcome::kNothingToSend;
    r = ReportOf(total);
  }
  UploadSummary counts = total;
  counts.not_before = r.summary.not_before;
  std::string why = r.summary.detail;
  r.summary = counts;
  r.bundles = b;
  r.line = fmt::format(
      "{}: {} bundle{}: {} imported, {} already imported, {} damaged, {} "
      "left; sent {} event{} in {} request{}{}",
      dir.string(), b.found, b.found == 1 ? "" : "s", b.imported,
      b.already_imported, b.damaged, b.not_attempted, total.sent,
      total.sent == 1 ? "" : "s", total.requests,
      total.requests == 1 ? "" : "s", why.empty() ? "" : " (" + why + ")");
  r.summary.detail = r.line;
  return r;
}

}  // namespace zenml::uploader
