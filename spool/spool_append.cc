// Spool::Impl: the append path: bounds, counters, the one write
// (spool_impl.h).

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
#include <thread>
#include <utility>
#include <vector>

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

Status Spool::Impl::AppendLocked(SharedDb& s, std::span<const NewEvent> events,
                                 leveldb::WriteBatch* batch,
                                 uint64_t corrupt_lost, bool loss_unknown,
                                 const WriterDrops* writer_drops) {
  Meta m = s.meta;
  if (corrupt_lost > 0) {
    m.dropped[std::string(DropReasonName(DropReason::kCorruption))] +=
        corrupt_lost;
  }
  if (writer_drops != nullptr) {
    if (writer_drops->queue_full > 0) {
      m.dropped[std::string(DropReasonName(DropReason::kQueueFull))] +=
          writer_drops->queue_full;
    }
    if (writer_drops->disk_full > 0) {
      m.dropped[std::string(DropReasonName(DropReason::kDiskFull))] +=
          writer_drops->disk_full;
    }
  }
  if (loss_unknown) m.loss_unknown = 1;
  if (options_.max_events) m.limit_max_events = *options_.max_events;
  if (options_.max_bytes) m.limit_max_bytes = *options_.max_bytes;
  if (options_.max_age) {
    m.limit_max_age_s =
        static_cast<uint64_t>(std::max<int64_t>(0, options_.max_age->count()));
  }
  const SpoolLimits limits = m.Limits();
  const int64_t now_ms = ToMs(clock_->Now());
  std::vector<BoundsEvent> incoming;
  incoming.reserve(events.size());
  for (const NewEvent& e : events) {
    incoming.push_back({e.time_ms, e.json.size()});
  }

  // The head, read a growing chunk at a time until the bounds are met.
  std::vector<BoundsEvent> head;
  std::vector<std::string> head_keys;
  std::vector<uint64_t> head_seqs;  // 0: undecodable key
  BoundsDrops drops;
  std::unique_ptr<leveldb::Iterator> it;
  bool head_is_all = m.count == 0;
  size_t want = 1;
  for (;;) {
    if (!head_is_all) {
      if (!it) {
        it.reset(s.db->NewIterator(leveldb::ReadOptions()));
        it->Seek(EventKey(m.first_seq));
      }
      while (head.size() < want) {
        if (!it->Valid() || !ToView(it->key()).starts_with(kEventPrefix)) {
          ZENML_TRY(FromLevelDb(it->status(), "reading the oldest events"));
          head_is_all = true;
          break;
        }
        auto v = DecodeEventValue(ToView(it->value()));
        head.push_back({v ? v->append_time_ms : 0, v ? v->json.size() : 0});
        head_keys.emplace_back(ToView(it->key()));
        head_seqs.push_back(
            DecodeSeqKey(ToView(it->key()), kEventPrefix).value_or(0));
        it->Next();
      }
    }
    drops = ApplyBounds({m.count, m.bytes}, head, head_is_all, incoming, now_ms,
                        limits);
    if (!drops.needs_more_head) break;
    want *= 4;
  }
  it.reset();

  for (size_t i = 0; i < drops.head; ++i) {
    batch->Delete(head_keys[i]);
    if (head_seqs[i] != 0) m.first_seq = head_seqs[i] + 1;
  }
  uint64_t dropped_total = 0;
  for (DropReason why :
       {DropReason::kMaxEvents, DropReason::kMaxBytes, DropReason::kMaxAge}) {
    const uint64_t n = drops.by_reason[static_cast<int>(why)];
    if (n > 0) m.dropped[std::string(DropReasonName(why))] += n;
    dropped_total += n;
  }
  m.deletes_since_compact += dropped_total;
  if (head_is_all && drops.head == head.size()) {
    m.first_seq = std::max(m.first_seq, m.next_seq);
  }

  // The last event kept carries the totals after the batch: an Append that
  // changes no other counter writes no c/ key (keys.h).
  size_t last_kept = events.size();
  for (size_t i = events.size(); i-- > 0;) {
    if (!drops.incoming[i]) {
      last_kept = i;
      break;
    }
  }
  uint64_t seq = m.next_seq;
  std::string value;
  for (size_t i = 0; i < events.size(); ++i) {
    if (drops.incoming[i]) continue;
    value.clear();
    AppendEventValue(events[i].time_ms, events[i].json, &value,
                     i == last_kept
                         ? std::optional(AppendTotals{drops.count, drops.bytes})
                         : std::nullopt);
    batch->Put(EventKey(seq++), value);
  }
  // Events dropped from the new ones were never counted in, so the head
  // must not point past a kept one.
  m.next_seq = seq;
  m.count = drops.count;
  m.bytes = drops.bytes;
  if (m.count == 0) m.first_seq = m.next_seq;
  return CommitMeta(s, m, batch, /*append=*/true);
}

