// `zenml-analytics opt-in` and `opt-out`: write analytics_opt_in to
// config.yaml (keeping every other key), then say what now decides.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "core/consent.h"
#include "core/exit_code.h"
#include "core/global_config.h"
#include "tools/zenml-analytics/command.h"

namespace zenml::tools {
namespace {

// When the environment overrides config.yaml, the user must know that what
// they just set is not what happens.
void NoteOverride(const Io& io, const std::filesystem::path& config_dir,
                  bool wanted) {
  const core::Consent consent = core::DecideConsent(config_dir, io.env);
  if (consent.allowed != wanted) {
    io.out << fmt::format("Note: {} overrides config.yaml: analytics are {}.\n",
                          consent.detail,
                          consent.allowed ? "still on" : "still off");
  }
}

class OptInCommand final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    return app.add_subcommand(
        "opt-in",
        "Allow anonymous usage analytics (sets analytics_opt_in: true)");
  }

  int Run(const Io& io) override {
    int exit = core::kExitOk;
    auto dir = ConfigDirOrReport(io, &exit);
    if (!dir.ok()) return exit;
    if (core::Status s = core::SetOptIn(*dir, true); !s.ok()) {
      return ReportError(io, s);
    }
    // Opting in is when the anonymous id is needed: create it now, so
    // `status` shows the id events will carry.
    auto id = core::EnsureAnonymousId(*dir);
    if (!id.ok()) return ReportError(io, id.status());
    io.out << fmt::format(
        "Opted in to anonymous usage analytics (anonymous id {}).\n", *id);
    NoteOverride(io, *dir, true);
    return core::kExitOk;
  }
};

class OptOutCommand final : public Command {
 public:
  explicit OptOutCommand(const Registry& registry) : registry_(registry) {}

  CLI::App* Add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand(
        "opt-out",
        "Stop anonymous usage analytics (sets analytics_opt_in: false)");
    sub->add_flag("--force", force_,
                  "If config.yaml cannot be read, move it to "
                  "config.yaml.bak-<time> and write a fresh one");
    return sub;
  }

  int Run(const Io& io) override {
    int exit = core::kExitOk;
    auto dir = ConfigDirOrReport(io, &exit);
    if (!dir.ok()) return exit;
    // Never creates a user_id: an opted-out user needs none.
    if (force_) {
      auto backup = core::ForceOptOut(*dir);
      if (!backup.ok()) return ReportOptOutFailure(io, backup.status());
      if (backup->has_value()) {
        io.out << fmt::format(
            "Moved the unreadable config.yaml to {} and wrote a fresh one.\n",
            (*backup)->string());
      }
    } else if (core::Status s = core::SetOptIn(*dir, false); !s.ok()) {
      return ReportOptOutFailure(io, s);
    }
    io.out << "Opted out of anonymous usage analytics: nothing more will be "
              "recorded or sent.\n";
    for (const OptOutHook& hook : registry_.opt_out_hooks) {
      if (core::Status s = hook(*dir, io.out); !s.ok()) {
        exit = ReportError(io, s);
      }
    }
    NoteOverride(io, *dir, false);
    return exit;
  }

 private:
  // One line: what is wrong, then the two ways that still opt out.
  int ReportOptOutFailure(const Io& io, const core::Status& s) const {
    const char* force =
        force_ ? ""
               : "run 'zenml-analytics opt-out --force' (keeps a backup) "
                 "or ";
    return ReportError(
        io, core::Status(s.code(), fmt::format("{}; to opt out anyway, {}set "
                                               "ZENML_ANALYTICS_OPT_IN=false",
                                               s.message(), force)));
  }

  bool force_ = false;
  const Registry& registry_;
};

}  // namespace

std::unique_ptr<Command> MakeOptInCommand() {
  return std::make_unique<OptInCommand>();
}

std::unique_ptr<Command> MakeOptOutCommand(const Registry& registry) {
  return std::make_unique<OptOutCommand>(registry);
}

}  // namespace zenml::tools
