// Spool::Impl's dead-letter writes (spool/dead_letters.h): DeadLetter, which
// moves an event to d/ and applies the dead letters' bounds in the same
// WriteBatch, and RequeueDeadLetters, which moves them back in one.

#include <fmt/format.h>
#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/write_batch.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "spool/keys.h"
#include "spool/meta.h"
#include "spool/spool_impl.h"
#include "spool/util.h"

namespace zenml::spool {
namespace {

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view TruncateUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// The `at` (ms) of a d/ value; nullopt if it has none.
std::optional<int64_t> DeadLetterAtMs(std::string_view value) {
  rapidjson::Document d;
  d.Parse(value.data(), value.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("at") ||
      !d["at"].IsInt64()) {
    return std::nullopt;
  }
  return d["at"].GetInt64();
}

// now - max_age in ms, clamped (max_age may be "forever").
int64_t AgeCutoffMs(int64_t now_ms, std::chrono::seconds max_age) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t age_s = max_age.count();
  if (age_s < 0) return now_ms;
  if (age_s > kMax / 1000) return std::numeric_limits<int64_t>::min();
  const int64_t age_ms = age_s * 1000;
  if (now_ms < 0 || age_ms > now_ms) return std::numeric_limits<int64_t>::min();
  return now_ms - age_ms;
}

// Sum of the stored d/ values, for a spool written before the sum was kept.
Status SumDeadLetterBytes(leveldb::DB* db, uint64_t* bytes) {
  *bytes = 0;
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(ToSlice(kDeadLetterPrefix));
       it->Valid() && ToView(it->key()).starts_with(kDeadLetterPrefix);
       it->Next()) {
    *bytes += it->value().size();
  }
  return FromLevelDb(it->status(), "summing dead letters");
}

}  // namespace

Status Spool::Impl::BoundDeadLettersLocked(SharedDb& s, Meta* m,
                                           leveldb::WriteBatch* batch,
                                           uint64_t new_seq, uint64_t new_bytes,
                                           bool* drop_new) {
  *drop_new = false;
  if (!m->dead_letter_bytes) {
    uint64_t sum = 0;
    ZENML_TRY(SumDeadLetterBytes(s.db.get(), &sum));
    m->dead_letter_bytes = sum;
  }
  const DeadLetterLimits limits = m->DeadLimits();
  const int64_t cutoff = AgeCutoffMs(ToMs(clock_->Now()), limits.max_age);
  uint64_t count = m->dead_letters + 1;
  uint64_t bytes = *m->dead_letter_bytes + new_bytes;
  auto over = [&] {
    return count > limits.max_count || bytes > limits.max_bytes;
  };
  auto count_drop = [&](DropReason why) {
    m->dead_dropped[std::string(DropReasonName(why))]++;
    m->deletes_since_compact++;
  };
  auto over_reason = [&] {
    return count > limits.max_count ? DropReason::kMaxEvents
                                    : DropReason::kMaxBytes;
  };
  // Oldest first: the lowest sequence. The new dead letter is not in the
  // database yet; it takes its place in that order.
  std::unique_ptr<leveldb::Iterator> it(
      s.db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(ToSlice(kDeadLetterPrefix));
       it->Valid() && ToView(it->key()).starts_with(kDeadLetterPrefix);) {
    auto seq = DecodeSeqKey(ToView(it->key()), kDeadLetterPrefix);
    if (!seq) {
      it->Next();
      continue;
    }
    if (over() && !*drop_new && new_seq < *seq) {
      count_drop(over_reason());
      *drop_new = true;
      count--;
      bytes -= new_bytes;
      continue;
    }
    std::optional<int64_t> at = DeadLetterAtMs(ToView(it->value()));
    const bool too_old = at && *at < cutoff;
    if (!over() && !too_old) break;
    count_drop(too_old ? DropReason::kMaxAge : over_reason());
    batch->Delete(it->key());
    count--;
    const uint64_t size = it->value().size();
    bytes = bytes >= size ? bytes - size : 0;
    it->Next();
  }
  ZENML_TRY(FromLevelDb(it->status(), "bounding dead letters"));
  if (over() && !*drop_new) {  // every older one is gone: the new one goes
    count_drop(over_reason());
    *drop_new = true;
    count--;
    bytes -= new_bytes;
  }
  m->dead_letters = count;
  m->dead_letter_bytes = bytes;
  return Status::OK();
}

