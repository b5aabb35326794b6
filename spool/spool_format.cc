// Spool::Impl: the on-disk format: a new database's format records, and the
// migration from format 1 (spool_impl.h, keys.h).

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"
#include "spool/env.h"
#include "spool/keys.h"
#include "spool/meta.h"
#include "spool/spool_impl.h"
#include "spool/util.h"

namespace zenml::spool {

namespace {

// Runs each piece of LevelDB's background work on a thread of its own and
// joins them all when destroyed, after the database: LevelDB's default Env
// would start its background thread for the first piece and keep it for the
// life of the process (a thread left behind in a one-shot caller, and none
// at all in an Env that runs no background work).
class JoinedBackgroundEnv final : public leveldb::EnvWrapper {
 public:
  explicit JoinedBackgroundEnv(leveldb::Env* target) : EnvWrapper(target) {}
  ~JoinedBackgroundEnv() override {
    for (std::thread& t : threads_) t.join();
  }
  void Schedule(void (*function)(void*), void* arg) override {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back(function, arg);
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

}  // namespace

void Spool::Impl::CreateDatabaseLocked(SharedDb& s) {
  // m/format_version, the guard against format-1 programs (keys.h), sorts
  // after every event. Written with any other key, its table would span
  // every event, and LevelDB would merge each table of events that moves
  // down to its level with it instead of moving the table (a 1,000,000-event
  // drain without gzip took 1.20x its baseline; each dump's open started
  // those merges again and threw them away). So a new database gets it
  // first, alone in the memtable, flushed at once: LevelDB writes it to a
  // table on level 2 (nothing overlaps it yet), and the key range of that
  // table, one key past every e/ and i/ key, overlaps nothing written later.
  // Best effort: if another process creates the database at this moment,
  // the open fails, and InitFormatLocked writes the guard.
  JoinedBackgroundEnv env(s.env.get());  // outlives the database
  leveldb::Options o = BaseOptions(s);
  o.env = &env;
  o.create_if_missing = true;
  o.error_if_exists = true;
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(o, db_path_, &raw).ok()) return;
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteBatch batch;
  PutMetaInt(&batch, kLegacyMetaFormat, kFormatVersion);
  leveldb::WriteOptions wo;
  wo.sync = options_.sync;
  if (!db->Write(wo, &batch).ok()) return;
  // Flushes the memtable, and waits for its table.
  const leveldb::Slice key = ToSlice(kLegacyMetaFormat);
  db->CompactRange(&key, &key);
}

Status Spool::Impl::InitFormatLocked(SharedDb& s) {
  std::string guard;
  leveldb::Status g =
      s.db->Get(leveldb::ReadOptions(), ToSlice(kLegacyMetaFormat), &guard);
  if (!g.ok() && !g.IsNotFound()) {
    return FromLevelDb(g, "reading the format guard");
  }
  leveldb::WriteBatch batch;
  PutMetaInt(&batch, kMetaFormat, kFormatVersion);
  // Without the guard (CreateDatabaseLocked lost a race), in one batch with
  // the format: it may then share a table, but never goes missing.
  if (g.IsNotFound()) PutMetaInt(&batch, kLegacyMetaFormat, kFormatVersion);
  ZENML_TRY(WriteLocked(s, &batch));
  s.meta.format_version = kFormatVersion;
  return Status::OK();
}

Status Spool::Impl::MigrateFormatOneLocked(SharedDb& s) {
  std::string value;
  leveldb::Status g =
      s.db->Get(leveldb::ReadOptions(), ToSlice(kMetaFormat), &value);
  if (g.ok()) return Status::OK();
  if (!g.IsNotFound()) return FromLevelDb(g, "reading the format version");
  leveldb::WriteBatch batch;
  bool format_one = false;
  std::unique_ptr<leveldb::Iterator> it(
      s.db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(ToSlice(kLegacyMetaPrefix));
       it->Valid() && ToView(it->key()).starts_with(kLegacyMetaPrefix);
       it->Next()) {
    std::string_view name = ToView(it->key()).substr(kLegacyMetaPrefix.size());
    batch.Put(std::string(kMetaPrefix) + std::string(name), it->value());
    batch.Delete(it->key());
    // The guard alone, at 2 or more, is a new database
    // (CreateDatabaseLocked): InitFormatLocked completes it, and rewriting
    // the guard here would put it in a table with c/ keys.
    format_one = format_one || ToView(it->key()) != kLegacyMetaFormat ||
                 DecodeFixed64BE(ToView(it->value())).value_or(0) < 2;
  }
  ZENML_TRY(FromLevelDb(it->status(), "reading format-1 metadata"));
  if (!format_one) return Status::OK();  // a new database
  LogLine(s.logger.get(), "spool: format 1 -> 2 (metadata m/ -> c/)");
  PutMetaInt(&batch, kMetaFormat, kFormatVersion);
  PutMetaInt(&batch, kLegacyMetaFormat, kFormatVersion);
  return WriteLocked(s, &batch);
}

}  // namespace zenml::spool
