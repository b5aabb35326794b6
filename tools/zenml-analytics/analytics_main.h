// zenml-analytics: record usage events, opt in to or out of ZenML's anonymous
// usage analytics, and show what is decided and why. See
// docs/zenml-analytics.md.

#ifndef ZENML_TOOLS_ZENML_ANALYTICS_ANALYTICS_MAIN_H_
#define ZENML_TOOLS_ZENML_ANALYTICS_ANALYTICS_MAIN_H_

#include <ostream>
#include <string>
#include <vector>

#include "core/environment.h"

namespace zenml::tools {

// Runs the tool on `args` (without the program name), writing to `out` and
// `err`, reading variables from `env`. Returns the exit code. Never throws.
int RunAnalytics(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err, const core::Environment& env);

// main(): RunAnalytics on argv, std::cout, std::cerr and the process env.
int AnalyticsMain(int argc, char** argv);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_ANALYTICS_ANALYTICS_MAIN_H_
