// zenml-upload --to-file and --from-file: the tool's side of the air-gap
// path (docs/bundle-format.md, docs/zenml-upload.md). The work is the upload
// job's (uploader/upload_job.h, uploader/bundle_job.h); the tool only
// renders its progress.

#ifndef ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_
#define ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_

#include <ostream>

#include "uploader/bundle_job.h"

namespace zenml::tools {

// `--from-file DIR`'s progress, one line per bundle on `err`:
// "zenml-upload: [2/3] a.bundle: already imported, skipped".
uploader::BundleProgress BundleProgressLines(std::ostream& err);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_UPLOAD_BUNDLE_COMMANDS_H_
