// Damaged files: a corrupted table or log is repaired (RepairDB) on the next
// use, what survives is kept, and what was lost is counted as
// DropReason::kCorruption. A log whose last record was cut by a crash is
// never reused (the reuse_logs trap, google/leveldb#1287), nor is a
// MANIFEST cut the same way; and checking that costs no read of its own.

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/env.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "spool/keys.h"
#include "spool/log_tail.h"
#include "spool/repair.h"
#include "spool/spool.h"
#include "tests/spool/read_all.h"
#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Messages(int n, int start) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("{\"messageId\":\"m" + std::to_string(start + i) +
                  "\",\"pad\":\"" + std::string(100, 'p') + "\"}");
  }
  return out;
}

std::vector<fs::path> FilesWithExtension(const fs::path& dir,
                                         const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() == ext) out.push_back(f.path());
  }
  return out;
}

// Overwrites `n` bytes at `offset` with garbage.
void Clobber(const fs::path& file, uint64_t offset, size_t n) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << file;
  f.seekp(static_cast<std::streamoff>(offset));
  const std::string junk(n, '\x5a');
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

class SpoolCorruptionTest : public ::testing::Test {
 protected:
  SpoolOptions Options() {
    SpoolOptions o;
    o.dir = dir_.path() / "analytics";
    return o;
  }
  fs::path DbDir() { return dir_.path() / "analytics" / "spool"; }

  std::vector<Entry> All(Spool& spool) { return ReadAll(spool); }

  // Everything left parses as our messages, in increasing sequence order.
  void ExpectConsistent(Spool& spool, const std::vector<Entry>& entries) {
    uint64_t last = 0;
    for (const auto& e : entries) {
      EXPECT_GT(e.seq, last);
      last = e.seq;
      EXPECT_TRUE(e.json.starts_with("{\"messageId\":\"m")) << e.json;
      EXPECT_TRUE(e.json.ends_with("\"}")) << e.json;
    }
    auto stats = spool.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->count, entries.size());
    EXPECT_GT(stats->next_seq, last);
  }

  testing::TempDir dir_;
};

TEST_F(SpoolCorruptionTest, ACorruptedTableIsRepairedAndTheLossCounted) {
  {
    Spool spool(Options());
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(spool.Append(Messages(100, i * 100)).ok());
  }
  {
    // Push everything into table files.
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(
        leveldb::DB::Open(leveldb::Options(), DbDir().string(), &raw).ok());
    raw->CompactRange(nullptr, nullptr);
    delete raw;
  }
  auto tables = FilesWithExtension(DbDir(), ".ldb");
  ASSERT_FALSE(tables.empty());
  fs::path biggest = tables.front();
  for (const auto& t : tables) {
    if (fs::file_size(t) > fs::file_size(biggest)) biggest = t;
  }
  Clobber(biggest, fs::file_size(biggest) / 3, 64);

  Spool spool(Options());
  auto entries = All(spool);
  EXPECT_LT(entries.size(), 2000u);
  EXPECT_GT(entries.size(), 0u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dropped["corruption"], 2000u - entries.size());
  ExpectConsistent(spool, entries);
  // Writing goes on with fresh sequences.
  ASSERT_TRUE(spool.Append(Messages(1, 5000)).ok());
  EXPECT_EQ(All(spool).size(), entries.size() + 1);
}

