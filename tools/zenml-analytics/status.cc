// `zenml-analytics status [--json]`: the consent decision and the source
// that decided it, the anonymous id, the config dir, the ZenML version, the
// OS string, and whatever StatusSections other subsystems registered.
// Creates nothing.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "core/config_dir.h"
#include "core/consent.h"
#include "core/context.h"
#include "core/exit_code.h"
#include "core/global_config.h"
#include "tools/zenml-analytics/command.h"

namespace zenml::tools {
namespace {

// Text form of a field value: strings bare, everything else as JSON.
std::string Show(const core::Value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_null()) return "-";
  auto json = core::ToJson(v);
  return json.ok() ? *json : "?";
}

class StatusCommand final : public Command {
 public:
  explicit StatusCommand(const Registry& registry) : registry_(registry) {}

  CLI::App* Add(CLI::App& app) override {
    json_ = false;  // CLI11 leaves an absent flag's variable as it was
    CLI::App* sub = app.add_subcommand(
        "status",
        "Show whether analytics are on, what decided it, and the "
        "metadata events carry");
    sub->add_flag("--json", json_, "Print one JSON object for scripts");
    return sub;
  }

  int Run(const Io& io) override {
    int exit = core::kExitOk;
    auto dir = ConfigDirOrReport(io, &exit);
    if (!dir.ok()) return exit;

    const core::Consent consent = core::DecideConsent(*dir, io.env);
    const core::Context context = core::DetectContext();

    // The anonymous id only if it exists: status creates nothing.
    core::Value id_value;  // null: none yet
    std::string id_text = "none yet (created when analytics are first used)";
    std::string config_error;
    auto id = core::ReadAnonymousId(*dir);
    if (!id.ok()) {
      config_error = id.status().message();
      id_text = "unknown (config.yaml cannot be read)";
    } else if (id->has_value()) {
      id_value = **id;
      id_text = **id;
    }

    std::vector<StatusField> fields = {
        {"opted_in", "Analytics", consent.allowed},
        {"source", "Decided by",
         std::string(core::ConsentSourceName(consent.source))},
        {"detail", "Because", consent.detail},
        {"anonymous_id", "Anonymous id", id_value},
        {"config_dir", "Config dir", dir->string()},
        {"zenml_version", "ZenML version", context.zenml_version},
        {"os", "OS", core::OsString(context)},
        {"library_version", "Library", std::string(core::LibraryVersion())},
    };
    std::vector<std::string> section_errors;
    for (const StatusSection& section : registry_.status_sections) {
      auto more = section(*dir);
      if (!more.ok()) {
        section_errors.push_back(more.status().message());
        continue;
      }
      for (auto& f : *more) fields.push_back(std::move(f));
    }

    if (!config_error.empty()) {
      // The one line that says config.yaml is broken.
      io.err << kToolName << ": warning: " << config_error
             << " (analytics use the default until it is fixed)\n";
    }
    for (const auto& e : section_errors) {
      io.err << kToolName << ": warning: " << e << "\n";
    }

    if (json_) {
      core::Value out = core::Value::Object{};
      for (const auto& f : fields) out.Set(f.key, f.value);
      out.Set("config_error",
              config_error.empty() ? core::Value() : core::Value(config_error));
      auto text = core::ToJson(out);
      if (!text.ok()) return ReportError(io, text.status());
      io.out << *text << "\n";
      return core::kExitOk;
    }
    for (const auto& f : fields) {
      std::string value;
      if (f.key == "opted_in") {
        value = consent.allowed ? "opted in" : "opted out";
      } else if (f.key == "anonymous_id") {
        value = id_text;
      } else if (f.key == "library_version") {
        value = fmt::format("{} {}", kToolName, core::LibraryVersion());
      } else {
        value = Show(f.value);
      }
      io.out << fmt::format("{:<15}{}\n", f.label + ":", value);
    }
    return core::kExitOk;
  }

 private:
  const Registry& registry_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeStatusCommand(const Registry& registry) {
  return std::make_unique<StatusCommand>(registry);
}

}  // namespace zenml::tools
