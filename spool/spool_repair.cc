// Spool::Impl: repair and recount (spool_impl.h).

#include <fmt/format.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "core/dir_sync.h"
#include "core/result.h"
#include "spool/bounds.h"
#include "spool/dirs.h"
#include "spool/env.h"
#include "spool/inbox.h"
#include "spool/keys.h"
#include "spool/lock_backoff.h"
#include "spool/log_tail.h"
#include "spool/meta.h"
#include "spool/repair.h"
#include "spool/spool_impl.h"
#include "spool/util.h"

namespace zenml::spool {

namespace {

// RepairDB closes the tables it rewrites and the MANIFEST it writes without
// an fsync: they are made durable before what it set aside in lost/ (the
// damaged originals, the logs it converted) is deleted. Files on disk only;
// a database kept in memory by a test's Env has none.
Status SyncRepairedFiles(const std::string& db_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(db_path, ec)) return Status::OK();
  for (const auto& f : fs::directory_iterator(db_path, ec)) {
    const std::string name = f.path().filename().string();
    if (!name.ends_with(".ldb") && !name.ends_with(".sst") &&
        !name.starts_with("MANIFEST-") && name != "CURRENT") {
      continue;
    }
    ZENML_TRY(core::SyncFile(f.path()));
  }
  if (ec) {
    return Status::IoError(
        fmt::format("spool: cannot list {}: {}", db_path, ec.message()));
  }
  return Status::OK();
}

}  // namespace

namespace fs = std::filesystem;

Status Spool::Impl::RepairLocked(SharedDb& s, bool only_if_current_missing,
                                 bool* did_repair) {
  if (did_repair != nullptr) *did_repair = false;
  leveldb::FileLock* file_lock = nullptr;
  LockBackoff backoff(clock_, options_.lock_wait);
  for (;;) {
    leveldb::Status ls = s.env->LockFile(db_path_ + "/LOCK", &file_lock);
    if (ls.ok()) break;
    if (IsLockError(ls) && backoff.Wait()) continue;
    if (IsLockError(ls)) {
      return Status::Busy("spool: busy while trying to repair " + db_path_);
    }
    return FromLevelDb(ls, "locking for repair");
  }
  if (only_if_current_missing && s.env->FileExists(db_path_ + "/CURRENT")) {
    s.env->UnlockFile(file_lock);  // created meanwhile: nothing to repair
    return Status::OK();
  }
  LogLine(s.logger.get(), "spool: repairing %s", db_path_.c_str());
  if (did_repair != nullptr) *did_repair = true;
  leveldb::Options o = BaseOptions(s);
  s.repair = RepairReport();
  leveldb::Status rs = RepairDatabase(db_path_, o, &s.repair);
  // What RepairDB wrote, then its renames (the new MANIFEST, CURRENT), are
  // made durable; only then is what it set aside deleted.
  Status synced = rs.ok() ? SyncRepairedFiles(db_path_) : Status::OK();
  if (rs.ok() && synced.ok()) synced = SyncDir(base_env_, db_path_);
  if (rs.ok() && synced.ok()) RemoveRepairArchiveLocked(s);
  s.env->UnlockFile(file_lock);
  ZENML_TRY(FromLevelDb(rs, "repairing " + db_path_));
  return synced;
}

void Spool::Impl::RemoveRepairArchiveLocked(SharedDb& s) {
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(db_path_) / "lost", ec);
  if (ec) {
    LogLine(s.logger.get(), "spool: cannot remove %s/lost: %s",
            db_path_.c_str(), ec.message().c_str());
  }
}

Status Spool::Impl::CountTailLossLocked(SharedDb& s,
                                        const LogTailDamage& tail) {
  uint64_t lost = 0;
  std::string value;
  for (uint64_t seq : tail.events) {
    leveldb::Status g =
        s.db->Get(leveldb::ReadOptions(), EventKey(seq), &value);
    if (g.ok()) continue;
    if (!g.IsNotFound()) return FromLevelDb(g, "counting a damaged log");
    g = s.db->Get(leveldb::ReadOptions(), DeadLetterKey(seq), &value);
    if (g.ok()) continue;
    if (!g.IsNotFound()) return FromLevelDb(g, "counting a damaged log");
    lost++;
  }
  Meta m = s.meta;
  m.repairs++;
  if (lost > 0) {
    m.dropped[std::string(DropReasonName(DropReason::kCorruption))] += lost;
  }
  // The counters came from the last intact record: the lost events were
  // never counted in after it, but a kept one might be missing from them.
  if (!tail.events.empty()) {
    m.next_seq = std::max(m.next_seq, *tail.events.rbegin() + 1);
  }
  LogLine(s.logger.get(), "spool: damaged log tail: %llu events lost",
          static_cast<unsigned long long>(lost));
  leveldb::WriteBatch batch;
  PutMetaChanges(&batch, &m, &s.meta);
  ZENML_TRY(WriteLocked(s, &batch));
  s.meta = m;
  return Status::OK();
}

