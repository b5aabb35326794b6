#include "spool/meta.h"

#include <leveldb/iterator.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <utility>

#include "core/result.h"
#include "spool/util.h"

namespace zenml::spool {

uint64_t GetMetaInt(leveldb::DB* db, std::string_view key, uint64_t fallback,
                    Status* status) {
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), ToSlice(key), &value);
  if (s.IsNotFound()) return fallback;
  if (!s.ok()) {
    *status = FromLevelDb(s, "reading metadata");
    return fallback;
  }
  return DecodeFixed64BE(value).value_or(fallback);
}

std::optional<uint64_t> GetMetaOpt(leveldb::DB* db, std::string_view key,
                                   Status* status) {
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), ToSlice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) {
    *status = FromLevelDb(s, "reading metadata");
    return std::nullopt;
  }
  return DecodeFixed64BE(value);
}

void PutMetaInt(leveldb::WriteBatch* batch, std::string_view key,
                uint64_t value) {
  batch->Put(ToSlice(key), EncodeFixed64BE(value));
}

namespace {

// The first key after every e/ key.
constexpr std::string_view kAfterEvents = "e0";

// Events at or past c/next_seq were appended after the counters were last
// written, by Appends that deferred them (keys.h): every other write writes
// them, so those events are contiguous and none has been deleted since. The
// last carries the totals after it; its count must be c/count plus those
// events, or the counters are rebuilt from the events instead. A spool whose
// Appends all deferred them has no c/count yet: its defaults (next_seq 1,
// count 0) are the counters before its first event.
Status RollForwardAppendCounters(leveldb::DB* db, Meta* m) {
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  // Forward first: a drained spool's tombstones all lie below c/next_seq,
  // and an open that finds nothing past it reads none of them.
  it->Seek(EventKey(m->next_seq));
  if (!it->Valid() || !ToView(it->key()).starts_with(kEventPrefix)) {
    return FromLevelDb(it->status(), "reading the last event");
  }
  // No tombstone lies past c/next_seq (a delete writes the counters), so
  // the step back from the end of the events lands on the last one.
  it->Seek(ToSlice(kAfterEvents));
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  ZENML_TRY(FromLevelDb(it->status(), "reading the last event"));
  // Any key past c/next_seq that is not a whole event with totals that add
  // up (count, and bytes at least the last JSON's) leaves the counters
  // unknown: an undecodable one too, or the next Append would reuse
  // sequences of events still there.
  const auto seq = it->Valid() ? DecodeSeqKey(ToView(it->key()), kEventPrefix)
                               : std::nullopt;
  const auto value = seq ? DecodeEventValue(ToView(it->value())) : std::nullopt;
  if (!seq || *seq < m->next_seq || !value || !value->intact ||
      !value->totals ||
      value->totals->count != m->count + (*seq - m->next_seq + 1) ||
      value->totals->bytes < m->bytes + value->json.size()) {
    m->append_totals_mismatch = true;
    return Status::OK();
  }
  m->next_seq = *seq + 1;
  m->count = value->totals->count;
  m->bytes = value->totals->bytes;
  m->counters_present = true;
  m->append_counters_unwritten = true;
  return Status::OK();
}

}  // namespace

