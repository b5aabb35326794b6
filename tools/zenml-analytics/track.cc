// `zenml-analytics track`: one event, durable when the process exits 0.
//
// It uses the library's Client in synchronous mode, so Track() returns only
// once the event's Spool::Append returned (the database, or an inbox file if
// another process held the spool past lock_wait): exactly what a ZenML
// process gets, through the same code.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "client/client.h"
#include "core/consent.h"
#include "core/context.h"
#include "core/exit_code.h"
#include "tools/zenml-analytics/spool_commands.h"

// The build's default ZenML version, the one core::DetectContext reports;
// taken from CMake here rather than from DetectContext, which reads
// /etc/os-release: building the command line must not cost every run of
// every subcommand a file read (`track` reads it once, in the Client).
#ifndef ZENML_DEFAULT_ZENML_VERSION
#define ZENML_DEFAULT_ZENML_VERSION ""
#endif

namespace zenml::tools {
namespace {

constexpr std::string_view kBuildZenmlVersion = ZENML_DEFAULT_ZENML_VERSION;

class TrackCommand final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand(
        "track", "Record one usage event durably in the spool");
    sub->add_option("event", event_,
                    "Event name, e.g. \"Pipeline run\" (a catalogue name or "
                    "your own)")
        ->required();
    sub->add_option("--property", pairs_,
                    "A property as key=value; the value is read as a JSON "
                    "number, true, false, null or \"string\" when it is one, "
                    "else as text. Repeatable; applied after --properties");
    sub->add_option("--properties", properties_json_,
                    "All properties as one JSON object");
    sub->add_option("--zenml-version", zenml_version_,
                    "The ZenML version the event reports "
                    "(context.zenml.version); default: the build's, " +
                        std::string(kBuildZenmlVersion));
    return sub;
  }

  int Run(const Io& io) override {
    int exit = core::kExitOk;
    auto dir = ConfigDirOrReport(io, &exit);
    if (!dir.ok()) return exit;
    auto props = BuildProperties(properties_json_, pairs_);
    if (!props.ok()) return ReportError(io, props.status());

    client::ClientOptions options;
    options.config_dir = *dir;
    options.environment = &io.env;
    options.zenml_version = zenml_version_;  // empty: the build default
    options.synchronous = true;              // durable before we say so
    client::Client client(options);
    if (!client.consent().allowed) {
      io.err << fmt::format(
          "{}: analytics are off ({}); nothing was recorded\n", kToolName,
          client.consent().detail);
      return core::kExitOk;
    }
    std::string id;
    core::Status s = client.Track(event_, *props, &id);
    if (!s.ok()) return ReportError(io, s);
    io.out << id << "\n";
    return core::kExitOk;
  }

 private:
  std::string event_;
  std::vector<std::string> pairs_;
  std::string properties_json_;
  std::string zenml_version_;
};

}  // namespace

core::Value PropertyValue(std::string_view text) {
  auto parsed = core::ParseJson(text);
  if (parsed.ok() && !parsed->is_array() && !parsed->is_object()) {
    return std::move(parsed).value();
  }
  return core::Value(text);
}

core::Result<core::Value> BuildProperties(
    std::string_view properties_json, const std::vector<std::string>& pairs) {
  core::Value props = core::Value::Object{};
  if (!properties_json.empty()) {
    auto parsed = core::ParseJson(properties_json);
    if (!parsed.ok()) {
      return parsed.status().WithContext("--properties");
    }
    if (!parsed->is_object()) {
      return core::Status::InvalidArgument(
          "--properties: expected a JSON object like {\"key\": 1}");
    }
    props = std::move(parsed).value();
  }
  for (const std::string& pair : pairs) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return core::Status::InvalidArgument(fmt::format(
          "--property {}: expected key=value with a non-empty key", pair));
    }
    props.Set(pair.substr(0, eq),
              PropertyValue(std::string_view(pair).substr(eq + 1)));
  }
  return props;
}

std::unique_ptr<Command> MakeTrackCommand() {
  return std::make_unique<TrackCommand>();
}

}  // namespace zenml::tools
