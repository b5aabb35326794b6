// zenml-upload --to-file and --from-file: the air-gap path
// (docs/bundle-format.md, docs/zenml-upload.md). Called by RunUpload once it
// has parsed the command line; kept apart so the network path stays as it is.

#ifndef ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_
#define ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

#include "tools/zenml-upload/report.h"
#include "uploader/uploader.h"

namespace zenml::tools {

// `--to-file BUNDLE`: drains the spool in `analytics_dir` into a new bundle
// (written, fsynced, renamed; only then acknowledged). The caller has
// checked consent. Takes the upload lock (another uploader running: outcome
// "busy", exit 0). Returns the report ("wrote N events in M batches to
// BUNDLE"; exit 0, 74 spool or file I/O, 75 spool busy, 78 BUNDLE exists);
// the caller prints it.
Report RunToFile(const std::filesystem::path& analytics_dir,
                 const std::filesystem::path& bundle);

// `--from-file BUNDLE`: verifies BUNDLE (any damage: exit 65, nothing
// sent), then sends it with `options` (endpoint, key, budget, ...) through
// curl, keeping its progress next to it (uploader/file_transport.h).
// Outcomes and exit codes as for a spool upload.
Report RunFromFile(const std::filesystem::path& bundle,
                   uploader::UploaderOptions options,
                   const std::string& cacert);

// `--from-file DIR`: every `*.bundle` file directly in DIR (one per machine),
// in name order, each imported once. A bundle whose checksum is in the ledger
// `<analytics dir>/imported-bundles` (one line per bundle sent in full:
// sha256, name, time) is skipped, so a rerun, or the same bundle under
// another name, sends nothing twice; the ledger is on this machine, so DIR
// may be read-only media. A damaged bundle is skipped (nothing of it sent)
// and the others still go; the run exits 65 at the end. An outcome that
// the next bundle would meet too (75, 77, 78, 69, a stop) ends the run with
// that outcome; the rest are left for the next run. `options_now` gives each
// bundle's options (the budget left). One progress line per bundle goes to
// `progress` when it is not null.
Report RunFromDirectory(
    const std::filesystem::path& dir,
    const std::function<uploader::UploaderOptions()>& options_now,
    const std::string& cacert, const std::filesystem::path& analytics_dir,
    std::ostream* progress);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_
