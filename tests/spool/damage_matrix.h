// The damage cases of the corruption matrix (issue 9), shared by the
// Spool-level matrix (corruption_matrix_test.cc) and the one that runs the
// real executables on each (tests/tools/damaged_spool_test.cc): how to fill
// a spool so every kind of file exists, and how to damage each.
//
// Filled spool: tables holding kTableEvents (and metadata), a newest log
// holding kLogEvents more, and an inbox file of kInboxEvents; variants with
// two tables, or with two logs (the state a crash leaves between LevelDB's
// switch to a new log and the flush of the old one's memtable).

#ifndef ZENML_TESTS_SPOOL_DAMAGE_MATRIX_H_
#define ZENML_TESTS_SPOOL_DAMAGE_MATRIX_H_

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/table.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "spool/spool.h"

namespace zenml::spool::damage_matrix {

namespace fs = std::filesystem;

inline std::vector<fs::path> Files(
    const fs::path& dir, const std::function<bool(const fs::path&)>& keep) {
  std::vector<fs::path> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (keep(f.path())) out.push_back(f.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline void FlipByte(const fs::path& file, uint64_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << file;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5a));
}

// Offsets of the records of a LevelDB log (7-byte headers; a block's tail
// shorter than a header is padding).
inline std::vector<uint64_t> LogRecords(const fs::path& log) {
  std::string data(fs::file_size(log), '\0');
  std::ifstream f(log, std::ios::binary);
  f.read(data.data(), static_cast<std::streamsize>(data.size()));
  std::vector<uint64_t> out;
  uint64_t pos = 0;
  while (pos + 7 <= data.size()) {
    const uint64_t in_block = pos % 32768;
    if (32768 - in_block < 7) {
      pos += 32768 - in_block;
      continue;
    }
    const size_t length =
        static_cast<unsigned char>(data[pos + 4]) |
        (static_cast<size_t>(static_cast<unsigned char>(data[pos + 5])) << 8);
    if (data[pos + 6] == 0) break;
    out.push_back(pos);
    pos += 7 + length;
  }
  return out;
}

enum class Report {
  kNone,
  kExact,
  kExactOrUnknown,
  kExactFlaggedUnknown,
  kUndetectable
};

struct Case {
  std::string name;
  // Damages the database at `db` (analytics/spool) or the inbox.
  std::function<void(const fs::path& analytics)> damage;
  // kNone: nothing may be lost. kExact: the loss is counted exactly.
  // kExactOrUnknown: counted exactly, or flagged unknown with a lower bound.
  // kExactFlaggedUnknown: flagged unknown (the spool cannot be sure), and
  // in the matrix's layout the count is exact all the same.
  // kUndetectable: the documented exception.
  Report report;
  // Fill with two write-ahead logs (FillWithOlderLog) instead of one.
  bool older_log = false;
  // Fill with two tables (the log's events flushed to a second one).
  bool two_tables = false;
};

constexpr int kTableEvents = 2000;  // compacted into tables
constexpr int kLogEvents = 200;     // in the newest log, 20 batches of 10
constexpr int kInboxEvents = 10;

inline fs::path Db(const fs::path& analytics) { return analytics / "spool"; }

inline fs::path NewestLog(const fs::path& analytics) {
  auto logs = Files(Db(analytics),
                    [](const fs::path& p) { return p.extension() == ".log"; });
  return logs.empty() ? fs::path() : logs.back();
}

inline std::vector<fs::path> Tables(const fs::path& analytics) {
  return Files(Db(analytics),
               [](const fs::path& p) { return p.extension() == ".ldb"; });
}

// Whether the table file at `path` holds only m/ keys: the format guard's
// table of its own (a new spool's first, spool/keys.h). Read with LevelDB's
// table reader, without opening the database (which would change it).
inline bool IsGuardTable(const fs::path& path) {
  leveldb::Env* env = leveldb::Env::Default();
  leveldb::RandomAccessFile* file = nullptr;
  uint64_t size = 0;
  if (!env->GetFileSize(path.string(), &size).ok() ||
      !env->NewRandomAccessFile(path.string(), &file).ok()) {
    return false;
  }
  std::unique_ptr<leveldb::RandomAccessFile> owned(file);
  leveldb::Table* raw = nullptr;
  if (!leveldb::Table::Open(leveldb::Options(), file, size, &raw).ok()) {
    return false;
  }
  std::unique_ptr<leveldb::Table> table(raw);
  std::unique_ptr<leveldb::Iterator> it(
      table->NewIterator(leveldb::ReadOptions()));
  bool any = false;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    // Internal keys: the user key, then 8 bytes of sequence and type.
    if (!it->key().starts_with("m/")) return false;
    any = true;
  }
  return any && it->status().ok();
}

