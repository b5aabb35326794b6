#include "tools/zenml-analytics/command.h"
#include "tools/zenml-analytics/spool_commands.h"

namespace zenml::tools {

// The subcommands of zenml-analytics, in --help order, and the hooks other
// subsystems add to them. One line each.
void RegisterCommands(Registry& registry) {
  // Hooks first: the commands below capture the registry and read them at
  // run time. E.g.:
  //   registry.opt_out_hooks.push_back(PurgeSpoolOnOptOut);
  //   registry.status_sections.push_back(SpoolStatusSection);
  registry.opt_out_hooks.push_back(PurgeSpoolOnOptOut);
  registry.status_sections.push_back(SpoolStatusSection);
  registry.commands.push_back(MakeTrackCommand());
  registry.commands.push_back(MakeOptInCommand());
  registry.commands.push_back(MakeOptOutCommand(registry));
  registry.commands.push_back(MakeStatusCommand(registry));
}

}  // namespace zenml::tools
