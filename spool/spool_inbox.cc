// Spool::Impl: inbox ingestion and writing (spool_impl.h).

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

namespace fs = std::filesystem;

Status Spool::Impl::SweepMarkersLocked(SharedDb& s) {
  leveldb::WriteBatch batch;
  bool any = false;
  std::unique_ptr<leveldb::Iterator> it(
      s.db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(ToSlice(kInboxMarkerPrefix));
       it->Valid() && ToView(it->key()).starts_with(kInboxMarkerPrefix);
       it->Next()) {
    const std::string name(ToView(it->key()).substr(kInboxMarkerPrefix.size()));
    if (!s.env->FileExists(inbox_path_ + "/" + name)) {
      batch.Delete(it->key());
      any = true;
    }
  }
  ZENML_TRY(FromLevelDb(it->status(), "reading inbox markers"));
  if (!any) return Status::OK();
  return FromLevelDb(s.db->Write(leveldb::WriteOptions(), &batch),
                     "removing inbox markers");
}

std::vector<std::string> Spool::Impl::InboxFiles(bool remove_stale) {
  std::vector<std::string> children, out;
  if (!SharedEnv()->GetChildren(inbox_path_, &children).ok()) return out;
  const auto stale_before =
      std::chrono::system_clock::now() - std::chrono::hours(1);
  for (std::string& name : children) {
    if (name.ends_with(kInboxSuffix) && !name.starts_with(".")) {
      out.push_back(std::move(name));
    } else if (remove_stale && name.starts_with(kInboxTmpPrefix)) {
      const std::string path = inbox_path_ + "/" + name;
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 &&
          std::chrono::system_clock::from_time_t(st.st_mtime) < stale_before) {
        SharedEnv()->RemoveFile(path);
      }
    }
  }
  std::sort(out.begin(), out.end());  // names start with the time
  return out;
}

Status Spool::Impl::IngestInboxLocked(SharedDb& s) {
  const std::vector<std::string> names = InboxFiles();
  if (names.empty()) return Status::OK();
  // After the lock is taken: an opt-out that changed config.yaml before we
  // got it is seen here; one after it waits for us, then purges (spool.h).
  if (options_.ingest_allowed && !options_.ingest_allowed()) {
    return Status::OK();
  }
  std::vector<std::string> fresh, done;
  std::vector<PendingEvent> owned;
  std::string value;
  uint64_t lost = 0;
  bool lost_unknown = false;
  for (const std::string& name : names) {
    const std::string marker = InboxMarkerKey(name);
    leveldb::Status g = s.db->Get(leveldb::ReadOptions(), marker, &value);
    if (g.ok()) {
      done.push_back(name);
      continue;
    }
    if (!g.IsNotFound()) return FromLevelDb(g, "reading an inbox marker");
    std::string data;
    const std::string path = inbox_path_ + "/" + name;
    if (!ReadWholeFile(s.env.get(), path, &data).ok()) {
      // Unreadable: keep it aside for a human, never loop on it.
      s.env->RenameFile(path, path + std::string(kInboxBadSuffix));
      lost_unknown = true;
      continue;
    }
    const size_t before = owned.size();
    uint64_t declared = 0;
    if (!DecodeInbox(data, &owned, &declared)) {
      // Damaged (files are renamed into place whole, so only damage cuts
      // one): what is whole is ingested, the rest counted as corruption,
      // or as an unknown loss if not even the header says how many.
      const uint64_t salvaged = owned.size() - before;
      if (declared > salvaged) lost += declared - salvaged;
      if (declared == 0) lost_unknown = true;
      LogLine(s.logger.get(), "spool: inbox file %s damaged: %llu kept",
              name.c_str(), static_cast<unsigned long long>(salvaged));
    }
    fresh.push_back(name);
  }
  if (!fresh.empty() || lost_unknown) {
    std::vector<NewEvent> events;
    events.reserve(owned.size());
    for (const PendingEvent& e : owned) events.push_back({e.time_ms, e.json});
    leveldb::WriteBatch batch;
    for (const std::string& name : fresh) batch.Put(InboxMarkerKey(name), "");
    ZENML_TRY(AppendLocked(s, events, &batch, lost, lost_unknown));
    // tests/spool/spool_helper.cc --crash-after-ingest dies here, in the
    // first RemoveFile below (through a leveldb::Env wrapper).
  }
  leveldb::WriteBatch markers;
  for (const auto* list : {&fresh, &done}) {
    for (const std::string& name : *list) {
      s.env->RemoveFile(inbox_path_ + "/" + name);
      markers.Delete(InboxMarkerKey(name));
    }
  }
  // Only the unlinks: a power cut that undoes one leaves file and marker,
  // and the next ingestion only unlinks again.
  (void)SyncDir(base_env_, inbox_path_);
  // Not synced: a lost marker removal is redone by SweepMarkersLocked.
  return FromLevelDb(s.db->Write(leveldb::WriteOptions(), &markers),
                     "removing inbox markers");
}