// The tables that hold events: every table but the format guard's.
inline std::vector<fs::path> EventTables(const fs::path& analytics) {
  std::vector<fs::path> tables = Tables(analytics);
  std::erase_if(tables, IsGuardTable);
  return tables;
}

inline std::vector<fs::path> Logs(const fs::path& analytics) {
  return Files(Db(analytics),
               [](const fs::path& p) { return p.extension() == ".log"; });
}

// The older of two write-ahead logs (FillWithOlderLog).
inline fs::path OlderLog(const fs::path& analytics) {
  auto logs = Logs(analytics);
  return logs.size() < 2 ? fs::path() : logs.front();
}

inline void FlipRecordHeader(const fs::path& log) {
  auto records = LogRecords(log);
  ASSERT_GE(records.size(), 10u);
  FlipByte(log, records[records.size() / 2] + 5);  // length, high byte
}

inline void FlipRecordPayload(const fs::path& log) {
  auto records = LogRecords(log);
  ASSERT_GE(records.size(), 10u);
  FlipByte(log, records[records.size() / 2] + 7 + 60);  // an event
}

inline std::vector<Case> Cases() {
  return {
      {"CURRENT missing",
       [](const fs::path& a) { fs::remove(Db(a) / "CURRENT"); }, Report::kNone},
      {"CURRENT garbage",
       [](const fs::path& a) {
         std::ofstream(Db(a) / "CURRENT", std::ios::trunc) << "garbage";
       },
       Report::kNone},
      {"MANIFEST missing",
       [](const fs::path& a) {
         for (const auto& m : Files(Db(a), [](const fs::path& p) {
                return p.filename().string().starts_with("MANIFEST-");
              })) {
           fs::remove(m);
         }
       },
       Report::kNone},
      {"MANIFEST truncated",
       [](const fs::path& a) {
         for (const auto& m : Files(Db(a), [](const fs::path& p) {
                return p.filename().string().starts_with("MANIFEST-");
              })) {
           fs::resize_file(m, fs::file_size(m) / 2);
         }
       },
       Report::kExactOrUnknown},
      {"table (with the metadata) truncated",
       [](const fs::path& a) {
         for (const auto& t : Tables(a)) {
           fs::resize_file(t, fs::file_size(t) / 2);
         }
       },
       Report::kExactOrUnknown},
      {"table (with the metadata) bit-flipped",
       [](const fs::path& a) {
         for (const auto& t : Tables(a)) FlipByte(t, fs::file_size(t) / 3);
       },
       Report::kExactOrUnknown},
      {"newest log: record header flipped",
       [](const fs::path& a) { FlipRecordHeader(NewestLog(a)); },
       // In the log's last block LevelDB takes a bad length for a torn
       // write and drops the rest silently; the spool tells them apart.
       Report::kExact},
      {"newest log: payload flipped",
       [](const fs::path& a) { FlipRecordPayload(NewestLog(a)); },
       Report::kExact},
      {"newest log: truncated",
       [](const fs::path& a) {
         const fs::path log = NewestLog(a);
         // Half way through a record in the middle (half the file's size
         // can fall on a boundary: that is the case below).
         auto records = LogRecords(log);
         ASSERT_GE(records.size(), 10u);
         const size_t mid = records.size() / 2;
         fs::resize_file(log, (records[mid] + records[mid + 1]) / 2);
       },
       Report::kUndetectable},
      // Each table on its own: the older ones hold the first kTableEvents
      // (one table, or more when the events move to deeper levels as
      // tables of their own), the newest the log's (and the newest
      // metadata).
      {"older of two tables truncated",
       [](const fs::path& a) {
         auto tables = EventTables(a);
         ASSERT_GE(tables.size(), 2u);
         fs::resize_file(tables.front(), fs::file_size(tables.front()) / 2);
       },
       Report::kExactOrUnknown, false, true},
      {"newer of two tables bit-flipped",
       [](const fs::path& a) {
         auto tables = EventTables(a);
         ASSERT_GE(tables.size(), 2u);
         FlipByte(tables.back(), fs::file_size(tables.back()) / 3);
       },
       Report::kExactOrUnknown, false, true},
      // An older log is complete by construction (every write was synced
      // before LevelDB moved to the next log), so any damage to it is
      // damage, never a torn write: it must be reported.
      {"older log: truncated",
       [](const fs::path& a) {
         const fs::path log = OlderLog(a);
         ASSERT_FALSE(log.empty());
         // Half way through a record in the middle (half the file's size
         // can fall on a boundary: that is the case below).
         auto records = LogRecords(log);
         ASSERT_GE(records.size(), 10u);
         const size_t mid = records.size() / 2;
         fs::resize_file(log, (records[mid] + records[mid + 1]) / 2);
       },
       Report::kExactFlaggedUnknown, true},
      {"older log: cut at a record boundary",
       [](const fs::path& a) {
         const fs::path log = OlderLog(a);
         ASSERT_FALSE(log.empty());
         auto records = LogRecords(log);
         ASSERT_GE(records.size(), 10u);
         fs::resize_file(log, records[records.size() / 2]);
       },
       Report::kExact, true},
      {"older log: record header flipped",
       [](const fs::path& a) { FlipRecordHeader(OlderLog(a)); },
       Report::kExactOrUnknown, true},
      {"older log: payload flipped",
       [](const fs::path& a) { FlipRecordPayload(OlderLog(a)); },
       Report::kExactOrUnknown, true},
      {"inbox file truncated",
       [](const fs::path& a) {
         auto files = Files(a / "inbox", [](const fs::path& p) {
           return p.extension() == ".inbox";
         });
         ASSERT_EQ(files.size(), 1u);
         fs::resize_file(files[0], fs::file_size(files[0]) - 50);
       },
       Report::kExact},
  };
}

