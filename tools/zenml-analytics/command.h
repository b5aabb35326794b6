// The pieces of `zenml-analytics`: subcommands and the hooks that let other
// subsystems extend existing subcommands, all gathered in one Registry.
//
// To add a subcommand (e.g. `track`): write a class deriving from Command in
// its own file (see opt_in_out.cc, status.cc), then add ONE line to
// RegisterCommands() in commands.cc, and the file to this folder's
// CMakeLists.txt. To make `opt-out` also do something (purge the spool) or
// `status` show more (spool stats, last upload), add an OptOutHook or a
// StatusSection there instead: the existing commands run them.
//
// Everything writes to the streams in Io, never to std::cout/std::cerr, so
// tests can run a command in-process. Not thread-safe (one run at a time).

#ifndef ZENML_TOOLS_ZENML_ANALYTICS_COMMAND_H_
#define ZENML_TOOLS_ZENML_ANALYTICS_COMMAND_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/environment.h"
#include "core/result.h"
#include "core/status.h"
#include "core/value.h"

namespace CLI {
class App;
}

namespace zenml::tools {

inline constexpr char kToolName[] = "zenml-analytics";

// What a command runs with.
struct Io {
  std::ostream& out;
  std::ostream& err;
  const core::Environment& env;
};

// One subcommand.
class Command {
 public:
  virtual ~Command() = default;
  // Declares the subcommand and its options on `app`, binding options to
  // members of this object. Called once, before parsing.
  virtual CLI::App* Add(CLI::App& app) = 0;
  // Runs the command after a successful parse; returns the exit code
  // (core/exit_code.h). Reports its own errors through ReportError.
  virtual int Run(const Io& io) = 0;
};

// A named value `status` shows: `label` in the text output ("Pending
// events"), `key` in the --json output ("pending_events").
struct StatusField {
  std::string key;
  std::string label;
  core::Value value;
};

// Extra lines for `status`. Called with the resolved config dir; must not
// create files. A failure is shown as one line and does not fail `status`.
using StatusSection = std::function<core::Result<std::vector<StatusField>>(
    const std::filesystem::path& config_dir)>;

// Run by `opt-out` after config.yaml says opted out, in registration order.
// May print one line to `out` (e.g. "Deleted 12 pending events."). A failure
// is reported and makes opt-out exit non-zero (the opt-out itself stays).
using OptOutHook = std::function<core::Status(
    const std::filesystem::path& config_dir, std::ostream& out)>;

struct Registry {
  std::vector<std::unique_ptr<Command>> commands;
  std::vector<StatusSection> status_sections;
  std::vector<OptOutHook> opt_out_hooks;
};

// commands.cc: the one list of subcommands and hooks.
void RegisterCommands(Registry& registry);

// RunAnalytics (analytics_main.h) with a registry the caller filled, e.g.
// RegisterCommands plus test hooks. Never throws.
int RunWithRegistry(const std::vector<std::string>& args, const Io& io,
                    Registry& registry);

// Factories of the built-in commands (opt_in_out.cc, status.cc).
std::unique_ptr<Command> MakeOptInCommand();
std::unique_ptr<Command> MakeOptOutCommand(const Registry& registry);
std::unique_ptr<Command> MakeStatusCommand(const Registry& registry);

// Prints "zenml-analytics: <message>" on one line to io.err and returns
// ExitCodeFor(status). Corruption of config.yaml counts as a configuration
// error (78), not bad input data.
int ReportError(const Io& io, const core::Status& status);

// Resolves the config dir from io.env, reporting failure (exit 78).
core::Result<std::filesystem::path> ConfigDirOrReport(const Io& io, int* exit);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_ANALYTICS_COMMAND_H_
