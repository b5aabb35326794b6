#include "spool/spool.h"

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

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
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
#include "spool/util.h"

#include "spool/spool_impl.h"

namespace zenml::spool {

namespace fs = std::filesystem;

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kMaxEvents:
      return "max_events";
    case DropReason::kMaxBytes:
      return "max_bytes";
    case DropReason::kMaxAge:
      return "max_age";
    case DropReason::kCorruption:
      return "corruption";
    case DropReason::kQueueFull:
      return "queue_full";
    case DropReason::kDiskFull:
      return "disk_full";
  }
  return "unknown";
}

Result<AppendTarget> Spool::Impl::Append(std::span<const std::string> messages,
                                         const WriterDrops& drops) {
  if (messages.empty() && drops.empty()) return AppendTarget::kDatabase;
  const int64_t now_ms = ToMs(clock_->Now());
  std::vector<NewEvent> events;
  events.reserve(messages.size());
  for (const std::string& m : messages) events.push_back({now_ms, m});
  Status st = Run(
      /*create=*/true,
      [&](SharedDb& s) {
        leveldb::WriteBatch batch;
        return AppendLocked(s, events, &batch, 0, false, &drops);
      },
      nullptr, /*ingest=*/true, Role::kWriter);
  if (st.ok()) return AppendTarget::kDatabase;
  if (st.code() != Status::Code::kBusy) return st;
  if (messages.empty()) return AppendTarget::kInbox;  // drops not recorded
  ZENML_TRY(WriteInbox(messages, now_ms).WithContext(st.message()));
  return AppendTarget::kInbox;
}

Status Spool::Impl::AppendToInbox(std::span<const std::string> messages) {
  if (messages.empty()) return Status::OK();
  return WriteInbox(messages, ToMs(clock_->Now()));
}

Result<size_t> Spool::Impl::VisitEvents(std::string_view after_key,
                                        size_t max_bytes, size_t max_count,
                                        bool ingest,
                                        const EntryVisitor& visit) {
  // Where to go on from: `after_key`, then the last event visited, so that
  // a second run of the transaction after a repair visits none twice.
  std::string resume(after_key);
  size_t visited = 0;
  size_t bytes = 0;
  bool stopped = false;
  bool absent = false;
  Status run_status = Run(
      /*create=*/false,
      [&](SharedDb& s) -> Status {
        if (stopped || visited >= max_count) return Status::OK();
        // Only readers that walk the spool pay for this, never a writer
        // (a tracking process must not spend seconds compacting), and never
        // a pure read (Scan).
        if (ingest) CompactIfLevel0Crowded(s);
        leveldb::ReadOptions ro;
        ro.verify_checksums = true;
        std::unique_ptr<leveldb::Iterator> it(s.db->NewIterator(ro));
        const std::string head = EventKey(s.meta.first_seq);
        if (!resume.empty() && resume >= head) {
          it->Seek(resume);
          if (it->Valid() && ToView(it->key()) == resume) it->Next();
        } else {
          it->Seek(head);
        }
        for (; it->Valid(); it->Next()) {
          const std::string_view key = ToView(it->key());
          if (!key.starts_with(kEventPrefix)) break;
          auto seq = DecodeSeqKey(key, kEventPrefix);
          auto value = DecodeEventValue(ToView(it->value()));
          if (!seq || !value) continue;  // not ours; never blocks the queue
          if (!value->intact) {
            // Repair (in Run) removes and counts it.
            return Status::Corruption(
                fmt::format("spool: event {} fails its checksum", *seq));
          }
          if (visited > 0 && bytes + value->json.size() > max_bytes) break;
          visited++;
          bytes += value->json.size();
          resume.assign(key);
          if (!visit(EntryView{key, *seq, value->json})) {
            stopped = true;
            break;
          }
          if (visited >= max_count) break;
        }
        return FromLevelDb(it->status(), "reading events");
      },
      &absent, ingest);
  ZENML_TRY(run_status);
  return visited;
}

Result<std::vector<Entry>> Spool::Impl::Peek(std::string_view after_key,
                                             size_t max_bytes, size_t max_count,
                                             bool ingest) {
  std::vector<Entry> out;
  ZENML_TRY(VisitEvents(
      after_key, max_bytes, max_count, ingest, [&](const EntryView& e) {
        out.push_back({std::string(e.key), e.seq, std::string(e.json)});
        return true;
      }));
  return out;
}