// The message with number `i` (any JSON object with a unique messageId).
using MessageFn = std::function<std::string(int)>;

inline std::vector<std::string> Batch(const MessageFn& message, int n,
                                      int start) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(message(start + i));
  return out;
}

// The options every filler opens the spool at `analytics` with.
inline SpoolOptions FillOptions(const fs::path& analytics) {
  SpoolOptions o;
  o.dir = analytics;
  o.max_events = 1'000'000;
  return o;
}

// LevelDB without reuse_logs writes the log's records to a level-0 table
// when it opens the database.
inline void FlushLogToTable(const fs::path& analytics) {
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(
      leveldb::DB::Open(leveldb::Options(), Db(analytics).string(), &raw).ok());
  delete raw;
}

// Tables of kTableEvents (messages 0..), a newest log of kLogEvents, an
// inbox file of kInboxEvents.
inline void FillOneLog(const fs::path& analytics, const MessageFn& message) {
  {
    Spool spool(FillOptions(analytics));
    for (int i = 0; i < kTableEvents / 100; ++i) {
      ASSERT_TRUE(spool.Append(Batch(message, 100, i * 100)).ok());
    }
  }
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(
        leveldb::DB::Open(leveldb::Options(), Db(analytics).string(), &raw)
            .ok());
    raw->CompactRange(nullptr, nullptr);
    delete raw;
  }
  ASSERT_FALSE(Tables(analytics).empty());
  Spool spool(FillOptions(analytics));
  for (int i = 0; i < kLogEvents / 10; ++i) {
    ASSERT_TRUE(spool.Append(Batch(message, 10, kTableEvents + i * 10)).ok());
  }
  ASSERT_TRUE(spool
                  .AppendToInbox(
                      Batch(message, kInboxEvents, kTableEvents + kLogEvents))
                  .ok());
  ASSERT_FALSE(NewestLog(analytics).empty());
}

