// The parts of `zenml-analytics` that use the spool and the Client:
// the `track` subcommand (track.cc), and the hooks that make `opt-out` purge
// the spool and `status` show its stats (spool_hooks.cc). Registered in
// commands.cc.

#ifndef ZENML_TOOLS_ZENML_ANALYTICS_SPOOL_COMMANDS_H_
#define ZENML_TOOLS_ZENML_ANALYTICS_SPOOL_COMMANDS_H_

#include <filesystem>
#include <memory>
#include <ostream>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/status.h"
#include "core/value.h"
#include "tools/zenml-analytics/command.h"

namespace zenml::tools {

// `zenml-analytics track EVENT [--property key=value ...] [--properties JSON]`:
// records one event durably (exit 0 only once it is in the spool or an inbox
// file), printing its messageId. Opted out: records nothing, says so on
// stderr, exit 0. Invalid event or properties: exit 65.
std::unique_ptr<Command> MakeTrackCommand();

// The value of `--property key=value`: `value` parsed as a JSON scalar when
// it is one (numbers, true, false, null, "quoted string"), else the text
// itself as a string. Arrays and objects stay text: use --properties.
core::Value PropertyValue(std::string_view text);

// Builds the properties object: `properties_json` (empty, or a JSON object)
// with each "key=value" of `pairs` set on top, in order (a later key
// replaces an earlier one). InvalidArgument for JSON that does not parse or
// is not an object, and for a pair without '=' or with an empty key.
core::Result<core::Value> BuildProperties(
    std::string_view properties_json, const std::vector<std::string>& pairs);

// opt-out hook (config.yaml already says opted out): deletes every pending
// event, dead letter and inbox file and prints "Deleted N pending events."
// When another process keeps the spool for more than 5 s, leaves a durable
// purge request for the next opener (client/purge_request.h), still removes
// every inbox file (temporary ones too), says the purge will complete when
// the spool is free, and returns OK. Creates nothing when there is no spool.
core::Status PurgeSpoolOnOptOut(const std::filesystem::path& config_dir,
                                std::ostream& out);

// status section: pending events and bytes, dead letters, drops by reason,
// inbox files, the last upload and any not-before time. Creates nothing.
core::Result<std::vector<StatusField>> SpoolStatusSection(
    const std::filesystem::path& config_dir);

}  // namespace zenml::tools

#endif  // ZENML_TOOLS_ZENML_ANALYTICS_SPOOL_COMMANDS_H_
