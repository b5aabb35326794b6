// The metadata codec: the c/ counters (Meta) read from and written to the
// database, and the upload record's JSON. Internal to zenml::spool.
//
// LoadMeta reads every counter (absent keys read as their defaults; keys
// added after format 2 need no migration). PutMetaChanges writes only the
// counters that differ from `old`, so a batch carries the few that changed;
// an Append that changes only the append side's counters writes none
// (keys.h). Thread-compatible; failures are Statuses from LevelDB reads.

#ifndef ZENML_SPOOL_META_H_
#define ZENML_SPOOL_META_H_

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "spool/keys.h"
#include "spool/spool.h"

namespace zenml::spool {

// Metadata cached while this process holds the database open. Nobody else
// can change it meanwhile (LevelDB's lock), so reads of it are O(1).
struct Meta {
  uint64_t next_seq = 1;
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t dead_letters = 0;
  // Bytes of the stored d/ values; unset in a spool written before it was
  // kept (then Spool::DeadLetter sums them once).
  std::optional<uint64_t> dead_letter_bytes;
  uint64_t first_seq = 1;  // every e/ key below it is gone
  uint64_t format_version = kFormatVersion;
  uint64_t write_errors = 0;
  uint64_t deletes_since_compact = 0;
  std::map<std::string, uint64_t> dropped;  // by DropReasonName
  // The stored bounds; unset: never stored (SpoolLimits' default holds).
  std::optional<uint64_t> limit_max_events;
  std::optional<uint64_t> limit_max_bytes;
  std::optional<uint64_t> limit_max_age_s;
  std::optional<uint64_t> limit_dead_max_count;
  std::optional<uint64_t> limit_dead_max_bytes;
  std::optional<uint64_t> limit_dead_max_age_s;
  std::map<std::string, uint64_t> dead_dropped;  // by DropReasonName
  uint64_t repairs = 0;
  uint64_t loss_unknown = 0;     // 1: some repair lost an unknown number
  bool counters_present = true;  // c/count was found (false: rebuilt)
  // The append side's counters on disk (c/next_seq, c/count, c/bytes,
  // c/first_seq) lag these: an Append deferred them, or LoadMeta rolled them
  // forward from the last event's AppendTotals (keys.h). The next metadata
  // written writes all four.
  bool append_counters_unwritten = false;
  // LoadMeta found events at or past c/next_seq whose last carries no
  // AppendTotals, or totals that disagree with the counters: the open
  // rebuilds them from the events (RecountLocked).
  bool append_totals_mismatch = false;

  SpoolLimits Limits() const {
    SpoolLimits l;
    if (limit_max_events) l.max_events = *limit_max_events;
    if (limit_max_bytes) l.max_bytes = *limit_max_bytes;
    if (limit_max_age_s) {
      l.max_age = std::chrono::seconds(static_cast<int64_t>(
          std::min<uint64_t>(*limit_max_age_s, INT64_MAX)));
    }
    return l;
  }

  DeadLetterLimits DeadLimits() const {
    DeadLetterLimits l;
    if (limit_dead_max_count) l.max_count = *limit_dead_max_count;
    if (limit_dead_max_bytes) l.max_bytes = *limit_dead_max_bytes;
    if (limit_dead_max_age_s) {
      l.max_age = std::chrono::seconds(static_cast<int64_t>(
          std::min<uint64_t>(*limit_dead_max_age_s, INT64_MAX)));
    }
    return l;
  }
};

// The integer at `key`; `fallback` if absent or malformed; a read error goes
// to `*status`.
uint64_t GetMetaInt(leveldb::DB* db, std::string_view key, uint64_t fallback,
                    Status* status);
// The integer at `key`, nullopt if absent.
std::optional<uint64_t> GetMetaOpt(leveldb::DB* db, std::string_view key,
                                   Status* status);
void PutMetaInt(leveldb::WriteBatch* batch, std::string_view key,
                uint64_t value);
// Reads every counter, then rolls the append side's forward from the last
// event when it is at or past c/next_seq (keys.h).
Status LoadMeta(leveldb::DB* db, Meta* meta);
// Writes the counters of `m` that differ from `old` (all when `old` is null;
// the append side's four whenever `old->append_counters_unwritten`), and
// clears `m->append_counters_unwritten`: once the batch is written, the disk
// holds `*m`.
void PutMetaChanges(leveldb::WriteBatch* batch, Meta* m, const Meta* old);
// PutMetaChanges in two halves. The append side's four counters (next_seq,
// count, bytes, first_seq): those that differ from `old`, all of them when
// `old` is null or says they lag; clears `m->append_counters_unwritten`.
void PutAppendCounters(leveldb::WriteBatch* batch, Meta* m, const Meta* old);
// Every other counter of `m` that differs from `old`: what an Append must
// write beside its events. Returns how many keys it wrote.
size_t PutMetaChangesBesideAppendCounters(leveldb::WriteBatch* batch,
                                          const Meta& m, const Meta& old);

std::string UploadRecordToJson(const UploadRecord& r);
std::optional<UploadRecord> UploadRecordFromJson(std::string_view json);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_META_H_
