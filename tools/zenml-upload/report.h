// Report: what one zenml-upload invocation ended with, printed exactly once
// (Emit): one line on stderr for humans and, with --json, one JSON object on
// stdout (docs/schemas/zenml-upload.schema.json, "schema": 1), whatever the
// outcome and exit code.
//
// Quiet semantics (for cron and systemd): with --quiet the stderr line is
// printed only for exit codes an operator must act on, i.e. all but 0 (done)
// and 75 (try later: the next run retries).
//
// Thread-compatible; plain values.

#ifndef ZENML_TOOLS_ZENML_UPLOAD_REPORT_H_
#define ZENML_TOOLS_ZENML_UPLOAD_REPORT_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "core/status.h"
#include "uploader/uploader.h"

namespace zenml::tools {

// The air-gap commands' facts (--to-file, --from-file).
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

// --requeue-dead-letters: what was put back (dead_letter_commands.h).
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

struct Report {
  // uploader::UploadOutcomeName, or one of the tool's own: "busy" (another
  // upload runs), "to_file", "requeued", "usage_error", "error" (the spool,
  // a file or
  // the tool failed: see exit_code and detail).
  std::string outcome;
  int exit_code = 0;
  uploader::UploadSummary summary;  // counts; zero where they do not apply
  std::optional<BundleReport> bundle;
  std::optional<BundlesReport> bundles;  // --from-file DIR only
  std::optional<RequeueReport> requeue;  // --requeue-dead-letters only
  // The stderr line without the "zenml-upload: " prefix; empty: none.
  std::string line;
};

// A report of an uploader run (outcome, counts, the summary line).
Report ReportOf(const uploader::UploadSummary& summary);

// A report of a failure before or instead of a run: outcome "error" (or the
// given one), the message as detail and line.
Report ErrorReport(const core::Status& status, int exit_code,
                   std::string outcome = "error");

// The JSON object, on one line, without a newline.
std::string ReportJson(const Report& report);

// Whether the stderr line is printed: always without --quiet; with it, only
// for an exit code an operator must act on (not 0, not 75).
bool Loud(int exit_code, bool quiet);

// Prints `report` (see the file comment); returns its exit code.
int Emit(const Report& report, bool json, bool quiet, std::ostream& out,
         std::ostream& err);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_UPLOAD_REPORT_H_
