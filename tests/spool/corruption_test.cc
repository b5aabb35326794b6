// Damaged files: a corrupted table or log is repaired (RepairDB) on the next
// use, what survives is kept, and what was lost is counted as
// DropReason::kCorruption. A log whose last record was cut by a crash is
// never reused (the reuse_logs trap, google/leveldb#1287).

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/env.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "spool/keys.h"
#include "spool/log_tail.h"
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
