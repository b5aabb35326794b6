// What every tool does the same way with its command line: parse it with
// CLI11, answer --help and --version on stdout, and report a usage error as
// one line on stderr prefixed with the tool's name, plus a hint, exit 64
// (STYLE.md "Tools").

#ifndef ZENML_TOOLS_COMMON_COMMAND_LINE_H_
#define ZENML_TOOLS_COMMON_COMMAND_LINE_H_

#include <CLI/CLI.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace zenml::tools {

// Writes "<tool>: <message>" and "Try '<tool> --help'." to `err`; returns
// the usage exit code (64).
int UsageError(std::string_view tool, std::string_view message,
               std::ostream& err);

// Parses `args` (the arguments after the program name) into `app`. Returns
// nullopt when the caller should go on, or the exit code to return at once:
// 0 after printing --help or --version to `out`, 64 after a UsageError.
std::optional<int> ParseCommandLine(CLI::App& app,
                                    const std::vector<std::string>& args,
                                    std::string_view tool, std::ostream& out,
                                    std::ostream& err);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_COMMON_COMMAND_LINE_H_
