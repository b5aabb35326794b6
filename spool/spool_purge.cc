// Spool::Impl::Purge (spool_impl.h): deletes every pending event, dead letter
// and inbox file so that no file of the spool keeps an event's bytes, the
// promise `zenml-analytics opt-out` makes.

#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/write_batch.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "spool/inbox.h"
#include "spool/keys.h"
#include "spool/meta.h"
#include "spool/spool_impl.h"
#include "spool/util.h"

namespace zenml::spool {

Result<uint64_t> Spool::Impl::Purge() {
  uint64_t deleted = 0;
  bool absent = false;
  Status run_status = Run(
      /*create=*/false,
      [&](SharedDb& s) -> Status {
        leveldb::WriteBatch batch;
        std::unique_ptr<leveldb::Iterator> it(
            s.db->NewIterator(leveldb::ReadOptions()));
        for (it->Seek(EventKey(s.meta.first_seq)); it->Valid(); it->Next()) {
          if (!ToView(it->key()).starts_with(kEventPrefix)) break;
          batch.Delete(it->key());
        }
        for (std::string_view prefix : {kDeadLetterPrefix, kInboxMarkerPrefix,
                                        kMetaDropPrefix, kMetaDeadDropPrefix}) {
          for (it->Seek(ToSlice(prefix));
               it->Valid() && ToView(it->key()).starts_with(prefix);
               it->Next()) {
            batch.Delete(it->key());
          }
        }
        ZENML_TRY(FromLevelDb(it->status(), "purging"));
        batch.Delete(ToSlice(kMetaLastUpload));
        batch.Delete(ToSlice(kMetaNotBefore));
        deleted = s.meta.count;
        Meta m;
        m.next_seq = s.meta.next_seq;  // sequences never go back
        m.limit_max_events = s.meta.limit_max_events;  // policy, not data
        m.limit_max_bytes = s.meta.limit_max_bytes;
        m.limit_max_age_s = s.meta.limit_max_age_s;
        m.limit_dead_max_count = s.meta.limit_dead_max_count;
        m.limit_dead_max_bytes = s.meta.limit_dead_max_bytes;
        m.limit_dead_max_age_s = s.meta.limit_dead_max_age_s;
        m.dead_letter_bytes = 0;
        m.first_seq = m.next_seq;
        PutMetaChanges(&batch, &m, nullptr);
        ZENML_TRY(WriteLocked(s, &batch));
        s.meta = m;
        s.pending_write_errors = 0;
        // Everything a purge deletes sorts before m/: the format guard's
        // table (InitFormatLocked) is left alone, not merged with the rest.
        const leveldb::Slice before_guard = ToSlice(kLegacyMetaPrefix);
        s.db->CompactRange(nullptr, &before_guard);
        // LevelDB's CompactRange picks the levels to compact before it
        // flushes the memtable, and a flushed memtable may land on level 2,
        // past them: events that never left the memtable would stay readable
        // in that table, next to their deletions. Writing the metadata again
        // puts a newer table over the same range, and a second CompactRange
        // merges both into the bottom level, where deleted values are
        // dropped: no file holds event JSON after a purge.
        leveldb::WriteBatch again;
        PutMetaChanges(&again, &m, nullptr);
        ZENML_TRY(WriteLocked(s, &again));
        s.db->CompactRange(nullptr, &before_guard);
        RemoveRepairArchiveLocked(s);
        return Status::OK();
      },
      &absent, /*ingest=*/false);
  ZENML_TRY(run_status);
  // With no database there can be no inbox worth keeping either. Its
  // events are deleted unread (not ingested), but counted.
  for (const std::string& name : InboxFiles()) {
    const std::string path = inbox_path_ + "/" + name;
    std::string data;
    std::vector<PendingEvent> events;
    if (ReadWholeFile(SharedEnv(), path, &data).ok() &&
        DecodeInbox(data, &events)) {
      deleted += events.size();
    }
    SharedEnv()->RemoveFile(path);
  }
  // Inbox files set aside as unreadable (IngestInboxLocked): their events
  // were counted lost, and their bytes go with the rest.
  std::vector<std::string> children;
  if (SharedEnv()->GetChildren(inbox_path_, &children).ok()) {
    for (const std::string& name : children) {
      if (name.ends_with(kInboxBadSuffix)) {
        SharedEnv()->RemoveFile(inbox_path_ + "/" + name);
      }
    }
  }
  return deleted;
}

}  // namespace zenml::spool