Status LoadMeta(leveldb::DB* db, Meta* meta) {
  Status status;
  Meta m;
  m.next_seq = GetMetaInt(db, kMetaNextSeq, 1, &status);
  m.count = GetMetaInt(db, kMetaCount, 0, &status);
  m.bytes = GetMetaInt(db, kMetaBytes, 0, &status);
  m.dead_letters = GetMetaInt(db, kMetaDeadLetters, 0, &status);
  m.dead_letter_bytes = GetMetaOpt(db, kMetaDeadLetterBytes, &status);
  m.first_seq = GetMetaInt(db, kMetaFirstSeq, 1, &status);
  m.format_version = GetMetaInt(db, kMetaFormat, 0, &status);
  m.write_errors = GetMetaInt(db, kMetaWriteErrors, 0, &status);
  m.deletes_since_compact =
      GetMetaInt(db, kMetaDeletesSinceCompact, 0, &status);
  m.limit_max_events = GetMetaOpt(db, kMetaLimitMaxEvents, &status);
  m.limit_max_bytes = GetMetaOpt(db, kMetaLimitMaxBytes, &status);
  m.limit_max_age_s = GetMetaOpt(db, kMetaLimitMaxAgeS, &status);
  m.limit_dead_max_count = GetMetaOpt(db, kMetaLimitDeadMaxCount, &status);
  m.limit_dead_max_bytes = GetMetaOpt(db, kMetaLimitDeadMaxBytes, &status);
  m.limit_dead_max_age_s = GetMetaOpt(db, kMetaLimitDeadMaxAgeS, &status);
  m.repairs = GetMetaInt(db, kMetaRepairs, 0, &status);
  m.loss_unknown = GetMetaInt(db, kMetaLossUnknown, 0, &status);
  m.counters_present = GetMetaOpt(db, kMetaCount, &status).has_value();
  ZENML_TRY(status);
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(ToSlice(kMetaDropPrefix));
       it->Valid() && ToView(it->key()).starts_with(kMetaDropPrefix);
       it->Next()) {
    std::string name(ToView(it->key()).substr(kMetaDropPrefix.size()));
    m.dropped[name] = DecodeFixed64BE(ToView(it->value())).value_or(0);
  }
  ZENML_TRY(FromLevelDb(it->status(), "reading drop counters"));
  for (it->Seek(ToSlice(kMetaDeadDropPrefix));
       it->Valid() && ToView(it->key()).starts_with(kMetaDeadDropPrefix);
       it->Next()) {
    std::string name(ToView(it->key()).substr(kMetaDeadDropPrefix.size()));
    m.dead_dropped[name] = DecodeFixed64BE(ToView(it->value())).value_or(0);
  }
  ZENML_TRY(FromLevelDb(it->status(), "reading dead-letter drop counters"));
  ZENML_TRY(RollForwardAppendCounters(db, &m));
  *meta = std::move(m);
  return Status::OK();
}

namespace {

// Every counter but the append side's four that differs from `o` (all of
// them when `all`); returns how many keys it wrote.
size_t PutOtherMetaChanges(leveldb::WriteBatch* batch, const Meta& m,
                           const Meta& o, bool all) {
  size_t written = 0;
  auto put = [&](std::string_view key, uint64_t now, uint64_t before) {
    if (all || now != before) {
      PutMetaInt(batch, key, now);
      written++;
    }
  };
  auto put_opt = [&](std::string_view key, const std::optional<uint64_t>& now,
                     const std::optional<uint64_t>& before) {
    if (now && (all || now != before)) {
      PutMetaInt(batch, key, *now);
      written++;
    }
  };
  auto put_map = [&](std::string_view prefix,
                     const std::map<std::string, uint64_t>& now,
                     const std::map<std::string, uint64_t>& before) {
    for (const auto& [name, value] : now) {
      auto it = before.find(name);
      if (all || it == before.end() || it->second != value) {
        PutMetaInt(batch, std::string(prefix) + name, value);
        written++;
      }
    }
  };
  put(kMetaDeadLetters, m.dead_letters, o.dead_letters);
  put(kMetaFormat, m.format_version, o.format_version);
  put(kMetaWriteErrors, m.write_errors, o.write_errors);
  put(kMetaDeletesSinceCompact, m.deletes_since_compact,
      o.deletes_since_compact);
  put_opt(kMetaLimitMaxEvents, m.limit_max_events, o.limit_max_events);
  put_opt(kMetaLimitMaxBytes, m.limit_max_bytes, o.limit_max_bytes);
  put_opt(kMetaLimitMaxAgeS, m.limit_max_age_s, o.limit_max_age_s);
  put_opt(kMetaDeadLetterBytes, m.dead_letter_bytes, o.dead_letter_bytes);
  put_opt(kMetaLimitDeadMaxCount, m.limit_dead_max_count,
          o.limit_dead_max_count);
  put_opt(kMetaLimitDeadMaxBytes, m.limit_dead_max_bytes,
          o.limit_dead_max_bytes);
  put_opt(kMetaLimitDeadMaxAgeS, m.limit_dead_max_age_s,
          o.limit_dead_max_age_s);
  put(kMetaRepairs, m.repairs, o.repairs);
  put(kMetaLossUnknown, m.loss_unknown, o.loss_unknown);
  put_map(kMetaDropPrefix, m.dropped, o.dropped);
  put_map(kMetaDeadDropPrefix, m.dead_dropped, o.dead_dropped);
  return written;
}

}  // namespace

