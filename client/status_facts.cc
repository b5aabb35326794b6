#include "client/status_facts.h"

#include <string>

#include "core/timestamp.h"

namespace zenml::client {
namespace {

core::Value TimeOrNull(const std::optional<core::WallTime>& t) {
  return t ? core::Value(core::FormatTimestamp(*t)) : core::Value();
}

}  // namespace

core::Value SpoolUploadValue(const spool::UploadRecord& u) {
  core::Value v = core::Value::Object{};
  v.Set("at", core::FormatTimestamp(u.at));
  v.Set("outcome", u.outcome);
  v.Set("sent", u.sent);
  v.Set("requests", u.requests);
  v.Set("dead_lettered", u.dead_lettered);
  v.Set("remaining", u.remaining);
  v.Set("not_before", TimeOrNull(u.not_before));
  v.Set("detail", u.detail);
  return v;
}

void AppendSpoolFacts(const spool::SpoolStats& stats, core::Value& out) {
  // Inbox files hold events too (Stats never ingests them): pending.
  out.Set("pending_events", stats.count + stats.inbox_events);
  out.Set("pending_bytes", stats.bytes);
  out.Set("dead_letters", stats.dead_letters);
  out.Set("dead_letter_bytes", stats.dead_letter_bytes);
  // Dead letters deleted by their bounds (spool/dead_letters.h).
  core::Value dead_dropped = core::Value::Object{};
  for (auto reason :
       {spool::DropReason::kMaxEvents, spool::DropReason::kMaxBytes,
        spool::DropReason::kMaxAge}) {
    dead_dropped.Set(std::string(spool::DropReasonName(reason)), uint64_t{0});
  }
  for (const auto& [reason, n] : stats.dead_letters_dropped) {
    dead_dropped.Set(reason, n);
  }
  out.Set("dead_letters_dropped", std::move(dead_dropped));
  out.Set("write_errors", stats.write_errors);
  core::Value dropped = core::Value::Object{};
  for (auto reason :
       {spool::DropReason::kMaxEvents, spool::DropReason::kMaxBytes,
        spool::DropReason::kMaxAge, spool::DropReason::kCorruption,
        spool::DropReason::kQueueFull, spool::DropReason::kDiskFull}) {
    dropped.Set(std::string(spool::DropReasonName(reason)), uint64_t{0});
  }
  for (const auto& [reason, n] : stats.dropped) dropped.Set(reason, n);
  out.Set("dropped", std::move(dropped));
  out.Set("inbox_files", stats.inbox_files);
  out.Set("inbox_events", stats.inbox_events);
  // Damage is never silent: repairs and whether a loss went uncounted.
  out.Set("repairs", stats.repairs);
  out.Set("corruption_loss_unknown", stats.corruption_loss_unknown);
  out.Set("last_upload", stats.last_upload
                             ? SpoolUploadValue(*stats.last_upload)
                             : core::Value());
  out.Set("not_before", TimeOrNull(stats.not_before));
}

core::Value ConsentValue(const core::Consent& consent) {
  core::Value v = core::Value::Object{};
  v.Set("allowed", consent.allowed);
  v.Set("source", std::string(core::ConsentSourceName(consent.source)));
  v.Set("detail", consent.detail);
  return v;
}

}  // namespace zenml::client
