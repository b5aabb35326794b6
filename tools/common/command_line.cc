#include "tools/common/command_line.h"

#include "core/exit_code.h"

namespace zenml::tools {

int UsageError(std::string_view tool, std::string_view message,
               std::ostream& err) {
  err << tool << ": " << message << "\n"
      << "Try '" << tool << " --help'.\n";
  return core::kExitUsage;
}

std::optional<int> ParseCommandLine(CLI::App& app,
                                    const std::vector<std::string>& args,
                                    std::string_view tool, std::ostream& out,
                                    std::ostream& err) {
  // CLI11's vector overload takes the arguments in reverse order.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version: printed to `out`
      app.exit(e, out, err);
      return core::kExitOk;
    }
    return UsageError(tool, e.what(), err);
  }
  return std::nullopt;
}

}  // namespace zenml::tools