void PutAppendCounters(leveldb::WriteBatch* batch, Meta* m, const Meta* old) {
  const Meta empty;
  const Meta& o = old ? *old : empty;
  const bool all = old == nullptr || old->append_counters_unwritten;
  auto put = [&](std::string_view key, uint64_t now, uint64_t before) {
    if (all || now != before) PutMetaInt(batch, key, now);
  };
  put(kMetaNextSeq, m->next_seq, o.next_seq);
  put(kMetaCount, m->count, o.count);
  put(kMetaBytes, m->bytes, o.bytes);
  put(kMetaFirstSeq, m->first_seq, o.first_seq);
  m->append_counters_unwritten = false;
}

void PutMetaChanges(leveldb::WriteBatch* batch, Meta* m, const Meta* old) {
  PutAppendCounters(batch, m, old);
  const Meta empty;
  PutOtherMetaChanges(batch, *m, old ? *old : empty, /*all=*/old == nullptr);
}

size_t PutMetaChangesBesideAppendCounters(leveldb::WriteBatch* batch,
                                          const Meta& m, const Meta& old) {
  return PutOtherMetaChanges(batch, m, old, /*all=*/false);
}

std::string UploadRecordToJson(const UploadRecord& r) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("at");
  w.Int64(ToMs(r.at));
  w.Key("outcome");
  w.String(r.outcome.data(),
           static_cast<rapidjson::SizeType>(r.outcome.size()));
  w.Key("sent");
  w.Uint64(r.sent);
  w.Key("requests");
  w.Uint64(r.requests);
  w.Key("dead_lettered");
  w.Uint64(r.dead_lettered);
  w.Key("remaining");
  w.Uint64(r.remaining);
  if (r.not_before) {
    w.Key("not_before");
    w.Int64(ToMs(*r.not_before));
  }
  w.Key("detail");
  w.String(r.detail.data(), static_cast<rapidjson::SizeType>(r.detail.size()));
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::optional<UploadRecord> UploadRecordFromJson(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  UploadRecord r;
  auto i64 = [&](const char* key) -> std::optional<int64_t> {
    auto it = std::as_const(d).FindMember(key);
    if (it == std::as_const(d).MemberEnd() || !it->value.IsInt64())
      return std::nullopt;
    return it->value.GetInt64();
  };
  auto u64 = [&](const char* key) -> uint64_t {
    auto it = std::as_const(d).FindMember(key);
    return it != std::as_const(d).MemberEnd() && it->value.IsUint64()
               ? it->value.GetUint64()
               : 0;
  };
  auto str = [&](const char* key) -> std::string {
    auto it = std::as_const(d).FindMember(key);
    return it != std::as_const(d).MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : std::string();
  };
  r.at = FromMs(i64("at").value_or(0));
  r.outcome = str("outcome");
  r.sent = u64("sent");
  r.requests = u64("requests");
  r.dead_lettered = u64("dead_lettered");
  r.remaining = u64("remaining");
  if (auto nb = i64("not_before")) r.not_before = FromMs(*nb);
  r.detail = str("detail");
  return r;
}

}  // namespace zenml::spool
