// `zenml-analytics status [--json]`: will this machine ever upload? The
// consent decision and its source, the write key (masked) and where it comes
// from, the endpoint, auto-upload, then the anonymous id, config dir,
// versions, and whatever StatusSections other subsystems registered (the
// spool's facts). The JSON names are shared with zenml-spool-dump --stats
// (client/status_facts.h); docs/schemas/zenml-analytics-status.schema.json
// is the contract. Creates and changes nothing.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "client/opportunistic_upload.h"
#include "client/status_facts.h"
#include "core/config_dir.h"
#include "core/consent.h"
#include "core/context.h"
#include "core/exit_code.h"
#include "core/global_config.h"
#include "core/timestamp.h"
#include "tools/zenml-analytics/command.h"
#include "uploader/upload_config.h"

namespace zenml::tools {
namespace {

// Text form of a field value: strings bare, everything else as JSON.
std::string Show(const core::Value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_null()) return "-";
  auto json = core::ToJson(v);
  return json.ok() ? *json : "?";
}

int64_t IntOr0(const core::Value& object, std::string_view key) {
  const core::Value* v = object.Find(key);
  return v != nullptr && v->is_int() ? v->as_int() : 0;
}

std::string StringOr(const core::Value& object, std::string_view key,
                     std::string_view none) {
  const core::Value* v = object.Find(key);
  return v != nullptr && v->is_string() ? v->as_string() : std::string(none);
}

// A section field for humans: objects the spool section gives as sentences.
std::string ShowField(const StatusField& f) {
  if (f.key == "last_upload" && f.value.is_object()) {
    const core::Value& u = f.value;
    std::string detail = StringOr(u, "detail", "");
    int64_t requests = IntOr0(u, "requests");
    return fmt::format(
        "{} at {}: {} sent in {} request{}, {} dead-lettered, {} remaining{}",
        StringOr(u, "outcome", "?"), StringOr(u, "at", "?"), IntOr0(u, "sent"),
        requests, requests == 1 ? "" : "s", IntOr0(u, "dead_lettered"),
        IntOr0(u, "remaining"), detail.empty() ? "" : " (" + detail + ")");
  }
  if (f.key == "last_upload" && f.value.is_null()) return "never";
  if (f.value.is_object()) {
    std::string text;
    for (const auto& [k, v] : f.value.as_object()) {
      if (!text.empty()) text += ", ";
      text += k + " " + Show(v);
    }
    return text;
  }
  return Show(f.value);
}

std::string FormatInterval(std::chrono::seconds s) {
  int64_t n = s.count();
  if (n > 0 && n % 86400 == 0) return fmt::format("{}d", n / 86400);
  if (n > 0 && n % 3600 == 0) return fmt::format("{}h", n / 3600);
  if (n > 0 && n % 60 == 0) return fmt::format("{}m", n / 60);
  return fmt::format("{}s", n);
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

    // Where the write key and the endpoint come from: the precedence
    // zenml-upload itself runs by (no flags here: what a plain
    // `zenml-upload`, cron's or auto-upload's, would use).
    std::string upload_config_error;
    uploader::ResolvedUploadConfig upload;
    auto resolved = uploader::ResolveUploadConfig({}, *dir, io.env);
    if (resolved.ok()) {
      upload = std::move(resolved).value();
    } else {
      upload_config_error = resolved.status().message();
    }
    const bool has_key = !upload.write_key.empty();
    const client::AutoUploadSettings auto_upload =
        client::ReadAutoUploadSettings(*dir, io.env);
    const bool auto_on = auto_upload.env_enabled && auto_upload.config_enabled;

    core::Value blockers = core::Value::Array{};
    if (!consent.allowed) blockers.as_array().push_back("opted_out");
    if (!upload_config_error.empty()) {
      blockers.as_array().push_back("upload_config_error");
    } else if (!has_key) {
      blockers.as_array().push_back("no_write_key");
    }
    const bool ready = blockers.as_array().empty();

    std::vector<StatusField> sections;
    std::vector<std::string> section_errors;
    for (const StatusSection& section : registry_.status_sections) {
      auto more = section(*dir);
      if (!more.ok()) {
        section_errors.push_back(more.status().message());
        continue;
      }
      for (auto& f : *more) sections.push_back(std::move(f));
    }

    if (!config_error.empty()) {
      // The one line that says config.yaml is broken.
      io.err << kToolName << ": warning: " << config_error
             << " (analytics use the default until it is fixed)\n";
    }
    if (!upload_config_error.empty()) {
      io.err << kToolName << ": warning: " << upload_config_error
             << " (zenml-upload refuses to run until it is fixed)\n";
    }
    for (const auto& e : section_errors) {
      io.err << kToolName << ": warning: " << e << "\n";
    }

    if (json_) {
      core::Value out = core::Value::Object{};
      out.Set("schema", client::kStatusJsonSchema);
      out.Set("consent", client::ConsentValue(consent));
      core::Value will = core::Value::Object{};
      will.Set("ready", ready);
      will.Set("blockers", blockers);
      out.Set("will_upload", std::move(will));
      core::Value key = core::Value::Object{};
      key.Set("present", has_key);
      key.Set("masked",
              has_key ? core::Value(uploader::MaskWriteKey(upload.write_key))
                      : core::Value());
      key.Set("source", upload_config_error.empty()
                            ? core::Value(upload.write_key_source)
                            : core::Value());
      out.Set("write_key", std::move(key));
      core::Value endpoint = core::Value::Object{};
      endpoint.Set("url", upload.endpoint.empty()
                              ? core::Value()
                              : core::Value(upload.endpoint));
      endpoint.Set("source", upload.endpoint.empty()
                                 ? core::Value()
                                 : core::Value(upload.endpoint_source));
      out.Set("endpoint", std::move(endpoint));
      out.Set("upload_config", uploader::UploadConfigPath(*dir).string());
      out.Set("system_upload_config",
              uploader::SystemUploadConfigPath(io.env).string());
      out.Set("system_upload_config_skipped", upload.system_config_unreadable);
      out.Set("upload_config_error", upload_config_error.empty()
                                         ? core::Value()
                                         : core::Value(upload_config_error));
      core::Value au = core::Value::Object{};
      au.Set("enabled", auto_on);
      au.Set("disabled_by", !auto_upload.env_enabled ? core::Value("env")
                            : !auto_upload.config_enabled
                                ? core::Value("config")
                                : core::Value());
      au.Set("interval_seconds", auto_upload.interval.count());
      au.Set("last_start",
             auto_upload.last_start
                 ? core::Value(core::FormatTimestamp(*auto_upload.last_start))
                 : core::Value());
      out.Set("auto_upload", std::move(au));
      out.Set("anonymous_id", id_value);
      out.Set("config_dir", dir->string());
      out.Set("zenml_version", context.zenml_version);
      out.Set("os", core::OsString(context));
      out.Set("library_version", std::string(core::LibraryVersion()));
      for (const auto& f : sections) out.Set(f.key, f.value);
      out.Set("config_error",
              config_error.empty() ? core::Value() : core::Value(config_error));
      auto text = core::ToJson(out);
      if (!text.ok()) return ReportError(io, text.status());
      io.out << *text << "\n";
      return core::kExitOk;
    }

    auto row = [&io](std::string_view label, std::string_view value) {
      io.out << fmt::format("{:<15}{}\n", std::string(label) + ":", value);
    };
    std::string verdict = "yes";
    if (!ready) {
      verdict = "no:";
      for (const auto& b : blockers.as_array()) {
        const std::string& name = b.as_string();
        verdict += name == "opted_out"      ? " analytics are opted out;"
                   : name == "no_write_key" ? " no write key;"
                                            : " upload.yaml is refused;";
      }
      verdict.pop_back();
    }
    row("Will upload", verdict);
    row("Analytics", consent.allowed ? "opted in" : "opted out");
    row("Decided by", core::ConsentSourceName(consent.source));
    row("Because", consent.detail);
    if (!upload_config_error.empty()) {
      row("Write key", "unknown (" + upload_config_error + ")");
    } else if (has_key) {
      row("Write key",
          fmt::format("{} (from {})", uploader::MaskWriteKey(upload.write_key),
                      upload.write_key_source));
    } else {
      row("Write key",
          fmt::format(
              "none (set ZENML_SEGMENT_WRITE_KEY, or write_key in {} or {})",
              uploader::UploadConfigPath(*dir).string(),
              uploader::SystemUploadConfigPath(io.env).string()));
    }
    if (!upload.endpoint.empty()) {
      row("Endpoint",
          fmt::format("{} ({})", upload.endpoint, upload.endpoint_source));
    }
    if (upload.system_config_unreadable) {
      row("System config",
          fmt::format("{} skipped: this user may not read it",
                      uploader::SystemUploadConfigPath(io.env).string()));
    }
    std::string auto_text =
        auto_on
            ? fmt::format("on, every {}", FormatInterval(auto_upload.interval))
        : !auto_upload.env_enabled
            ? "off (ZENML_ANALYTICS_AUTO_UPLOAD)"
            : "off (analytics_auto_upload in config.yaml)";
    auto_text +=
        auto_upload.last_start
            ? "; last started " + core::FormatTimestamp(*auto_upload.last_start)
            : "; never started";
    row("Auto-upload", auto_text);
    row("Anonymous id", id_text);
    row("Config dir", dir->string());
    row("ZenML version", context.zenml_version);
    row("OS", core::OsString(context));
    row("Library", fmt::format("{} {}", kToolName, core::LibraryVersion()));
    for (const auto& f : sections) row(f.label, ShowField(f));
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