Status Spool::Impl::RecountLocked(SharedDb& s, uint64_t known_count) {
  Meta m = s.meta;
  leveldb::WriteBatch batch;
  uint64_t count = 0, bytes = 0, dead = 0, dead_bytes = 0, max_seq = 0;
  std::optional<uint64_t> min_seq;
  const std::set<uint64_t>& live = s.repair.log_live_events;
  uint64_t live_found = 0;
  std::unique_ptr<leveldb::Iterator> it(
      s.db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(ToSlice(kEventPrefix));
       it->Valid() && ToView(it->key()).starts_with(kEventPrefix); it->Next()) {
    auto seq = DecodeSeqKey(ToView(it->key()), kEventPrefix);
    // A damaged event's sequence is not given out again either.
    if (seq) max_seq = std::max(max_seq, *seq);
    auto v = DecodeEventValue(ToView(it->value()));
    if (!seq || !v || !v->intact) {
      batch.Delete(it->key());  // damaged: lost, and counted below
      continue;
    }
    count++;
    bytes += v->json.size();
    if (!min_seq) min_seq = *seq;
    if (live.contains(*seq)) live_found++;
  }
  for (it->Seek(ToSlice(kDeadLetterPrefix));
       it->Valid() && ToView(it->key()).starts_with(kDeadLetterPrefix);
       it->Next()) {
    if (auto seq = DecodeSeqKey(ToView(it->key()), kDeadLetterPrefix)) {
      dead++;
      dead_bytes += it->value().size();
      if (live.contains(*seq)) live_found++;
      max_seq = std::max(max_seq, *seq);
    }
  }
  ZENML_TRY(FromLevelDb(it->status(), "recounting after repair"));
  // Two lower bounds of the loss, of which the larger is counted: the
  // count the metadata (or this process) last knew minus what survived,
  // and the events the logs held (RepairReport) that are gone now.
  const uint64_t expected = std::max(m.count, known_count);
  uint64_t lost = expected > count ? expected - count : 0;
  // Sequences of lost events are never given out again.
  if (!live.empty()) max_seq = std::max(max_seq, *live.rbegin());
  const uint64_t lost_from_logs =
      live.size() > live_found ? live.size() - live_found : 0;
  lost = std::max(lost, lost_from_logs);
  if (lost > 0)
    m.dropped[std::string(DropReasonName(DropReason::kCorruption))] += lost;
  // What nothing can count: a table dropped or cut short by RepairDB, a log
  // that could not be scanned, an Append's totals that did not add up,
  // counters that had to be rebuilt while events were there.
  const bool unknown = s.repair.tables_damaged || s.repair.scan_failed ||
                       s.repair.older_log_cut || s.repair.totals_mismatch ||
                       (!m.counters_present && (count > 0 || dead > 0));
  if (unknown) m.loss_unknown = 1;
  if (!s.repair.check_only || lost > 0 || unknown) m.repairs++;
  LogLine(s.logger.get(), "spool: recounted: %llu events kept, %llu lost%s",
          static_cast<unsigned long long>(count),
          static_cast<unsigned long long>(lost),
          unknown ? ", and an unknown number more" : "");
  s.repair = RepairReport();
  m.count = count;
  m.bytes = bytes;
  m.dead_letters = dead;
  m.dead_letter_bytes = dead_bytes;
  m.next_seq = std::max(m.next_seq, max_seq + 1);
  m.first_seq = min_seq.value_or(m.next_seq);
  m.format_version = kFormatVersion;
  PutMetaChanges(&batch, &m, nullptr);
  ZENML_TRY(WriteLocked(s, &batch));
  s.meta = m;
  return Status::OK();
}

}  // namespace zenml::spool