Status Spool::Impl::AdvanceFirst(SharedDb& s, Meta* m,
                                 std::span<const uint64_t> deleted) {
  if (m->count == 0) {
    m->first_seq = m->next_seq;
    return Status::OK();
  }
  int probes = 0;
  std::string value;
  auto next_deleted =
      std::lower_bound(deleted.begin(), deleted.end(), m->first_seq);
  while (m->first_seq < m->next_seq) {
    if (next_deleted != deleted.end() && *next_deleted == m->first_seq) {
      ++next_deleted;
      m->first_seq++;
      continue;
    }
    if (probes++ >= kMaxHintProbes) break;
    leveldb::Status g =
        s.db->Get(leveldb::ReadOptions(), EventKey(m->first_seq), &value);
    if (!g.IsNotFound()) return FromLevelDb(g, "probing the head");
    m->first_seq++;
  }
  return Status::OK();
}

Status Spool::Impl::CommitMeta(SharedDb& s, Meta m, leveldb::WriteBatch* batch,
                               bool append) {
  m.write_errors += s.pending_write_errors;
  if (append && m.format_version < kFormatVersion) {
    // The first Append into a format-2 spool marks it format 3, in the batch
    // that writes its counters (a new format changes a counter, so this one
    // defers nothing); the next Append defers them. Only an Append marks
    // it: a format-2 program can go on sharing a spool that is only read.
    // m/format_version stays 2: format-1 programs refuse it as they would
    // 3, and rewritten beside the counters it would share their table.
    m.format_version = kFormatVersion;
  }
  if (PutMetaChangesBesideAppendCounters(batch, m, s.meta) == 0 && append) {
    m.append_counters_unwritten = true;
  } else {
    PutAppendCounters(batch, &m, &s.meta);
  }
  if (batch->ApproximateSize() <= kEmptyBatchSize) return Status::OK();
  ZENML_TRY(WriteLocked(s, batch));
  s.meta = m;
  s.pending_write_errors = 0;
  const bool due = (m.deletes_since_compact >= kCompactAfterDeletes &&
                    m.deletes_since_compact >= m.count) ||
                   (m.count == 0 &&
                    m.deletes_since_compact >= kCompactWhenEmptyAfterDeletes);
  if (due && !s.Compacting()) {
    // From the metadata on (it sorts first): the level-0 tables of
    // tombstones all start there.
    std::string end = EventKey(m.first_seq);
    if (s.holds > 0) {
      // Held across calls (an uploader's feed): in a thread of its own, so
      // the Acks and Peeks that follow do not wait for it (at 100,000
      // events the first one stopped the feed, and so the sends, for
      // 110 ms). The database closes only after it (CloseDb).
      s.JoinCompaction();  // a finished one
      s.compaction_done = false;
      s.compaction_pid = ::getpid();
      leveldb::DB* db = s.db.get();
      std::atomic<bool>* done = &s.compaction_done;
      s.compaction = std::thread([db, done, end = std::move(end)] {
        const leveldb::Slice e(end);
        db->CompactRange(nullptr, &e);
        *done = true;
      });
    } else {
      // Closed at the end of this call anyway: no use in a thread.
      const leveldb::Slice e(end);
      s.db->CompactRange(nullptr, &e);
    }
    // Counted from now on: deletes during a background compaction count
    // towards the next one.
    leveldb::WriteBatch reset;
    PutMetaInt(&reset, kMetaDeletesSinceCompact, 0);
    ZENML_TRY(WriteLocked(s, &reset));
    s.meta.deletes_since_compact = 0;
  }
  return Status::OK();
}

void SharedDb::JoinCompaction() {
  if (!compaction.joinable()) return;
  if (compaction_pid != ::getpid()) {
    // Inherited by a forked child, where the thread does not exist: left
    // alone (as the registry leaves the parent's handles), never joined.
    new std::thread(std::move(compaction));  // NOLINT: leaked on purpose
    return;
  }
  compaction.join();
}

Status Spool::Impl::WriteLocked(SharedDb& s, leveldb::WriteBatch* batch) {
  leveldb::WriteOptions wo;
  wo.sync = options_.sync;
  leveldb::Status ls = s.db->Write(wo, batch);
  s.written += batch->ApproximateSize();
  if (!ls.ok()) s.pending_write_errors++;
  return FromLevelDb(ls, "writing");
}

}  // namespace zenml::spool
