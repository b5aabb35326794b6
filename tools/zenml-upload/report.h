// Report: what one zenml-upload invocation ended with (the upload job's
// uploader::UploadReport), printed exactly once (Emit): one line on stderr for
// humans and, with --json, one JSON object on stdout
// (docs/schemas/zenml-upload.schema.json, "schema": 1), whatever the outcome
// and exit code.
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
#include "uploader/upload_report.h"

namespace zenml::tools {

// The report is the upload job's (uploader/upload_report.h); this tool only
// renders it.
using Report = uploader::UploadReport;
using uploader::BundleReport;
using uploader::BundlesReport;
using uploader::ErrorReport;
using uploader::ReportOf;
using uploader::RequeueReport;

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