Status Spool::Impl::Ack(std::span<const std::string> keys) {
  if (keys.empty()) return Status::OK();
  for (const std::string& k : keys) {
    if (!DecodeSeqKey(k, kEventPrefix)) {
      return Status::InvalidArgument("spool: Ack of a key that is no event");
    }
  }
  bool absent = false;
  return Run(
      /*create=*/false,
      [&](SharedDb& s) -> Status {
        Meta m = s.meta;
        leveldb::WriteBatch batch;
        std::vector<uint64_t> deleted;  // ascending: keys are sorted
        // The keys of one Ack are usually a run of consecutive events (an
        // uploader acks what it peeked), so one iterator walks them in
        // order: a Next per key instead of a Get each (a Get searches the
        // memtable and every level again). A key more than a few steps
        // ahead is sought directly.
        std::vector<std::string_view> sorted(keys.begin(), keys.end());
        std::sort(sorted.begin(), sorted.end());
        std::unique_ptr<leveldb::Iterator> it(
            s.db->NewIterator(leveldb::ReadOptions()));
        bool positioned = false;
        for (const std::string_view k : sorted) {
          const uint64_t seq = *DecodeSeqKey(k, kEventPrefix);
          if (!deleted.empty() && deleted.back() == seq) continue;  // twice
          int steps = 0;
          while (positioned && it->Valid() && ToView(it->key()) < k &&
                 steps++ < kMaxAckSteps) {
            it->Next();
          }
          if (!positioned || !it->Valid() || ToView(it->key()) < k) {
            ZENML_TRY(FromLevelDb(it->status(), "reading acknowledged events"));
            it->Seek(ToSlice(k));
            positioned = true;
          }
          if (!it->Valid() || ToView(it->key()) != k) {
            ZENML_TRY(FromLevelDb(it->status(), "reading acknowledged events"));
            continue;  // acked before, or dropped
          }
          const uint64_t size = EventJsonSize(ToView(it->value()));
          batch.Delete(ToSlice(k));
          m.count = m.count > 0 ? m.count - 1 : 0;
          m.bytes = m.bytes >= size ? m.bytes - size : 0;
          deleted.push_back(seq);
        }
        ZENML_TRY(FromLevelDb(it->status(), "reading acknowledged events"));
        it.reset();
        if (deleted.empty()) return Status::OK();
        ZENML_TRY(AdvanceFirst(s, &m, deleted));
        m.deletes_since_compact += deleted.size();
        return CommitMeta(s, m, &batch);
      },
      &absent);
}

Result<std::vector<DeadLetterEntry>> Spool::Impl::PeekDeadLetters(
    uint64_t after_seq, size_t max_count) {
  std::vector<DeadLetterEntry> out;
  if (after_seq == UINT64_MAX || max_count == 0) return out;
  bool absent = false;
  Status run_status = Run(
      /*create=*/false,
      [&](SharedDb& s) -> Status {
        out.clear();
        leveldb::ReadOptions ro;
        ro.verify_checksums = true;
        std::unique_ptr<leveldb::Iterator> it(s.db->NewIterator(ro));
        for (it->Seek(DeadLetterKey(after_seq + 1)); it->Valid(); it->Next()) {
          auto seq = DecodeSeqKey(ToView(it->key()), kDeadLetterPrefix);
          if (!seq) break;
          rapidjson::Document d;
          d.Parse(it->value().data(), it->value().size());
          if (d.HasParseError() || !d.IsObject()) continue;
          DeadLetterEntry e;
          e.seq = *seq;
          if (d.HasMember("status") && d["status"].IsInt()) {
            e.status = d["status"].GetInt();
          }
          if (d.HasMember("reason") && d["reason"].IsString()) {
            e.reason.assign(d["reason"].GetString(),
                            d["reason"].GetStringLength());
          }
          if (d.HasMember("at") && d["at"].IsInt64()) {
            e.at = FromMs(d["at"].GetInt64());
          }
          if (d.HasMember("message") && d["message"].IsString()) {
            e.message.assign(d["message"].GetString(),
                             d["message"].GetStringLength());
          }
          out.push_back(std::move(e));
          if (out.size() >= max_count) break;
        }
        return FromLevelDb(it->status(), "reading dead letters");
      },
      &absent, /*ingest=*/false);
  ZENML_TRY(run_status);
  return out;
}