// The log scan behind the loss count takes a put for an event only when
// what follows looks like its value: the bytes of a key's start (a length of
// 10, "e/") also occur by chance elsewhere, and each such would count as a
// lost event. A value whose JSON is damaged still counts: that event is the
// likeliest to be lost.
TEST(ScanLogBytesForEventsTest, CountsOnlyPutsFollowedByAnEventValue) {
  const std::string value = EncodeEventValue(1, "{\"n\":1}");
  auto put = [](uint64_t seq, const std::string& v) {
    std::string entry = "\x01\x0a" + EventKey(seq);
    entry.push_back(static_cast<char>(v.size()));  // one-byte varint
    return entry + v;
  };
  std::string damaged = value;
  damaged.back() ^= 0x01;
  const std::string log = "junk" + put(1, value) + put(2, damaged) +
                          // a chance match: no value after it
                          std::string(
                              "\x01\x0a"
                              "e/\x00\x00\x00\x00\x00",
                              8) +
                          std::string("\xe8\xf9\xb0 and more", 12) +
                          put(3, value) + std::string("\x00\x0a", 2) +
                          EventKey(3);  // deleted again
  std::set<uint64_t> live;
  ScanLogBytesForEvents(log, &live);
  EXPECT_EQ(live, (std::set<uint64_t>{1, 2}));
}

TEST_F(SpoolCorruptionTest, ACorruptedLogIsRepairedOnOpenAndTheLossCounted) {
  {
    Spool spool(Options());
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(spool.Append(Messages(100, i * 100)).ok());
  }
  auto logs = FilesWithExtension(DbDir(), ".log");
  ASSERT_EQ(logs.size(), 1u);
  ASSERT_GT(fs::file_size(logs[0]), 40'000u);
  Clobber(logs[0], 40'000, 16);  // inside the second 32 KiB block

  Spool spool(Options());
  auto stats = spool.Stats();  // opens: paranoid checks fail, repair
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  auto entries = All(spool);
  EXPECT_LT(entries.size(), 1000u);
  EXPECT_GT(entries.size(), 0u);
  stats = spool.Stats();
  EXPECT_EQ(stats->dropped["corruption"], 1000u - entries.size());
  ExpectConsistent(spool, entries);
}

TEST_F(SpoolCorruptionTest, ALogCutMidRecordIsNotReusedSoLaterWritesSurvive) {
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(Messages(10, 0)).ok());
  }
  auto logs = FilesWithExtension(DbDir(), ".log");
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_TRUE(LogTailIsComplete(leveldb::Env::Default(), logs[0].string()));
  {
    // What a writer killed inside a write() leaves: a header announcing
    // 1000 bytes, and 10 of them.
    std::ofstream f(logs[0], std::ios::app | std::ios::binary);
    const char header[7] = {1,
                            2,
                            3,
                            4,
                            static_cast<char>(1000 & 0xff),
                            static_cast<char>(1000 >> 8),
                            1};
    f.write(header, 7);
    f.write("0123456789", 10);
  }
  EXPECT_FALSE(LogTailIsComplete(leveldb::Env::Default(), logs[0].string()));
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(Messages(10, 10)).ok());
  }
  Spool spool(Options());
  auto entries = All(spool);
  EXPECT_EQ(entries.size(), 20u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dropped.count("corruption"), 0u);
  ExpectConsistent(spool, entries);
}

std::string ReadFile(const fs::path& file) {
  std::string data(fs::file_size(file), '\0');
  std::ifstream f(file, std::ios::binary);
  f.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

void WriteFile(const fs::path& file, const std::string& data) {
  std::ofstream f(file, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// What a writer killed inside a write() leaves: a header announcing 1000
// bytes, and 10 of them.
std::string TornRecord() {
  const char header[7] = {
      1, 2, 3, 4, static_cast<char>(1000 & 0xff), static_cast<char>(1000 >> 8),
      1};
  return std::string(header, 7) + "0123456789";
}

TEST_F(SpoolCorruptionTest, AManifestCutMidRecordIsNotReusedSoNothingIsLost) {
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(Messages(10, 0)).ok());
  }
  const std::string current = ReadFile(DbDir() / "CURRENT");
  ASSERT_TRUE(current.ends_with("\n"));
  const fs::path manifest = DbDir() / current.substr(0, current.size() - 1);
  EXPECT_TRUE(LogTailIsComplete(leveldb::Env::Default(), manifest.string()));
  {
    std::ofstream f(manifest, std::ios::app | std::ios::binary);
    const std::string torn = TornRecord();
    f.write(torn.data(), static_cast<std::streamsize>(torn.size()));
  }
  EXPECT_FALSE(LogTailIsComplete(leveldb::Env::Default(), manifest.string()));
  {
    // More than the 256 KiB write buffer: LevelDB flushes a table and
    // records it in the MANIFEST. Appended after the cut record, that edit
    // (and with it the table) would be dropped by the next recovery.
    Spool spool(Options());
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(spool.Append(Messages(100, 10 + i * 100)).ok());
    }
  }
  EXPECT_NE(ReadFile(DbDir() / "CURRENT"), current);  // a fresh MANIFEST
  Spool spool(Options());
  auto entries = All(spool);
  EXPECT_EQ(entries.size(), 3010u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dropped.count("corruption"), 0u);
  EXPECT_EQ(stats->repairs, 0u);
  ExpectConsistent(spool, entries);
}