// LevelDB's background work never runs in this Env: a full memtable stays
// unflushed, with its log, after LevelDB moved on to a new log.
class NoBackgroundWorkEnv final : public leveldb::EnvWrapper {
 public:
  NoBackgroundWorkEnv() : EnvWrapper(leveldb::Env::Default()) {}
  void Schedule(void (*)(void*), void*) override {}
};

// Tables of kTableEvents + kLogEvents, then two logs: a child process
// writes through NoBackgroundWorkEnv with a small write buffer until a
// second log exists, kLogEvents more, and dies (_exit) as in a crash. Then
// an inbox file. Returns how many events were written; `scratch` is a
// directory for the child's report.
inline uint64_t FillTwoLogs(const fs::path& analytics, const fs::path& scratch,
                            const MessageFn& message) {
  FillOneLog(analytics, message);
  for (const auto& f :
       Files(analytics / "inbox", [](const fs::path&) { return true; })) {
    fs::remove(f);
  }
  FlushLogToTable(analytics);
  const int first = kTableEvents + kLogEvents;
  const fs::path count_file = scratch / "older-log-count";
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A second switch would wait for ever for the first flush: the alarm
    // ends the child then, and the test fails instead of hanging.
    ::alarm(60);
    NoBackgroundWorkEnv env;
    SpoolOptions o = FillOptions(analytics);
    o.env = &env;
    // Room in the new log's memtable for kLogEvents messages of up to
    // 1 KiB, so they cause no second switch.
    o.write_buffer_bytes = 256 << 10;
    auto* spool = new Spool(o);  // never destroyed: the process dies
    // Held, so the database stays open between the appends (a close would
    // wait for the flush that never runs).
    if (!spool->Hold(Role::kWriter).ok()) ::_exit(3);
    int n = 0;
    int after_switch = -1;
    while (after_switch < kLogEvents / 10) {
      if (!spool->Append(Batch(message, 10, first + n)).ok()) ::_exit(1);
      n += 10;
      if (after_switch >= 0) {
        ++after_switch;
      } else if (Logs(analytics).size() >= 2) {
        after_switch = 0;
      }
      if (n > 100000) ::_exit(2);  // no switch: the filler is wrong
    }
    std::ofstream(count_file) << n;
    ::_exit(0);
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  uint64_t written = 0;
  std::ifstream(count_file) >> written;
  EXPECT_EQ(Logs(analytics).size(), 2u);
  Spool spool(FillOptions(analytics));
  EXPECT_TRUE(spool
                  .AppendToInbox(Batch(message, kInboxEvents,
                                       first + static_cast<int>(written)))
                  .ok());
  return first + written + kInboxEvents;
}

// Fills `analytics` as case `c` needs. Returns how many events it wrote
// (messages 0 .. n-1).
inline uint64_t Fill(const fs::path& analytics, const fs::path& scratch,
                     const Case& c, const MessageFn& message) {
  if (c.older_log) return FillTwoLogs(analytics, scratch, message);
  FillOneLog(analytics, message);
  if (c.two_tables) {
    FlushLogToTable(analytics);
    EXPECT_GE(EventTables(analytics).size(), 2u);
  }
  return kTableEvents + kLogEvents + kInboxEvents;
}

// A test name from a case name.
inline std::string CaseTestName(int index) {
  std::string name = Cases()[static_cast<size_t>(index)].name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

}  // namespace zenml::spool::damage_matrix

#endif  // ZENML_TESTS_SPOOL_DAMAGE_MATRIX_H_