Status Spool::Impl::WriteInbox(std::span<const std::string> messages,
                               int64_t time_ms) {
  ZENML_TRY(PrepareDir(base_env_, dir_, true));
  ZENML_TRY(PrepareDir(base_env_, dir_ / "inbox", true));
  thread_local std::mt19937_64 rng(std::random_device{}());
  const std::string name = fmt::format("{:016x}-{}-{:016x}{}", time_ms,
                                       ::getpid(), rng(), kInboxSuffix);
  const std::string tmp =
      inbox_path_ + "/" + std::string(kInboxTmpPrefix) + name;
  const std::string data = EncodeInbox(messages, time_ms);
  leveldb::Env* env = SharedEnv();
  leveldb::WritableFile* raw = nullptr;
  leveldb::Status ls = env->NewWritableFile(tmp, &raw);
  if (ls.ok()) {
    std::unique_ptr<leveldb::WritableFile> file(raw);
    ls = file->Append(data);
    if (ls.ok()) ls = file->Sync();
    leveldb::Status closed = file->Close();
    if (ls.ok()) ls = closed;
  }
  if (ls.ok()) ls = env->RenameFile(tmp, inbox_path_ + "/" + name);
  if (!ls.ok()) {
    env->RemoveFile(tmp);
    return FromLevelDb(ls, "writing an inbox file");
  }
  // The rename is durable only once the directory is: until then the
  // events are not acknowledged. So are the names of inbox/ and analytics/:
  // whoever created them may have died before it synced them, and a writer
  // that finds them does not create them (three directory fsyncs, on the
  // inbox path only: a writer that found the database busy past lock_wait,
  // and every batch of a Client that writes only inbox files, in a process
  // forked from one that had the database open). A failed fsync after the
  // rename is reported and the batch written again: a duplicate (delivery
  // is at least once, by design), never a loss.
  ZENML_TRY(SyncDir(base_env_, inbox_path_));
  ZENML_TRY(SyncDir(base_env_, dir_));
  return SyncParent(base_env_, dir_);
}

Result<std::vector<Entry>> Spool::Impl::ScanInbox() {
  std::vector<Entry> out;
  std::vector<std::string> names;
  bool absent = false;
  Status run_status = Run(
      /*create=*/false,
      [&](SharedDb& s) -> Status {
        std::string marker;
        for (std::string& name : InboxFiles(/*remove_stale=*/false)) {
          if (s.db->Get(leveldb::ReadOptions(), InboxMarkerKey(name), &marker)
                  .ok()) {
            continue;  // ingested already; only its unlink is left
          }
          names.push_back(std::move(name));
        }
        return Status::OK();
      },
      &absent, /*ingest=*/false);
  ZENML_TRY(run_status);
  if (absent) names = InboxFiles(/*remove_stale=*/false);
  for (const std::string& name : names) {
    std::string data;
    if (!ReadWholeFile(SharedEnv(), inbox_path_ + "/" + name, &data).ok()) {
      continue;  // gone meanwhile (ingested by another process)
    }
    std::vector<PendingEvent> events;
    DecodeInbox(data, &events);
    for (PendingEvent& e : events) {
      Entry entry;
      entry.json = std::move(e.json);
      out.push_back(std::move(entry));
    }
  }
  return out;
}

}  // namespace zenml::spool