// Counts, by file name, what LevelDB and the spool open for reading.
class CountingEnv : public leveldb::EnvWrapper {
 public:
  CountingEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

  leveldb::Status NewSequentialFile(const std::string& f,
                                    leveldb::SequentialFile** r) override {
    Count(&sequential_, fs::path(f).filename().string());
    return target()->NewSequentialFile(f, r);
  }
  leveldb::Status NewRandomAccessFile(const std::string& f,
                                      leveldb::RandomAccessFile** r) override {
    Count(&random_, fs::path(f).filename().string());
    return target()->NewRandomAccessFile(f, r);
  }
  leveldb::Status GetChildren(const std::string& dir,
                              std::vector<std::string>* r) override {
    Count(&listings_, fs::path(dir).filename().string());
    return target()->GetChildren(dir, r);
  }

  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    sequential_.clear();
    random_.clear();
    listings_.clear();
  }
  std::map<std::string, int> sequential() {
    std::lock_guard<std::mutex> lock(mu_);
    return sequential_;
  }
  std::map<std::string, int> random() {
    std::lock_guard<std::mutex> lock(mu_);
    return random_;
  }
  int listings(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mu_);
    return listings_[dir];
  }

 private:
  void Count(std::map<std::string, int>* m, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    ++(*m)[name];
  }
  std::mutex mu_;
  std::map<std::string, int> sequential_;
  std::map<std::string, int> random_;
  std::map<std::string, int> listings_;
};

bool IsLogOrManifest(const std::string& name) {
  return name.ends_with(".log") || name.starts_with("MANIFEST-");
}

TEST_F(SpoolCorruptionTest, AnOpenReadsTheLogAndTheManifestOnlyOnce) {
  CountingEnv env;
  SpoolOptions o = Options();
  o.env = &env;
  {
    Spool spool(o);
    ASSERT_TRUE(spool.Append(Messages(10, 0)).ok());
  }
  env.Clear();
  {
    Spool spool(o);
    ASSERT_TRUE(spool.Append(Messages(10, 10)).ok());
  }
  // LevelDB's recovery reads the log and the MANIFEST once each, whole; the
  // tail check reads nothing of its own (it used to pread both first).
  int logs = 0;
  int manifests = 0;
  for (const auto& [name, n] : env.sequential()) {
    if (!IsLogOrManifest(name)) continue;
    EXPECT_EQ(n, 1) << name;
    (name.ends_with(".log") ? logs : manifests) += n;
  }
  EXPECT_EQ(logs, 1);
  EXPECT_EQ(manifests, 1);
  for (const auto& [name, n] : env.random()) {
    EXPECT_FALSE(IsLogOrManifest(name)) << name << " read " << n << " times";
  }
  // LevelDB lists the directory when it recovers and when it deletes
  // obsolete files; the tail check no longer adds a third.
  EXPECT_EQ(env.listings("spool"), 2);
  Spool spool(o);
  EXPECT_EQ(All(spool).size(), 20u);
}