Result<SpoolStats> Spool::Impl::Stats() {
  SpoolStats stats;
  bool absent = false;
  Status run_status = Run(
      /*create=*/false,
      [&](SharedDb& s) -> Status {
        const Meta& m = s.meta;
        stats.count = m.count;
        stats.bytes = m.bytes;
        stats.next_seq = m.next_seq;
        stats.dead_letters = m.dead_letters;
        stats.dead_letter_bytes = m.dead_letter_bytes.value_or(0);
        stats.dead_letters_dropped = m.dead_dropped;
        stats.dead_letter_limits = m.DeadLimits();
        stats.dropped = m.dropped;
        stats.write_errors = m.write_errors + s.pending_write_errors;
        stats.format_version = m.format_version;
        stats.limits = m.Limits();
        stats.repairs = m.repairs;
        stats.corruption_loss_unknown = m.loss_unknown != 0;
        for (const std::string& name : InboxFiles(/*remove_stale=*/false)) {
          std::string marker;
          if (s.db->Get(leveldb::ReadOptions(), InboxMarkerKey(name), &marker)
                  .ok()) {
            continue;  // ingested already; only its unlink is left
          }
          stats.inbox_files++;
          stats.inbox_events +=
              InboxDeclaredCount(s.env.get(), inbox_path_ + "/" + name);
        }
        std::string value;
        leveldb::Status g =
            s.db->Get(leveldb::ReadOptions(), ToSlice(kMetaLastUpload), &value);
        if (g.ok()) {
          stats.last_upload = UploadRecordFromJson(value);
        } else if (!g.IsNotFound()) {
          return FromLevelDb(g, "reading the last upload");
        }
        g = s.db->Get(leveldb::ReadOptions(), ToSlice(kMetaNotBefore), &value);
        if (g.ok()) {
          if (auto ms = DecodeFixed64BE(value)) {
            stats.not_before = FromMs(static_cast<int64_t>(*ms));
          }
        } else if (!g.IsNotFound()) {
          return FromLevelDb(g, "reading not-before");
        }
        return Status::OK();
      },
      &absent, /*ingest=*/false);
  ZENML_TRY(run_status);
  if (absent) {
    stats.next_seq = 1;
    stats.format_version = 0;  // no spool yet
    if (shared_ != nullptr) stats.write_errors = shared_->pending_write_errors;
    for (const std::string& name : InboxFiles(/*remove_stale=*/false)) {
      stats.inbox_files++;
      stats.inbox_events +=
          InboxDeclaredCount(SharedEnv(), inbox_path_ + "/" + name);
    }
  }
  return stats;
}

Status Spool::Impl::RecordUpload(const UploadRecord& record) {
  return Run(
      /*create=*/true,
      [&](SharedDb& s) -> Status {
        leveldb::WriteBatch batch;
        batch.Put(ToSlice(kMetaLastUpload), UploadRecordToJson(record));
        if (record.not_before) {
          PutMetaInt(&batch, kMetaNotBefore,
                     static_cast<uint64_t>(ToMs(*record.not_before)));
        } else {
          batch.Delete(ToSlice(kMetaNotBefore));
        }
        return WriteLocked(s, &batch);
      },
      nullptr);
}

Status Spool::Impl::Hold(Role role) {
  SharedDb& s = Shared();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.db) {
    ZENML_TRY(
        OpenLocked(s, /*create=*/true, /*writes=*/true, std::nullopt, role));
  }
  s.holds++;
  my_holds_++;
  return Status::OK();
}

bool Spool::Impl::ReaderWaiting() {
  SharedDb& s = Shared();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.db && s.turns != nullptr && s.turns->ReaderWaiting();
}

bool Spool::Impl::WriterWaiting() {
  SharedDb& s = Shared();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.db && s.turns != nullptr && s.turns->WriterWaiting();
}

