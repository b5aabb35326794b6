// The spool's part of `opt-out` (purge) and `status` (stats).

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "client/purge_request.h"
#include "client/status_facts.h"
#include "core/config_dir.h"
#include "core/timestamp.h"
#include "spool/spool.h"
#include "tools/zenml-analytics/spool_commands.h"

namespace zenml::tools {
namespace {

// How long opt-out waits for another process to let go of the spool. A
// Client writer sees the opt-out at its next write and lets go at once; this
// also outlasts a writer's own wait for the lock (spool lock_wait, 2 s by
// default), after which it would have written an inbox file.
constexpr std::chrono::milliseconds kOptOutSpoolWait{5000};
// A writer that checked consent just before config.yaml changed finishes its
// inbox file (write, fsync, rename) within this.
constexpr std::chrono::milliseconds kOptOutInboxGrace{200};

}  // namespace

core::Status PurgeSpoolOnOptOut(const std::filesystem::path& config_dir,
                                std::ostream& out) {
  const std::filesystem::path dir = core::AnalyticsDir(config_dir);
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {  // never create one to purge it
    out << "Deleted 0 pending events.\n";
    return core::Status::OK();
  }
  // config.yaml already says opted out, so every writer stops at its next
  // write and gives the database back. Wait for it that long.
  spool::SpoolOptions options;
  options.dir = dir;
  options.lock_wait = kOptOutSpoolWait;
  spool::Spool spool(options);
  auto purged = spool.Purge();
  if (!purged.ok() && purged.status().code() != core::Status::Code::kBusy) {
    return purged.status().WithContext("purging the spool");
  }
  const bool deferred = !purged.ok();
  if (deferred) {
    // Still held: the holder (or the next opener) purges it before anything
    // else (client/purge_request.h).
    if (core::Status s = client::RequestPurge(dir); !s.ok()) {
      return s.WithContext("leaving a purge request");
    }
  }
  // Inbox files hold event JSON too, temporary ones included. A writer that
  // checked consent just before config.yaml changed may still be finishing
  // one: sweep again after a moment.
  auto swept = client::RemoveInboxFiles(dir);
  if (!swept.ok()) return swept.status().WithContext("purging the inbox");
  std::this_thread::sleep_for(kOptOutInboxGrace);
  auto again = client::RemoveInboxFiles(dir);
  if (!again.ok()) return again.status().WithContext("purging the inbox");
  if (deferred) {
    out << "The spool is in use by another process: the purge will complete "
           "when the spool is free (before anything else is written or "
           "sent).\n";
    return core::Status::OK();
  }
  // A request an earlier opt-out left is carried out now.
  std::filesystem::remove(client::PurgeRequestPath(dir), ec);
  const uint64_t deleted = *purged;
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