// A log of records of type FULL with `len`-byte payloads (the tail check
// reads lengths and types; checksums matter only to the damage scan).
std::string FullRecord(size_t len) {
  std::string r(7 + len, 'x');
  r[0] = r[1] = r[2] = r[3] = 0;
  r[4] = static_cast<char>(len & 0xff);
  r[5] = static_cast<char>(len >> 8);
  r[6] = 1;
  return r;
}

// Reads `fname` through `env` in `chunk`-byte reads: to its end, or once.
void ReadThrough(leveldb::Env* env, const std::string& fname, size_t chunk,
                 bool whole) {
  leveldb::SequentialFile* raw = nullptr;
  ASSERT_TRUE(env->NewSequentialFile(fname, &raw).ok()) << fname;
  std::unique_ptr<leveldb::SequentialFile> file(raw);
  std::vector<char> scratch(chunk);
  leveldb::Slice got;
  do {
    ASSERT_TRUE(file->Read(chunk, &got, scratch.data()).ok());
  } while (whole && got.size() == chunk);
}

bool Reusable(leveldb::Env* env, const std::string& fname) {
  leveldb::WritableFile* file = nullptr;
  const bool ok = env->NewAppendableFile(fname, &file).ok();
  delete file;
  return ok;
}

TEST(LogTailGuardTest, ReusesAFileOnlyIfWhatWasReadEndsWithACompleteRecord) {
  testing::TempDir dir;
  LogTailGuardEnv guard(leveldb::Env::Default());
  const std::string log = (dir.path() / "000007.log").string();
  // Exactly one block of whole records: 4 x (7 + 8185) = 32768 bytes. The
  // tail is that last full block, not the empty one after it.
  std::string block;
  for (int i = 0; i < 4; ++i) block += FullRecord(8185);
  ASSERT_EQ(block.size(), 32768u);
  for (size_t chunk : {size_t{1000}, size_t{32768}, size_t{40000}}) {
    WriteFile(log, block);
    guard.Reset();
    ReadThrough(&guard, log, chunk, /*whole=*/true);
    EXPECT_TRUE(Reusable(&guard, log)) << chunk;
    EXPECT_EQ(guard.refused(), 0);
    bool incomplete = true;
    LogTailDamage damage;
    EXPECT_TRUE(guard.NewestLogTail(&incomplete, &damage));
    EXPECT_FALSE(incomplete);

    // A record cut short at the start of the next block.
    WriteFile(log, block + TornRecord());
    guard.Reset();
    ReadThrough(&guard, log, chunk, /*whole=*/true);
    EXPECT_FALSE(Reusable(&guard, log)) << chunk;
    EXPECT_EQ(guard.refused(), 1);
    EXPECT_TRUE(guard.NewestLogTail(&incomplete, &damage));
    EXPECT_TRUE(incomplete);
    EXPECT_FALSE(damage.damaged);  // torn, not damaged: nothing followed it
  }
  // Not read, or read only in part: the tail is checked on disk.
  guard.Reset();
  EXPECT_FALSE(Reusable(&guard, log));
  bool incomplete = false;
  LogTailDamage damage;
  EXPECT_FALSE(guard.NewestLogTail(&incomplete, &damage));
  guard.Reset();
  ReadThrough(&guard, log, 1000, /*whole=*/false);
  EXPECT_FALSE(Reusable(&guard, log));
  EXPECT_FALSE(guard.NewestLogTail(&incomplete, &damage));
  WriteFile(log, block);
  guard.Reset();
  ReadThrough(&guard, log, 1000, /*whole=*/false);
  EXPECT_TRUE(Reusable(&guard, log));

  // A MANIFEST is guarded the same way; other files are not.
  const std::string manifest = (dir.path() / "MANIFEST-000003").string();
  WriteFile(manifest, FullRecord(20) + TornRecord());
  guard.Reset();
  ReadThrough(&guard, manifest, 1000, /*whole=*/true);
  EXPECT_FALSE(Reusable(&guard, manifest));
  const std::string info_log = (dir.path() / "LOG").string();
  WriteFile(info_log, "not a record log");
  EXPECT_TRUE(Reusable(&guard, info_log));
}

