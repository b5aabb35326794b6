// The spool's part of `opt-out` (purge) and `status` (stats).

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "client/purge_request.h"
#include "client/status_facts.h"
#include "core/config_dir.h"
#include "core/timestamp.h"
#include "spool/spool.h"
#include "tools/zenml-analytics/spool_commands.h"

namespace zenml::tools {

core::Status PurgeSpoolOnOptOut(const std::filesystem::path& config_dir,
                                std::ostream& out) {
  ZENML_TRY_ASSIGN(client::OptOutPurge purge,
                   client::PurgeOnOptOut(config_dir));
  if (purge.deferred) {
    out << "The spool is in use by another process: the purge will complete "
           "when the spool is free (before anything else is written or "
           "sent).\n";
    return core::Status::OK();
  }
  out << fmt::format("Deleted {} pending event{}.\n", purge.deleted,
                     purge.deleted == 1 ? "" : "s");
  return core::Status::OK();
}

core::Result<std::vector<StatusField>> SpoolStatusSection(
    const std::filesystem::path& config_dir) {
  const std::filesystem::path dir = core::AnalyticsDir(config_dir);
  spool::SpoolStats stats;
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    spool::SpoolOptions options;
    options.dir = dir;
    spool::Spool spool(options);
    auto got = spool.Stats();
    if (!got.ok()) return got.status().WithContext("spool stats");
    stats = std::move(got).value();
  }

  // The names and shapes are zenml-spool-dump --stats --json's too.
  core::Value facts = core::Value::Object{};
  client::AppendSpoolFacts(stats, facts);
  static const std::map<std::string, std::string> kLabels = {
      {"pending_events", "Spooled"},
      {"pending_bytes", "Spooled bytes"},
      {"dead_letters", "Dead letters"},
      {"dead_letter_bytes", "Dead-letter bytes"},
      {"dead_letters_dropped", "Dead letters dropped"},
      {"write_errors", "Write errors"},
      {"dropped", "Dropped"},
      {"inbox_files", "Inbox files"},
      {"inbox_events", "Inbox events"},
      {"repairs", "Repairs"},
      {"corruption_loss_unknown", "Uncounted loss"},
      {"last_upload", "Last upload"},
      {"not_before", "Not before"},
  };
  std::vector<StatusField> fields = {{"spool_dir", "Spool", dir.string()}};
  for (const auto& [key, value] : facts.as_object()) {
    auto label = kLabels.find(key);
    fields.push_back(
        {key, label == kLabels.end() ? key : label->second, value});
  }
  return fields;
}

}  // namespace zenml::tools
