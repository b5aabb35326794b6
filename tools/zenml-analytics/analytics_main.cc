#include "tools/zenml-analytics/analytics_main.h"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <exception>
#include <iostream>

#include "core/config_dir.h"
#include "core/context.h"
#include "core/exit_code.h"
#include "tools/common/command_line.h"
#include "tools/zenml-analytics/command.h"

namespace zenml::tools {

int ReportError(const Io& io, const core::Status& status) {
  io.err << kToolName << ": " << status.message() << "\n";
  if (status.code() == core::Status::Code::kCorruption) {
    return core::kExitConfig;  // a broken config.yaml is a config problem
  }
  return core::ExitCodeFor(status);
}

core::Result<std::filesystem::path> ConfigDirOrReport(const Io& io, int* exit) {
  auto dir = core::ResolveConfigDir(io.env);
  if (!dir.ok()) *exit = ReportError(io, dir.status());
  return dir;
}

int RunAnalytics(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err, const core::Environment& env) {
  const Io io{out, err, env};
  try {
    Registry registry;
    RegisterCommands(registry);
    return RunWithRegistry(args, io, registry);
  } catch (const std::exception& e) {
    err << kToolName << ": internal error: " << e.what() << "\n";
    return core::kExitSoftware;
  }
}

int RunWithRegistry(const std::vector<std::string>& args, const Io& io,
                    Registry& registry) {
  std::ostream& out = io.out;
  std::ostream& err = io.err;
  try {
    CLI::App app(
        "Record ZenML usage events, opt in to or out of anonymous usage "
        "analytics, and show what is decided and why.",
        kToolName);
    app.set_version_flag(
        "--version", fmt::format("{} {}", kToolName, core::LibraryVersion()),
        "Print the version and exit");
    // At most one; "none" is reported below, so that an unknown word is
    // reported as such rather than as a missing subcommand.
    app.require_subcommand(0, 1);
    app.footer(
        "Environment: ZENML_CONFIG_PATH, XDG_CONFIG_HOME, HOME (config dir);\n"
        "ZENML_ANALYTICS_OPT_IN, DO_NOT_TRACK (override config.yaml).\n"
        "See man zenml-analytics (docs/zenml-analytics.md in the sources).");

    std::vector<std::pair<CLI::App*, Command*>> subcommands;
    for (auto& command : registry.commands) {
      subcommands.emplace_back(command->Add(app), command.get());
    }

    if (auto exit_code = ParseCommandLine(app, args, kToolName, out, err)) {
      return *exit_code;
    }
    for (auto& [sub, command] : subcommands) {
      if (sub->parsed()) return command->Run(io);
    }
    return UsageError(kToolName, "no command given", err);
  } catch (const std::exception& e) {
    err << kToolName << ": internal error: " << e.what() << "\n";
    return core::kExitSoftware;
  }
}

int AnalyticsMain(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  const int code =
      RunAnalytics(args, std::cout, std::cerr, core::ProcessEnvironment());
  std::cout.flush();
  if (!std::cout) {
    std::cerr << kToolName << ": cannot write to standard output\n";
    return core::kExitIoErr;
  }
  return code;
}

}  // namespace zenml::tools