// A log record of `type` (1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST) holding
// `payload` (checksums zero: the guard reads lengths and types).
std::string Record(char type, const std::string& payload) {
  std::string r(7, '\0');
  r[4] = static_cast<char>(payload.size() & 0xff);
  r[5] = static_cast<char>(payload.size() >> 8);
  r[6] = type;
  return r + payload;
}

// The start of a WriteBatch: its sequence and count, little-endian, then
// `pad` bytes of operations.
std::string Batch(uint64_t sequence, uint32_t count, size_t pad) {
  std::string b;
  for (int i = 0; i < 8; ++i) b += static_cast<char>(sequence >> (8 * i));
  for (int i = 0; i < 4; ++i) b += static_cast<char>(count >> (8 * i));
  return b + std::string(pad, 'o');
}

TEST(LogTailGuardTest, TellsWhetherTheLogsSequenceNumbersRunOnWithoutAGap) {
  testing::TempDir dir;
  const std::string older = (dir.path() / "000005.log").string();
  const std::string newer = (dir.path() / "000006.log").string();
  // The older log: batch 1 (2 operations), then batch 3 (1 operation)
  // nearly filling the first block, then batch 4 (3 operations) split over
  // two blocks with only 5 bytes of its 12-byte header in the first, then
  // batch 7. The newer log follows on at 8.
  const std::string first = Record(1, Batch(1, 2, 30));
  const size_t room = 32768 - first.size() - 12 - 7;  // before the FIRST
  const std::string full = Record(1, Batch(3, 1, room - 12));
  const std::string split = Batch(4, 3, 100);
  std::string older_log = first + full + Record(2, split.substr(0, 5));
  ASSERT_EQ(older_log.size(), 32768u);
  older_log += Record(4, split.substr(5)) + Record(1, Batch(7, 1, 20));
  const auto check = [&](const std::string& newer_log, bool expected,
                         const std::string& what) {
    WriteFile(older, older_log);
    WriteFile(newer, newer_log);
    for (size_t chunk : {size_t{1000}, size_t{32768}, size_t{40000}}) {
      LogTailGuardEnv guard(leveldb::Env::Default());
      ReadThrough(&guard, older, chunk, /*whole=*/true);
      ReadThrough(&guard, newer, chunk, /*whole=*/true);
      EXPECT_EQ(guard.LogsInSequence(), expected) << what << ", " << chunk;
    }
  };
  check(Record(1, Batch(8, 4, 50)) + Record(1, Batch(12, 1, 5)), true,
        "in sequence");
  // Batch 7 gone from the older log's end (a cut at a record boundary).
  check(Record(1, Batch(9, 4, 50)), false, "a gap between the logs");
  check(Record(1, Batch(8, 4, 50)) + Record(1, Batch(13, 1, 5)), false,
        "a gap within a log");
  check("", false, "a log without a batch");
  check(Record(3, std::string(30, 'm')) + Record(1, Batch(8, 4, 50)), false,
        "a fragment without its start");

  // One log read in part: nothing is concluded.
  WriteFile(newer, Record(1, Batch(8, 4, 50)));
  LogTailGuardEnv guard(leveldb::Env::Default());
  ReadThrough(&guard, older, 1000, /*whole=*/false);
  ReadThrough(&guard, newer, 1000, /*whole=*/true);
  EXPECT_FALSE(guard.LogsInSequence());
  guard.Reset();
  EXPECT_TRUE(guard.LogsInSequence());  // no log read
}

TEST(LogTailTest, AnEmptyOrMissingLogCountsAsCompleteOrUnreadable) {
  testing::TempDir dir;
  const fs::path empty = dir.path() / "000001.log";
  std::ofstream(empty).close();
  EXPECT_TRUE(LogTailIsComplete(leveldb::Env::Default(), empty.string()));
  EXPECT_FALSE(LogTailIsComplete(leveldb::Env::Default(),
                                 (dir.path() / "missing.log").string()));
}

}  // namespace
}  // namespace zenml::spool