bool Spool::Impl::YieldToWaiters() {
  bool writer = false;
  {
    SharedDb& s = Shared();
    std::lock_guard<std::mutex> lock(s.mu);
    if (my_holds_ == 0 || !s.db || s.turns == nullptr) return false;
    writer = s.turns->WriterWaiting();
    if (!writer && !s.turns->ReaderWaiting()) return false;
    // Another holder in this process may keep it open: then there is no
    // turn to give, and no pause.
    if (!ReleaseLocked(s)) return true;
  }
  // The writer sleeps between attempts (LockBackoff): give it the time to
  // take the database before this process opens it again. This ends as
  // soon as it has it (or it gave up at its lock_wait).
  // With several writers waiting, one getting in is enough: this process's
  // next open queues it as a reader, and the others step aside for it.
  if (writer) {
    const auto writer_turn_pending = [this] {
      SharedDb& s = Shared();
      std::lock_guard<std::mutex> lock(s.mu);
      if (s.db || s.turns == nullptr) return false;  // reopened meanwhile
      return s.turns->WriterWaiting() && !s.turns->DatabaseTaken();
    };
    const core::MonoTime deadline = clock_->Monotonic() + kWriterTurnWait;
    while (clock_->Monotonic() < deadline && writer_turn_pending()) {
      clock_->SleepFor(kStepAsidePoll);
    }
  }
  return true;
}

bool Spool::Impl::CompactingLevel0() {
  SharedDb& s = Shared();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.db && Level0Files(s) >= kLevel0CompactionTrigger;
}

void Spool::Impl::Release() {
  SharedDb& s = Shared();
  std::lock_guard<std::mutex> lock(s.mu);
  if (my_holds_ > 0) ReleaseLocked(s);
}

bool Spool::Impl::ReleaseLocked(SharedDb& s) {
  my_holds_--;
  s.holds--;
  if (s.holds > 0) return false;
  CloseFlushed(s);
  return true;
}

Spool::Spool(SpoolOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}

Spool::~Spool() = default;

Result<AppendTarget> Spool::Append(std::span<const std::string> messages,
                                   const WriterDrops& drops) {
  return impl_->Append(messages, drops);
}

Status Spool::AppendToInbox(std::span<const std::string> messages) {
  return impl_->AppendToInbox(messages);
}

Result<std::vector<Entry>> Spool::Peek(std::string_view after_key,
                                       size_t max_bytes, size_t max_count) {
  return impl_->Peek(after_key, max_bytes, max_count, /*ingest=*/true);
}

Result<std::vector<Entry>> Spool::ScanInbox() { return impl_->ScanInbox(); }

Result<std::vector<Entry>> Spool::Scan(std::string_view after_key,
                                       size_t max_bytes, size_t max_count) {
  return impl_->Peek(after_key, max_bytes, max_count, /*ingest=*/false);
}

Result<size_t> Spool::ScanEach(std::string_view after_key, size_t max_bytes,
                               size_t max_count, const EntryVisitor& visit) {
  return impl_->VisitEvents(after_key, max_bytes, max_count,
                            /*ingest=*/false, visit);
}

Status Spool::Ack(std::span<const std::string> keys) {
  return impl_->Ack(keys);
}

Status Spool::DeadLetter(std::string_view key, int http_status,
                         std::string_view reason) {
  return impl_->DeadLetter(key, http_status, reason);
}

Result<std::vector<DeadLetterEntry>> Spool::PeekDeadLetters(uint64_t after_seq,
                                                            size_t max_count) {
  return impl_->PeekDeadLetters(after_seq, max_count);
}

Result<RequeueResult> Spool::RequeueDeadLetters(const RequeueOptions& options) {
  return impl_->RequeueDeadLetters(options);
}

Result<SpoolStats> Spool::Stats() { return impl_->Stats(); }

Result<uint64_t> Spool::Purge() { return impl_->Purge(); }

Status Spool::RecordUpload(const UploadRecord& record) {
  return impl_->RecordUpload(record);
}

Status Spool::Hold(Role role) { return impl_->Hold(role); }
bool Spool::ReaderWaiting() { return impl_->ReaderWaiting(); }
bool Spool::WriterWaiting() { return impl_->WriterWaiting(); }
bool Spool::YieldToWaiters() { return impl_->YieldToWaiters(); }
bool Spool::CompactingLevel0() { return impl_->CompactingLevel0(); }

void Spool::Release() { impl_->Release(); }

}  // namespace zenml::spool
