// zenml-upload --to-file and --from-file: the air-gap path
// (docs/bundle-format.md, docs/zenml-upload.md). Called by RunUpload once it
// has parsed the command line; kept apart so the network path stays as it is.

#ifndef ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_
#define ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_

#include <filesystem>
#include <ostream>

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

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_