Status Spool::Impl::DeadLetter(std::string_view key, int http_status,
                               std::string_view reason) {
  auto seq = DecodeSeqKey(key, kEventPrefix);
  if (!seq) {
    return Status::InvalidArgument(
        "spool: DeadLetter of a key that is no event");
  }
  bool absent = false;
  Status run_status = Run(
      /*create=*/false,
      [&](SharedDb& s) -> Status {
        std::string value;
        leveldb::Status g =
            s.db->Get(leveldb::ReadOptions(), ToSlice(key), &value);
        if (g.IsNotFound()) {
          return Status::NotFound(
              fmt::format("spool: no pending event with sequence {}", *seq));
        }
        ZENML_TRY(FromLevelDb(g, "reading a dead letter"));
        auto ev = DecodeEventValue(value);
        if (!ev) return Status::Corruption("spool: malformed event value");
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
        const std::string_view cut = TruncateUtf8(reason, kMaxReasonBytes);
        w.StartObject();
        w.Key("status");
        w.Int(http_status);
        w.Key("reason");
        w.String(cut.data(), static_cast<rapidjson::SizeType>(cut.size()));
        w.Key("at");
        w.Int64(ToMs(clock_->Now()));
        w.Key("message");
        w.String(ev->json.data(),
                 static_cast<rapidjson::SizeType>(ev->json.size()));
        w.EndObject();
        Meta m = s.meta;
        if (options_.max_dead_letters) {
          m.limit_dead_max_count = *options_.max_dead_letters;
        }
        if (options_.max_dead_letter_bytes) {
          m.limit_dead_max_bytes = *options_.max_dead_letter_bytes;
        }
        if (options_.max_dead_letter_age) {
          m.limit_dead_max_age_s = static_cast<uint64_t>(
              std::max<int64_t>(0, options_.max_dead_letter_age->count()));
        }
        leveldb::WriteBatch batch;
        batch.Delete(ToSlice(key));
        m.count = m.count > 0 ? m.count - 1 : 0;
        m.bytes = m.bytes >= ev->json.size() ? m.bytes - ev->json.size() : 0;
        bool drop_new = false;
        ZENML_TRY(BoundDeadLettersLocked(s, &m, &batch, *seq, buffer.GetSize(),
                                         &drop_new));
        if (!drop_new) {
          batch.Put(DeadLetterKey(*seq),
                    leveldb::Slice(buffer.GetString(), buffer.GetSize()));
        }
        m.deletes_since_compact++;
        const uint64_t gone[] = {*seq};
        ZENML_TRY(AdvanceFirst(s, &m, gone));
        return CommitMeta(s, m, &batch);
      },
      &absent);
  ZENML_TRY(run_status);
  if (absent) {
    return Status::NotFound(
        fmt::format("spool: no pending event with sequence {}", *seq));
  }
  return Status::OK();
}

Result<RequeueResult> Spool::Impl::RequeueDeadLetters(
    const RequeueOptions& options) {
  RequeueResult result;
  bool absent = false;
  Status run_status = Run(
      /*create=*/false,
      [&](SharedDb& s) -> Status {
        result = RequeueResult();  // a retry after a repair starts over
        Meta m = s.meta;
        if (!m.dead_letter_bytes) {
          uint64_t sum = 0;
          ZENML_TRY(SumDeadLetterBytes(s.db.get(), &sum));
          m.dead_letter_bytes = sum;
        }
        const SpoolLimits limits = m.Limits();
        const int64_t now_ms = ToMs(clock_->Now());
        // INT64_MIN: no --since (GCC 12 misreads an optional here).
        const int64_t since_ms = options.since
                                     ? ToMs(*options.since)
                                     : std::numeric_limits<int64_t>::min();
        leveldb::WriteBatch batch;
        bool full = false;
        std::unique_ptr<leveldb::Iterator> it(
            s.db->NewIterator(leveldb::ReadOptions()));
        for (it->Seek(ToSlice(kDeadLetterPrefix));
             it->Valid() && ToView(it->key()).starts_with(kDeadLetterPrefix);
             it->Next()) {
          auto seq = DecodeSeqKey(ToView(it->key()), kDeadLetterPrefix);
          rapidjson::Document d;
          d.Parse(it->value().data(), it->value().size());
          if (!seq || d.HasParseError() || !d.IsObject() ||
              !d.HasMember("message") || !d["message"].IsString()) {
            result.unreadable++;
            continue;
          }
          if (options.since) {
            const bool has_at = d.HasMember("at") && d["at"].IsInt64();
            if (!has_at || d["at"].GetInt64() < since_ms) {
              result.older++;
              continue;
            }
          }
          const std::string_view message(d["message"].GetString(),
                                         d["message"].GetStringLength());
          // Stop at the first that does not fit: what is requeued stays a
          // prefix of the dead letters, in order.
          if (full || m.count + 1 > limits.max_events ||
              m.bytes + message.size() > limits.max_bytes) {
            full = true;
            result.left_no_room++;
            continue;
          }
          batch.Put(EventKey(*seq), EncodeEventValue(now_ms, message));
          batch.Delete(it->key());
          m.count++;
          m.bytes += message.size();
          m.dead_letters = m.dead_letters > 0 ? m.dead_letters - 1 : 0;
          const uint64_t size = it->value().size();
          m.dead_letter_bytes =
              *m.dead_letter_bytes >= size ? *m.dead_letter_bytes - size : 0;
          if (result.requeued == 0) result.first_seq = *seq;
          result.last_seq = *seq;
          result.requeued++;
          result.requeued_bytes += message.size();
        }
        ZENML_TRY(FromLevelDb(it->status(), "reading dead letters"));
        it.reset();
        result.remaining = m.dead_letters;
        if (result.requeued == 0) return Status::OK();
        // Every e/ key below first_seq is gone: no longer so.
        m.first_seq = std::min(m.first_seq, result.first_seq);
        return CommitMeta(s, m, &batch);
      },
      &absent);
  ZENML_TRY(run_status);
  if (absent) return RequeueResult();
  return result;
}

}  // namespace zenml::spool
