// zenml-upload --to-file and --from-file: the air-gap path
// (docs/bundle-format.md, docs/zenml-upload.md). Called by RunUpload once it
// has parsed the command line; kept apart so the network path stays as it is.

#ifndef ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_
#define ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_

#include <filesystem>
#include <ostream>

#include "uploader/uploader.h"

namespace zenml::tools {

// `--to-file BUNDLE`: drains the spool in `analytics_dir` into a new bundle
// (written, fsynced, renamed; only then acknowledged). The caller has
// checked consent. Takes the upload lock (another uploader running: says so,
// exits 0). Prints "zenml-upload: wrote N events in M batches to BUNDLE" on
// `err` unless `quiet`, and a JSON summary on `out` with `json`. Returns the
// exit code: 0, 74 (spool or file I/O), 75 (spool busy), 78 (BUNDLE exists).
int RunToFile(const std::filesystem::path& analytics_dir,
              const std::filesystem::path& bundle, bool json, bool quiet,
              std::ostream& out, std::ostream& err);

// `--from-file BUNDLE`: verifies BUNDLE (any damage: one line, exit 65,
// nothing sent), then sends it with `options` (endpoint, key, budget, ...)
// through curl, keeping its progress next to it (uploader/file_transport.h).
// Output and exit codes as for a spool upload.
int RunFromFile(const std::filesystem::path& bundle,
                uploader::UploaderOptions options, const std::string& cacert,
                bool json, bool quiet, std::ostream& out, std::ostream& err);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_
