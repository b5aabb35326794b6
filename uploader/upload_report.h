// UploadReport: what one upload job (uploader/upload_job.h) ended with, as
// plain values: the outcome's name, the exit code it maps to (sysexits,
// core/exit_code.h), the counts, the air-gap facts, and one human sentence.
// zenml-upload renders it (a stderr line, and with --json one object of
// docs/schemas/zenml-upload.schema.json, "schema": 1); nothing here prints.
//
// Thread-compatible; plain values.

#ifndef ZENML_UPLOADER_UPLOAD_REPORT_H_
#define ZENML_UPLOADER_UPLOAD_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "uploader/uploader.h"

namespace zenml::uploader {

// The air-gap facts (--to-file, --from-file).
struct BundleReport {
  std::string path;
  uint64_t messages = 0;  // events the bundle holds
  uint64_t batches = 0;
  std::string sha256;
  uint64_t acknowledged = 0;  // --to-file: deleted from the spool
  std::string progress_dir;   // --from-file: <bundle>.progress
};

// --from-file DIR: what became of the directory's bundles.
struct BundlesReport {
  std::string dir;
  uint64_t found = 0;             // *.bundle files in DIR
  uint64_t imported = 0;          // sent in full by this run
  uint64_t already_imported = 0;  // in the ledger: skipped
  uint64_t damaged = 0;           // failed verification: nothing sent
  uint64_t not_attempted = 0;     // left for the next run (a stop, 75, ...)
  std::string ledger;             // <analytics dir>/imported-bundles
};

// --requeue-dead-letters: what was put back.
struct RequeueReport {
  uint64_t requeued = 0;
  uint64_t first_seq = 0;  // 0 when none
  uint64_t last_seq = 0;
  uint64_t older = 0;         // dead-lettered before --since: left
  uint64_t left_no_room = 0;  // the spool at its bounds: left
  uint64_t unreadable = 0;
  uint64_t remaining_dead_letters = 0;
  uint64_t pending = 0;  // events waiting for the next upload, after it
  std::string since;     // RFC 3339, empty: no --since
};

struct UploadReport {
  // UploadOutcomeName, or one of the job's own: "busy" (another upload
  // runs), "to_file", "requeued", "config_error", "usage_error", "interrupted",
  // "error" (the spool, a file or the tool failed: see exit_code and detail).
  std::string outcome;
  int exit_code = 0;
  UploadSummary summary;  // counts; zero where they do not apply
  std::optional<BundleReport> bundle;
  std::optional<BundlesReport> bundles;  // --from-file DIR only
  std::optional<RequeueReport> requeue;  // --requeue-dead-letters only
  // One sentence for a person ("sent 3, requests 1, ..."); empty: none.
  std::string line;
};

// A report of an uploader run (outcome, counts, the summary sentence).
UploadReport ReportOf(const UploadSummary& summary);

// A report of a failure before or instead of a run: outcome "error" (or the
// given one), the message as detail and line.
UploadReport ErrorReport(const core::Status& status, int exit_code,
                         std::string outcome = "error");

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_UPLOAD_REPORT_H_
