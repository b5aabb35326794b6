// The spool's part of `opt-out` (purge) and `status` (stats).

#include <fmt/format.h>

#include <string>
#include <vector>

#include "core/config_dir.h"
#include "core/timestamp.h"
#include "spool/spool.h"
#include "tools/zenml-analytics/spool_commands.h"

namespace zenml::tools {

core::Status PurgeSpoolOnOptOut(const std::filesystem::path& config_dir,
                                std::ostream& out) {
  const std::filesystem::path dir = core::AnalyticsDir(config_dir);
  uint64_t deleted = 0;
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {  // never create one to purge it
    spool::SpoolOptions options;
    options.dir = dir;
    spool::Spool spool(options);
    auto purged = spool.Purge();
    if (!purged.ok()) {
      return purged.status().WithContext("purging the spool");
    }
    deleted = *purged;
  }
  out << fmt::format("Deleted {} pending event{}.\n", deleted,
                     deleted == 1 ? "" : "s");
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

  core::Value dropped = core::Value::Object{};
  for (const auto& [reason, n] : stats.dropped) dropped.Set(reason, n);
  core::Value last_upload;  // null: never
  if (stats.last_upload) {
    const spool::UploadRecord& u = *stats.last_upload;
    last_upload = fmt::format(
        "{} at {}: {} sent in {} requests, {} dead-lettered, {} remaining{}",
        u.outcome, core::FormatTimestamp(u.at), u.sent, u.requests,
        u.dead_lettered, u.remaining,
        u.detail.empty() ? "" : " (" + u.detail + ")");
  }
  core::Value not_before;
  if (stats.not_before) not_before = core::FormatTimestamp(*stats.not_before);

  return std::vector<StatusField>{
      {"spool_dir", "Spool", dir.string()},
      {"pending_events", "Spooled", stats.count},
      {"pending_bytes", "Spooled bytes", stats.bytes},
      {"dead_letters", "Dead letters", stats.dead_letters},
      {"dropped", "Dropped", dropped},
      {"inbox_files", "Inbox files", stats.inbox_files},
      {"last_upload", "Last upload", last_upload},
      {"not_before", "Not before", not_before},
  };
}

}  // namespace zenml::tools
