// zenml-upload: sends the spooled analytics events to Segment's batch API (or
// any Segment-compatible collector) and deletes exactly what the server
// acknowledged. See docs/zenml-upload.md for options and exit codes.

#ifndef ZENML_TOOLS_ZENML_UPLOAD_UPLOAD_MAIN_H_
#define ZENML_TOOLS_ZENML_UPLOAD_UPLOAD_MAIN_H_

#include <ostream>
#include <string>
#include <vector>

#include "core/environment.h"

namespace zenml::tools {

// Runs the tool on `args` (without the program name), writing to `out` and
// `err` and reading variables from `env`. `progress` enables the live
// progress line on `err` (main passes isatty(2)). Returns the exit code
// (core/exit_code.h). Never throws.
int RunUpload(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err, const core::Environment& env,
              bool progress = false);

// main(): RunUpload on argv, std::cout, std::cerr and the process env.
int UploadMain(int argc, char** argv);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_UPLOAD_UPLOAD_MAIN_H_
