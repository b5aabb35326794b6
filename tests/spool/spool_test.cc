#include "spool/spool.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "spool/keys.h"
#include "tests/spool/read_all.h"
#include "tests/spool/tables.h"
#include "tests/testing/temp_dir.h"

namespace zenml::spool {
namespace {

namespace fs = std::filesystem;
using core::FakeClock;
using core::Status;

std::vector<std::string> Messages(int n, const std::string& prefix = "m") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("{\"messageId\":\"" + prefix + std::to_string(i) + "\"}");
  }
  return out;
}

// n messages of about 1 KB each ("{"messageId":"<prefix><i>","pad":"x..."}"),
// for the tests that need batches bigger than LevelDB's write buffer.
std::vector<std::string> PaddedMessages(int n, const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("{\"messageId\":\"" + prefix + std::to_string(i) +
                  "\",\"pad\":\"" + std::string(1000, 'x') + "\"}");
  }
  return out;
}

class SpoolTest : public ::testing::Test {
 protected:
  SpoolOptions Options() {
    SpoolOptions o;
    o.dir = dir_.path() / "analytics";
    o.clock = &clock_;
    o.sync = false;  // durability is the crash test's subject, not these
    return o;
  }

  std::vector<Entry> All(Spool& spool) { return ReadAll(spool); }

  // Reads one raw key of the (closed) database.
  std::optional<std::string> RawGet(const std::string& key) {
    leveldb::DB* raw = nullptr;
    leveldb::Options o;
    EXPECT_TRUE(leveldb::DB::Open(
                    o, (dir_.path() / "analytics" / "spool").string(), &raw)
                    .ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string value;
    if (!db || !db->Get(leveldb::ReadOptions(), key, &value).ok()) {
      return std::nullopt;
    }
    return value;
  }

  std::vector<TableRange> Tables() {
    return TableRanges(dir_.path() / "analytics" / "spool");
  }

  // Writes `batch` to the (closed) database, creating it if missing: a spool
  // in a layout only a test writes (an older format, damage, a foreign key).
  void RawWrite(leveldb::WriteBatch* batch) {
    const fs::path path = dir_.path() / "analytics" / "spool";
    fs::create_directories(path);
    leveldb::Options o;
    o.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(o, path.string(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Write(leveldb::WriteOptions(), batch).ok());
  }

  // The fake clock's time, as the spool stores an append time.
  int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock_.Now().time_since_epoch())
        .count();
  }

  testing::TempDir dir_;
  FakeClock clock_;
};

TEST_F(SpoolTest, AppendThenPeekReturnsMessagesInOrderByteExact) {
  Spool spool(Options());
  const auto messages = Messages(5);
  auto target = spool.Append(messages);
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(*target, AppendTarget::kDatabase);
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(entries[i].json, messages[i]);
    EXPECT_EQ(entries[i].key, EventKey(entries[i].seq));
    if (i > 0) {
      EXPECT_EQ(entries[i].seq, entries[i - 1].seq + 1);
    }
  }
}

// The write-ahead logs in the spool directory, how many.
size_t LogCount(const fs::path& spool_dir) {
  size_t n = 0;
  for (const auto& f : fs::directory_iterator(spool_dir)) {
    if (f.path().extension() == ".log") ++n;
  }
  return n;
}

// The write-ahead logs in the spool directory, in bytes.
uint64_t LogBytes(const fs::path& spool_dir) {
  uint64_t total = 0;
  for (const auto& f : fs::directory_iterator(spool_dir)) {
    if (f.path().extension() == ".log") total += f.file_size();
  }
  return total;
}

TEST_F(SpoolTest, AHolderWithABigWriteBufferLeavesASmallLogForTheNextOpener) {
  SpoolOptions big = Options();
  big.write_buffer_bytes = 16 << 20;
  std::vector<std::string> all;
  {
    Spool holder(big);
    ASSERT_TRUE(holder.Hold().ok());
    for (int batch = 0; batch < 20; ++batch) {
      const std::vector<std::string> msgs =
          PaddedMessages(100, "b" + std::to_string(batch) + "-");
      ASSERT_TRUE(holder.Append(msgs).ok());
      all.insert(all.end(), msgs.begin(), msgs.end());
    }
    // 2 MB went through the log; the buffer holds all of it.
    EXPECT_GT(LogBytes(dir_.path() / "analytics" / "spool"), 1u << 20);
    holder.Release();
  }
  // Written to a table at Release: the next opener, whatever its buffer,
  // replays a log smaller than the default buffer.
  EXPECT_LT(LogBytes(dir_.path() / "analytics" / "spool"), 256u << 10);
  Spool reader(Options());
  std::vector<Entry> entries = All(reader);
  ASSERT_EQ(entries.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(entries[i].json, all[i]);
}

// With the default buffer too: LevelDB puts a whole batch in the memtable,
// so a batch bigger than the buffer leaves a log that big behind it. Left
// there, the next opener (an uploader, before its first request) replays
// it: 4.8 MB, about 70 ms, after a burst of 10,000-event batches.
TEST_F(SpoolTest, AWriterWhoseBatchesOutgrowTheBufferLeavesASmallLog) {
  for (bool held : {true, false}) {
    SCOPED_TRACE(held ? "held across the batches" : "one open per batch");
    std::vector<std::string> all;
    {
      Spool writer(Options());
      if (held) {
        ASSERT_TRUE(writer.Hold(Role::kWriter).ok());
      }
      for (int batch = 0; batch < 3; ++batch) {
        const std::vector<std::string> msgs = PaddedMessages(
            600, std::to_string(held) + "-" + std::to_string(batch) + "-");
        ASSERT_TRUE(writer.Append(msgs).ok());
        all.insert(all.end(), msgs.begin(), msgs.end());
      }
      if (held) writer.Release();
    }
    EXPECT_LT(LogBytes(dir_.path() / "analytics" / "spool"), 256u << 10);
    // One log: with more, the next open checks that their sequence numbers
    // follow on, and recounts the whole spool if it cannot tell.
    EXPECT_EQ(LogCount(dir_.path() / "analytics" / "spool"), 1u);
    Spool reader(Options());
    std::vector<Entry> entries = All(reader);
    ASSERT_EQ(entries.size(), all.size());
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(entries[i].json, all[i]);
    std::vector<std::string> keys;
    for (const Entry& e : entries) keys.push_back(e.key);
    ASSERT_TRUE(reader.Ack(keys).ok());
  }
}

// The files of the spool directory, name -> size.
std::map<std::string, uint64_t> Files(const fs::path& spool_dir) {
  std::map<std::string, uint64_t> out;
  for (const auto& f : fs::directory_iterator(spool_dir)) {
    const std::string name = f.path().filename().string();
    if (name != "LOG" && name != "LOG.old") out[name] = f.file_size();
  }
  return out;
}

// The flush at close is for a writer's batches. A reader opened with a big
// buffer, as zenml-upload and zenml-spool-dump are, replays a log bigger
// than the default buffer into its memtable without writing a table; had
// its close flushed that memtable, a Stats or a dry run would rewrite the
// spool's files each time it looked.
TEST_F(SpoolTest, AReadersCloseLeavesTheFilesItFoundAsTheyWere) {
  const fs::path spool_dir = dir_.path() / "analytics" / "spool";
  // Short writers: each close wrote less than the default buffer, so none
  // flushes, and the log they share grows past the buffer.
  std::vector<std::string> all;
  for (int round = 0; round < 5; ++round) {
    const std::vector<std::string> msgs =
        PaddedMessages(56, std::to_string(round) + "-");
    Spool writer(Options());
    ASSERT_TRUE(writer.Append(msgs).ok());
    all.insert(all.end(), msgs.begin(), msgs.end());
  }
  {
    std::ifstream dbg(spool_dir / "LOG");
    std::cerr << dbg.rdbuf();
  }
  ASSERT_GT(LogBytes(spool_dir), 256u << 10);
  const auto before = Files(spool_dir);

  SpoolOptions big = Options();
  big.write_buffer_bytes = 16 << 20;
  {
    Spool reader(big);
    std::vector<Entry> entries = All(reader);
    ASSERT_EQ(entries.size(), all.size());
    ASSERT_TRUE(reader.Stats().ok());
  }
  EXPECT_EQ(Files(spool_dir), before);
}

// Lets through a given number of new table files, then holds back the
// rest until Open(): LevelDB's background work waits meanwhile.
class GatedTablesEnv final : public leveldb::EnvWrapper {
 public:
  GatedTablesEnv() : EnvWrapper(leveldb::Env::Default()) {}
  leveldb::Status NewWritableFile(const std::string& f,
                                  leveldb::WritableFile** r) override {
    if (f.ends_with(".ldb")) {
      std::unique_lock<std::mutex> lock(mu_);
      if (passes_ > 0) {
        --passes_;
      } else {
        ++waiting_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return passes_ < 0; });
      }
    }
    return target()->NewWritableFile(f, r);
  }
  void CloseAfter(int tables) {
    std::lock_guard<std::mutex> lock(mu_);
    passes_ = tables;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    passes_ = -1;
    changed_.notify_all();
  }
  // Waits (up to a minute) until a table write waits at the gate.
  bool AwaitWaiter() {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::minutes(1),
                             [&] { return waiting_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int passes_ = -1;  // < 0: open
  int waiting_ = 0;
};

// Lets a given number of new table files be written at full speed, then
// slows every later table write down (5 ms per Append): a compaction then
// takes seconds, where a memtable's table took milliseconds.
class SlowTablesEnv final : public leveldb::EnvWrapper {
 public:
  SlowTablesEnv() : EnvWrapper(leveldb::Env::Default()) {}
  leveldb::Status NewWritableFile(const std::string& f,
                                  leveldb::WritableFile** r) override {
    leveldb::Status st = target()->NewWritableFile(f, r);
    if (st.ok() && f.ends_with(".ldb") && fast_.fetch_sub(1) <= 0) {
      *r = new SlowFile(*r);
    }
    return st;
  }
  void SlowAfter(int tables) { fast_ = tables; }

 private:
  class SlowFile final : public leveldb::WritableFile {
   public:
    explicit SlowFile(leveldb::WritableFile* f) : f_(f) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return f_->Append(data);
    }
    leveldb::Status Close() override { return f_->Close(); }
    leveldb::Status Flush() override { return f_->Flush(); }
    leveldb::Status Sync() override { return f_->Sync(); }

   private:
    std::unique_ptr<leveldb::WritableFile> f_;
  };
  std::atomic<int> fast_{1 << 30};
};

// A writer's close writes its big batch to a table even when that table
// makes a level-0 compaction due, and waits for that table only: not for
// the compaction (CompactRange would, with the database, and every other
// process's writer, held meanwhile; the close abandons it instead and the
// next opener runs it).
TEST_F(SpoolTest, AWritersCloseFlushesItsBatchButNotALevel0Compaction) {
  SlowTablesEnv env;
  SpoolOptions o = Options();
  o.env = &env;
  const fs::path spool_dir = dir_.path() / "analytics" / "spool";
  auto big_batch = [](int round) {
    return PaddedMessages(600, "r" + std::to_string(round) + "-");
  };
  // Big unheld appends, each flushed at its close, until level 0 holds 3
  // (the first tables go to deeper levels: nothing overlaps them yet). Each
  // writer also acknowledges the oldest event, as an uploader does between
  // writers: that writes the counters under c/, so each table spans from
  // them to its events and overlaps the others (appends alone write tables
  // that overlap nothing, which LevelDB places below level 0: keys.h).
  auto ack_oldest = [](Spool& writer) {
    auto oldest = writer.Peek("", 1, 1);
    ASSERT_TRUE(oldest.ok());
    ASSERT_EQ(oldest->size(), 1u);
    ASSERT_TRUE(writer.Ack(std::vector<std::string>{(*oldest)[0].key}).ok());
  };
  int round = 0;
  uint64_t level0 = 0;
  for (; round < 12 && level0 < 3; ++round) {
    Spool writer(o);
    ASSERT_TRUE(writer.Append(big_batch(round)).ok());
    ack_oldest(writer);
    level0 = Level0Tables(spool_dir);
  }
  ASSERT_EQ(level0, 3u);

  // The flush's table is written at full speed; the compaction it makes
  // due would take seconds.
  env.SlowAfter(1);
  {
    Spool writer(o);
    ASSERT_TRUE(writer.Hold(Role::kWriter).ok());
    ack_oldest(writer);  // first: in the same memtable as the batch
    ASSERT_TRUE(writer.Append(big_batch(round)).ok());
    writer.Release();
  }
  // The batch is in a table, not in a log the next open must replay...
  EXPECT_LT(LogBytes(spool_dir), 256u << 10);
  EXPECT_EQ(LogCount(spool_dir), 1u);
  // ...and level 0 was not compacted: the close did not wait for it.
  EXPECT_EQ(Level0Tables(spool_dir), 4u);
  // Nothing lost.
  Spool reader(Options());
  EXPECT_EQ(All(reader).size(), 599u * static_cast<size_t>(round + 1));
}

// The drained range's compaction of a spool held across calls (an
// uploader's feed) runs beside its transactions: an Ack that makes it due,
// and the Acks and Peeks after it, do not wait for it; the close does.
TEST_F(SpoolTest, AHeldSpoolCompactsTheDrainedRangeWithoutStoppingItsCalls) {
  GatedTablesEnv env;
  SpoolOptions o = Options();
  o.env = &env;
  // Room for every write below in one memtable: no flush but the
  // compaction's own.
  o.write_buffer_bytes = 4 << 20;
  Spool spool(o);
  ASSERT_TRUE(spool.Hold().ok());
  ASSERT_TRUE(spool.Append(Messages(1100)).ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 1100u);
  std::vector<std::string> keys;
  for (const Entry& e : entries) keys.push_back(e.key);
  // Acked to empty: past kCompactWhenEmptyAfterDeletes, so the compaction
  // is due. It writes the memtable to a table first, and waits at the gate.
  env.CloseAfter(0);
  std::atomic<bool> done{false};
  std::thread caller([&] {
    EXPECT_TRUE(spool.Ack(keys).ok());
    EXPECT_TRUE(spool.Append(Messages(5, "late")).ok());
    auto late = All(spool);
    EXPECT_EQ(late.size(), 5u);
    if (!late.empty()) {
      const std::vector<std::string> first = {late[0].key};
      EXPECT_TRUE(spool.Ack(first).ok());
    }
    done = true;
  });
  EXPECT_TRUE(env.AwaitWaiter());
  // The calls end while the compaction waits; were it run inside the Ack,
  // they would wait at the gate until it opens.
  for (int i = 0; i < 6000 && !done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool ended_while_compacting = done;
  env.Open();
  caller.join();
  EXPECT_TRUE(ended_while_compacting);
  env.Open();
  spool.Release();
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->count, 4u);
  EXPECT_EQ(All(spool).size(), 4u);
}

TEST_F(SpoolTest, AckDeletesExactlyTheGivenKeys) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(6)).ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 6u);
  const std::vector<std::string> acked = {entries[1].key, entries[4].key};
  ASSERT_TRUE(spool.Ack(acked).ok());
  auto left = All(spool);
  std::vector<uint64_t> seqs;
  for (const auto& e : left) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{entries[0].seq, entries[2].seq,
                                         entries[3].seq, entries[5].seq}));
}

TEST_F(SpoolTest, PeekAfterAKeyStartsPastIt) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(10)).ok());
  auto first = spool.Peek("", 1 << 20, 4);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 4u);
  auto next = spool.Peek(first->back().key, 1 << 20, 100);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 6u);
  EXPECT_EQ(next->front().seq, first->back().seq + 1);
  // A key that was acked (gone) still works as a position.
  ASSERT_TRUE(spool.Ack(std::vector<std::string>{first->back().key}).ok());
  auto again = spool.Peek(first->back().key, 1 << 20, 100);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->front().seq, first->back().seq + 1);
}

TEST_F(SpoolTest, PeekRespectsMaxBytesButAlwaysReturnsTheFirst) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(3)).ok());  // ~20 bytes each
  auto one = spool.Peek("", 1, 100);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  auto two = spool.Peek("", 2 * 20 + 5, 100);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
  auto none = spool.Peek("", 1 << 20, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(SpoolTest, CountsAndBytesStayExactAcrossRepeatedAndMissingAcks) {
  Spool spool(Options());
  const auto messages = Messages(10);
  uint64_t total = 0;
  for (const auto& m : messages) total += m.size();
  ASSERT_TRUE(spool.Append(messages).ok());
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 10u);
  EXPECT_EQ(stats->bytes, total);

  auto entries = All(spool);
  std::vector<std::string> keys = {entries[0].key, entries[0].key,
                                   entries[3].key, EventKey(9999)};
  ASSERT_TRUE(spool.Ack(keys).ok());
  ASSERT_TRUE(spool.Ack(keys).ok());  // twice: nothing more happens
  stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 8u);
  EXPECT_EQ(stats->bytes,
            total - entries[0].json.size() - entries[3].json.size());
  EXPECT_EQ(All(spool).size(), 8u);
}

TEST_F(SpoolTest, AckOfUnorderedKeysWithRunsAndLongGapsDeletesExactlyThose) {
  // Ack walks its sorted keys with one iterator and seeks over long gaps:
  // exercise runs, gaps longer than its step limit, disorder, repeats and a
  // key past the end.
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(200)).ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 200u);
  std::set<size_t> acked;
  for (size_t i = 50; i < 120; ++i) acked.insert(i);
  for (size_t i = 0; i < 200; i += 37) acked.insert(i);
  acked.insert(199);
  std::vector<std::string> keys;
  for (auto it = acked.rbegin(); it != acked.rend(); ++it) {
    keys.push_back(entries[*it].key);
  }
  keys.push_back(entries[60].key);
  keys.push_back(EventKey(entries.back().seq + 1000));
  uint64_t bytes_left = 0;
  std::vector<uint64_t> expected;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (acked.contains(i)) continue;
    expected.push_back(entries[i].seq);
    bytes_left += entries[i].json.size();
  }
  ASSERT_TRUE(spool.Ack(keys).ok());
  std::vector<uint64_t> seqs;
  for (const auto& e : All(spool)) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, expected);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, expected.size());
  EXPECT_EQ(stats->bytes, bytes_left);
}

TEST_F(SpoolTest, AckOfANonEventKeyIsRefused) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(1)).ok());
  EXPECT_EQ(spool.Ack(std::vector<std::string>{std::string(kMetaCount)}).code(),
            Status::Code::kInvalidArgument);
}

TEST_F(SpoolTest, SequencesKeepIncreasingAcrossInstancesAndPurge) {
  uint64_t last = 0;
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(Messages(3)).ok());
    last = All(spool).back().seq;
  }
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(1)).ok());
  EXPECT_EQ(All(spool).back().seq, last + 1);
  auto purged = spool.Purge();
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 4u);
  ASSERT_TRUE(spool.Append(Messages(1)).ok());
  EXPECT_EQ(All(spool).front().seq, last + 2);
}

TEST_F(SpoolTest, MaxEventsDropsTheOldestAndCountsThem) {
  auto o = Options();
  o.max_events = 5;
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(4, "a")).ok());
  ASSERT_TRUE(spool.Append(Messages(3, "b")).ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries.front().json, "{\"messageId\":\"a2\"}");
  EXPECT_EQ(entries.back().json, "{\"messageId\":\"b2\"}");
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 5u);
  EXPECT_EQ(stats->dropped["max_events"], 2u);
  // A single batch larger than the bound keeps its newest.
  ASSERT_TRUE(spool.Append(Messages(7, "c")).ok());
  entries = All(spool);
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries.front().json, "{\"messageId\":\"c2\"}");
  stats = spool.Stats();
  EXPECT_EQ(stats->dropped["max_events"], 2u + 5u + 2u);
}

TEST_F(SpoolTest, MaxBytesDropsTheOldestAndCountsThem) {
  auto o = Options();
  const auto messages = Messages(10);  // 19 or 20 bytes each
  o.max_bytes = 3 * 20;
  Spool spool(o);
  for (const auto& m : messages) {
    ASSERT_TRUE(spool.Append(std::vector<std::string>{m}).ok());
  }
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries.back().json, messages.back());
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_LE(stats->bytes, o.max_bytes);
  EXPECT_EQ(stats->dropped["max_bytes"], 7u);
}

TEST_F(SpoolTest, MaxAgeDropsEventsOlderThanTheBound) {
  auto o = Options();
  o.max_age = std::chrono::hours(1);
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(3, "old")).ok());
  clock_.Advance(std::chrono::minutes(50));
  ASSERT_TRUE(spool.Append(Messages(2, "young")).ok());
  clock_.Advance(std::chrono::minutes(11));
  // Reads never apply it: an idle spool keeps its events.
  EXPECT_EQ(All(spool).size(), 5u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dropped["max_age"], 0u);
  // The next event to enter applies it, with a count.
  ASSERT_TRUE(spool.Append(Messages(1, "new")).ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries.front().json, "{\"messageId\":\"young0\"}");
  stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dropped["max_age"], 3u);
  EXPECT_EQ(stats->count, 3u);
}

// The bounds are the spool's: stored by the writer that sets them, kept by
// every opener that sets none, applied only where events enter.
TEST_F(SpoolTest, AWritersBoundsHoldForOpenersThatSetNone) {
  auto writer_options = Options();
  writer_options.max_events = 20;
  Spool writer(writer_options);
  ASSERT_TRUE(writer.Append(Messages(15)).ok());
  auto reader_options = Options();  // no bounds: a reader, a tool
  Spool reader(reader_options);
  auto stats = reader.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->limits.max_events, 20u);
  EXPECT_EQ(stats->limits.max_bytes, SpoolLimits().max_bytes);
  // An opener with no bounds appending past the default would still keep
  // the writer's 20.
  ASSERT_TRUE(reader.Append(Messages(10, "r")).ok());
  stats = reader.Stats();
  EXPECT_EQ(stats->count, 20u);
  EXPECT_EQ(stats->dropped["max_events"], 5u);
  EXPECT_EQ(stats->limits.max_events, 20u);  // never lowered, never reset
  // A writer that sets a bound replaces it, higher or lower.
  auto raiser = Options();
  raiser.max_events = 100;
  ASSERT_TRUE(Spool(raiser).Append(Messages(30, "x")).ok());
  stats = reader.Stats();
  EXPECT_EQ(stats->count, 50u);
  EXPECT_EQ(stats->limits.max_events, 100u);
  // Purge deletes data, not policy.
  ASSERT_TRUE(reader.Purge().ok());
  EXPECT_EQ(reader.Stats()->limits.max_events, 100u);
}

TEST_F(SpoolTest, ReadsNeverDeleteWhateverTheirDefaults) {
  // A writer with a count bound above the default fills past the default.
  auto writer_options = Options();
  writer_options.max_events = 300;
  writer_options.max_age = std::chrono::hours(24 * 365);
  const uint64_t n = 250;
  {
    Spool writer(writer_options);
    ASSERT_TRUE(writer.Append(Messages(static_cast<int>(n))).ok());
    ASSERT_TRUE(writer.AppendToInbox(Messages(3, "inbox")).ok());
  }
  clock_.Advance(std::chrono::hours(24 * 60));  // past the default max_age
  // A reader with default options: past the default age bound.
  Spool reader(Options());
  auto stats = reader.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, n);
  EXPECT_EQ(stats->inbox_files, 1u);  // Stats did not ingest
  EXPECT_TRUE(stats->dropped.empty());
  auto dead = reader.PeekDeadLetters(0, 10);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(reader.Stats()->inbox_files, 1u);  // nor did PeekDeadLetters
  // Peek ingests the inbox (an entry point, under the stored bounds: a year
  // old limit keeps 60-day-old events).
  auto all = All(reader);
  EXPECT_EQ(all.size(), n + 3);
  stats = reader.Stats();
  EXPECT_TRUE(stats->dropped.empty());
  EXPECT_EQ(stats->inbox_files, 0u);
}

TEST_F(SpoolTest, StatsChangesNothingOnDisk) {
  {
    Spool writer(Options());
    ASSERT_TRUE(writer.Append(Messages(5)).ok());
    ASSERT_TRUE(writer.AppendToInbox(Messages(2, "inbox")).ok());
  }
  const fs::path inbox = dir_.path() / "analytics" / "inbox";
  auto inbox_listing = [&] {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(inbox)) {
      names.insert(e.path().filename().string());
    }
    return names;
  };
  const auto before = inbox_listing();
  ASSERT_EQ(before.size(), 1u);
  Spool reader(Options());
  for (int i = 0; i < 3; ++i) {
    auto stats = reader.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->count, 5u);
    EXPECT_EQ(stats->inbox_files, 1u);
  }
  EXPECT_EQ(inbox_listing(), before);
}

TEST_F(SpoolTest, PurgeDeletesEverythingAndResetsCounters) {
  auto o = Options();
  o.max_events = 2;
  Spool spool(o);
  ASSERT_TRUE(spool.Append(Messages(3)).ok());
  auto entries = All(spool);
  ASSERT_TRUE(spool.DeadLetter(entries[0].key, 400, "bad").ok());
  ASSERT_TRUE(spool.AppendToInbox(Messages(2, "inbox")).ok());
  auto purged = spool.Purge();
  ASSERT_TRUE(purged.ok());
  // One pending + two in the inbox, deleted unread but counted.
  EXPECT_EQ(*purged, 3u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 0u);
  EXPECT_EQ(stats->bytes, 0u);
  EXPECT_EQ(stats->dead_letters, 0u);
  EXPECT_TRUE(stats->dropped.empty());
  EXPECT_EQ(stats->inbox_files, 0u);
  EXPECT_TRUE(All(spool).empty());
  auto dead = spool.PeekDeadLetters(0, 10);
  ASSERT_TRUE(dead.ok());
  EXPECT_TRUE(dead->empty());
}

// What no reader shows but that holds events' bytes goes with a purge too:
// an inbox file set aside as unreadable, and what LevelDB's repair moved to
// spool/lost/.
TEST_F(SpoolTest, PurgeDeletesSetAsideInboxFilesAndTheRepairArchive) {
  const fs::path dir = Options().dir;
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(2)).ok());
  const fs::path bad = dir / "inbox" / "0000000000000001-1-1.inbox.bad";
  const fs::path lost = dir / "spool" / "lost" / "000007.log";
  fs::create_directories(bad.parent_path());
  fs::create_directories(lost.parent_path());
  std::ofstream(bad) << "{\"messageId\":\"set-aside\"}";
  std::ofstream(lost) << "{\"messageId\":\"archived\"}";
  ASSERT_TRUE(spool.Purge().ok());
  EXPECT_FALSE(fs::exists(bad));
  EXPECT_FALSE(fs::exists(lost.parent_path()));
  EXPECT_TRUE(All(spool).empty());
}

TEST_F(SpoolTest, DeadLetterMovesTheEventAndKeepsTheServersAnswer) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(3)).ok());
  auto entries = All(spool);
  const std::string long_reason(5000, 'x');
  ASSERT_TRUE(spool.DeadLetter(entries[1].key, 400, long_reason).ok());
  EXPECT_EQ(All(spool).size(), 2u);
  auto dead = spool.PeekDeadLetters(0, 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].seq, entries[1].seq);
  EXPECT_EQ((*dead)[0].status, 400);
  EXPECT_LT((*dead)[0].reason.size(), long_reason.size());
  EXPECT_EQ((*dead)[0].at, clock_.Now());
  EXPECT_EQ((*dead)[0].message, entries[1].json);
  auto after = spool.PeekDeadLetters(entries[1].seq, 10);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  auto stats = spool.Stats();
  EXPECT_EQ(stats->dead_letters, 1u);
  EXPECT_EQ(stats->count, 2u);
  EXPECT_EQ(spool.DeadLetter(entries[1].key, 400, "again").code(),
            Status::Code::kNotFound);
}

TEST_F(SpoolTest, UploadRecordRoundTrips) {
  Spool spool(Options());
  UploadRecord r;
  r.at = clock_.Now();
  r.outcome = "rate_limited";
  r.sent = 12;
  r.requests = 3;
  r.dead_lettered = 1;
  r.remaining = 40;
  r.not_before = clock_.Now() + std::chrono::seconds(30);
  r.detail = "HTTP 429, Retry-After 30";
  ASSERT_TRUE(spool.RecordUpload(r).ok());
  Spool other(Options());
  auto stats = other.Stats();
  ASSERT_TRUE(stats.ok());
  ASSERT_TRUE(stats->last_upload);
  EXPECT_EQ(stats->last_upload->at, r.at);
  EXPECT_EQ(stats->last_upload->outcome, r.outcome);
  EXPECT_EQ(stats->last_upload->sent, 12u);
  EXPECT_EQ(stats->last_upload->requests, 3u);
  EXPECT_EQ(stats->last_upload->dead_lettered, 1u);
  EXPECT_EQ(stats->last_upload->remaining, 40u);
  EXPECT_EQ(stats->last_upload->not_before, r.not_before);
  EXPECT_EQ(stats->last_upload->detail, r.detail);
  EXPECT_EQ(stats->not_before, r.not_before);
  // A later success clears the not-before time.
  r.outcome = "success";
  r.not_before.reset();
  ASSERT_TRUE(spool.RecordUpload(r).ok());
  stats = other.Stats();
  EXPECT_FALSE(stats->not_before);
}

TEST_F(SpoolTest, ASpoolOfANewerFormatIsRefusedNotMisread) {
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(Messages(1)).ok());
    EXPECT_EQ(spool.Stats()->format_version, kFormatVersion);
  }
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(
        leveldb::DB::Open(leveldb::Options(),
                          (dir_.path() / "analytics" / "spool").string(), &raw)
            .ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), std::string(kMetaFormat),
                        EncodeFixed64BE(kFormatVersion + 1))
                    .ok());
  }
  Spool spool(Options());
  auto stats = spool.Stats();
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_FALSE(spool.Append(Messages(1)).ok());
}

TEST_F(SpoolTest, AFormatOneSpoolIsMigratedKeepingEventsCountersAndSequence) {
  // Format 1, written by hand: metadata under m/ (after the events).
  const std::string path = (dir_.path() / "analytics" / "spool").string();
  {
    leveldb::WriteBatch b;
    b.Put(EventKey(41), EncodeEventValue(NowMs(), "{\"n\":41}"));
    b.Put(EventKey(42), EncodeEventValue(NowMs(), "{\"n\":42}"));
    b.Put("m/next_seq", EncodeFixed64BE(43));
    b.Put("m/count", EncodeFixed64BE(2));
    b.Put("m/bytes", EncodeFixed64BE(16));
    b.Put("m/first_seq", EncodeFixed64BE(41));
    b.Put("m/format_version", EncodeFixed64BE(1));
    b.Put("m/drop/max_events", EncodeFixed64BE(5));
    RawWrite(&b);
  }
  {
    Spool spool(Options());
    auto stats = spool.Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->format_version, kFormatVersion);
    EXPECT_EQ(stats->count, 2u);
    EXPECT_EQ(stats->bytes, 16u);
    EXPECT_EQ(stats->next_seq, 43u);
    EXPECT_EQ(stats->dropped["max_events"], 5u);
    auto entries = spool.Peek("", 1 << 20, 10);
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 2u);
    EXPECT_EQ((*entries)[0].json, "{\"n\":41}");
    ASSERT_TRUE(spool.Append(Messages(1)).ok());
    entries = spool.Peek(EventKey(42), 1 << 20, 10);
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 1u);
    EXPECT_EQ((*entries)[0].seq, 43u);  // no sequence reused
  }
  // Only the guard is left under m/, and it names the new format.
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), path, &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator({}));
  std::vector<std::string> legacy;
  for (it->Seek("m/"); it->Valid() && it->key().starts_with("m/"); it->Next()) {
    legacy.push_back(it->key().ToString());
  }
  EXPECT_EQ(legacy, std::vector<std::string>{"m/format_version"});
  std::string guard;
  ASSERT_TRUE(db->Get({}, "m/format_version", &guard).ok());
  EXPECT_EQ(DecodeFixed64BE(guard), kFormatVersion);
}

TEST_F(SpoolTest, ANewSpoolCarriesTheGuardThatFormatOneProgramsRefuse) {
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(Messages(1)).ok());
  }
  // A format-1 program reads m/format_version and refuses anything newer
  // than 1; without the guard it would take the spool for a new one.
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(),
                                (dir_.path() / "analytics" / "spool").string(),
                                &raw)
                  .ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::string guard;
  ASSERT_TRUE(db->Get({}, "m/format_version", &guard).ok());
  EXPECT_GT(DecodeFixed64BE(guard).value_or(0), 1u);
}

// Format 3 (spool/keys.h): an Append that changes only the append side's
// counters writes no c/ key; its last event carries the totals, and the
// next open rolls the counters forward from it. Any other write brings c/
// up to date.
TEST_F(SpoolTest, AnAppendDefersTheCountersToItsLastEventAndAnAckWritesThem) {
  const auto first = Messages(10, "a");
  const auto second = Messages(5, "b");
  uint64_t bytes = 0;
  for (const auto& m : first) bytes += m.size();
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(first).ok());
  }
  EXPECT_EQ(RawGet(std::string(kMetaCount)), std::nullopt);
  auto last = RawGet(EventKey(10));
  ASSERT_TRUE(last.has_value());
  auto value = DecodeEventValue(*last);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->totals, (AppendTotals{10, bytes}));
  auto before_last = DecodeEventValue(RawGet(EventKey(9)).value_or(""));
  ASSERT_TRUE(before_last.has_value());
  EXPECT_FALSE(before_last->totals.has_value());  // only the last pays

  for (const auto& m : second) bytes += m.size();
  std::vector<Entry> entries;
  {
    Spool spool(Options());  // rolls forward from e/10, then appends
    ASSERT_TRUE(spool.Append(second).ok());
    auto stats = spool.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->count, 15u);
    EXPECT_EQ(stats->bytes, bytes);
    EXPECT_EQ(stats->next_seq, 16u);
    entries = All(spool);
  }
  EXPECT_EQ(RawGet(std::string(kMetaCount)), std::nullopt);
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Ack(std::vector<std::string>{entries[0].key}).ok());
  }
  bytes -= entries[0].json.size();
  EXPECT_EQ(RawGet(std::string(kMetaCount)), EncodeFixed64BE(14));
  EXPECT_EQ(RawGet(std::string(kMetaBytes)), EncodeFixed64BE(bytes));
  EXPECT_EQ(RawGet(std::string(kMetaNextSeq)), EncodeFixed64BE(16));
  Spool spool(Options());
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 14u);
  EXPECT_EQ(stats->bytes, bytes);
}

// The point of deferring: successive writers' tables hold only their own
// events, so they overlap no other table and LevelDB moves them down without
// rewriting them. In format 2 every table began at the c/ counters.
TEST_F(SpoolTest, SuccessiveWritersTablesHoldNoCounters) {
  for (int round = 0; round < 5; ++round) {
    Spool writer(Options());  // each batch outgrows the buffer: a table
    ASSERT_TRUE(
        writer.Append(PaddedMessages(600, "r" + std::to_string(round) + "-"))
            .ok());
  }
  const auto tables = Tables();
  size_t with_counters = 0;
  for (const TableRange& t : tables) {
    if (t.smallest.starts_with("c/")) with_counters++;
  }
  EXPECT_GE(tables.size(), 5u);
  // The first writer's table also holds the format version it recorded.
  EXPECT_LE(with_counters, 1u);
}

// m/format_version sorts after every event: a table holding it and any
// other key would span the whole range of the events, and every table of
// events LevelDB moves down into its level would be merged with it instead
// of moved (keys.h). Through writers, a drain's Acks and a purge, it keeps
// a table of its own.
TEST_F(SpoolTest, TheFormatGuardKeepsATableOfItsOwn) {
  auto guard_alone = [&](const char* when) {
    size_t guards = 0;
    for (const TableRange& t : Tables()) {
      if (t.largest.starts_with("m/")) {
        guards++;
        EXPECT_TRUE(t.IsGuard())
            << when << ": a table spans " << t.smallest << " .. " << t.largest;
      }
    }
    EXPECT_EQ(guards, 1u) << when;
  };
  for (int round = 0; round < 4; ++round) {
    Spool writer(Options());
    ASSERT_TRUE(
        writer.Append(PaddedMessages(600, "r" + std::to_string(round) + "-"))
            .ok());
  }
  guard_alone("after four writers");
  {
    Spool uploader(Options());
    for (;;) {
      auto batch = uploader.Peek("", 1 << 20, 500);
      ASSERT_TRUE(batch.ok());
      if (batch->empty()) break;
      std::vector<std::string> keys;
      for (const auto& e : *batch) keys.push_back(e.key);
      ASSERT_TRUE(uploader.Ack(keys).ok());
    }
  }
  guard_alone("after a drain");
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(PaddedMessages(600, "p-")).ok());
    ASSERT_TRUE(spool.Purge().ok());
    ASSERT_TRUE(spool.Append(PaddedMessages(600, "q-")).ok());
  }
  guard_alone("after a purge");
  EXPECT_EQ(DecodeFixed64BE(RawGet("m/format_version").value_or("")),
            kFormatVersion);
}

TEST_F(SpoolTest, TotalsThatDisagreeWithTheCountersAreRecounted) {
  const auto messages = Messages(10);
  uint64_t bytes = 0;
  for (const auto& m : messages) bytes += m.size();
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(messages).ok());
  }
  {
    leveldb::WriteBatch b;
    b.Put(EventKey(10), EncodeEventValue(0, messages[9], AppendTotals{99, 5}));
    RawWrite(&b);
  }
  Spool spool(Options());
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->count, 10u);
  EXPECT_EQ(stats->bytes, bytes);
  EXPECT_EQ(stats->next_seq, 11u);
  EXPECT_EQ(All(spool).size(), 10u);
  // No c/count was ever written (every Append deferred it), and the totals
  // cannot be trusted: what is there is counted, and whether anything was
  // lost is reported as unknown rather than as nothing.
  EXPECT_EQ(stats->dropped["corruption"], 0u);
  EXPECT_TRUE(stats->corruption_loss_unknown);
}

// A key under e/ that is not an event, sorting past every event (a foreign
// or damaged one), leaves the deferred counters unknown: the open recounts,
// and the next Append takes a sequence past every event still there instead
// of starting again at c/next_seq over them.
TEST_F(SpoolTest, AForeignKeyPastTheEventsIsRecountedNotAppendedOver) {
  const auto first = Messages(10, "a");
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(first).ok());
  }
  {
    leveldb::WriteBatch b;
    b.Put("e/x", "not an event");
    RawWrite(&b);
  }
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(1, "b")).ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 11u);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(entries[i].json, first[i]);
  }
  EXPECT_EQ(entries.back().seq, 11u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 11u);
}

TEST_F(SpoolTest, AFormatTwoSpoolIsMarkedFormatThreeByItsFirstWriter) {
  // Format 2, written by hand: every counter under c/, no totals.
  {
    leveldb::WriteBatch b;
    b.Put(EventKey(41), EncodeEventValue(NowMs(), "{\"n\":41}"));
    b.Put(EventKey(42), EncodeEventValue(NowMs(), "{\"n\":42}"));
    b.Put(std::string(kMetaNextSeq), EncodeFixed64BE(43));
    b.Put(std::string(kMetaCount), EncodeFixed64BE(2));
    b.Put(std::string(kMetaBytes), EncodeFixed64BE(16));
    b.Put(std::string(kMetaFirstSeq), EncodeFixed64BE(41));
    b.Put(std::string(kMetaFormat), EncodeFixed64BE(2));
    b.Put(std::string(kLegacyMetaFormat), EncodeFixed64BE(2));
    RawWrite(&b);
  }
  {
    // Readers, even one holding the spool as a dump does, change nothing: a
    // format-2 program may share it until something is appended.
    Spool spool(Options());
    auto stats = spool.Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->format_version, 2u);
    EXPECT_EQ(stats->count, 2u);
    ASSERT_TRUE(spool.Hold(Role::kReader).ok());
    auto scanned = spool.Scan("", 1 << 20, 10);
    ASSERT_TRUE(scanned.ok());
    EXPECT_EQ(scanned->size(), 2u);
    spool.Release();
  }
  EXPECT_EQ(RawGet(std::string(kMetaFormat)), EncodeFixed64BE(2));
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(Messages(1)).ok());
    auto stats = spool.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->format_version, kFormatVersion);
    EXPECT_EQ(stats->count, 3u);
    EXPECT_EQ(stats->next_seq, 44u);
    auto entries = All(spool);
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].json, "{\"n\":41}");
  }
  // A format-2 program now refuses it, as it would misread the counters.
  // The Append that marked it wrote its counters too; the next one defers.
  EXPECT_EQ(RawGet(std::string(kMetaFormat)), EncodeFixed64BE(kFormatVersion));
  EXPECT_EQ(RawGet(std::string(kMetaCount)), EncodeFixed64BE(3));
  // The guard is left at 2: a format-1 program refuses it all the same, and
  // rewritten it would share a table with the counters.
  EXPECT_EQ(RawGet(std::string(kLegacyMetaFormat)), EncodeFixed64BE(2));
}

// ScanEach visits in place what Scan would copy, with the same limits, and
// stops where its visitor says.
TEST_F(SpoolTest, ScanEachVisitsWhatScanReturnsWithoutCopying) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(25)).ok());
  struct Seen {
    std::string key;
    uint64_t seq;
    std::string json;
  };
  auto scan_each = [&](std::string_view after, size_t max_bytes,
                       size_t max_count, size_t stop_at) {
    std::vector<Seen> seen;
    auto n =
        spool.ScanEach(after, max_bytes, max_count, [&](const EntryView& e) {
          seen.push_back({std::string(e.key), e.seq, std::string(e.json)});
          return seen.size() < stop_at;
        });
    EXPECT_TRUE(n.ok());
    EXPECT_EQ(n.ok() ? *n : 0, seen.size());
    return seen;
  };
  auto expect_same = [](const std::vector<Seen>& seen,
                        const std::vector<Entry>& copies) {
    ASSERT_EQ(seen.size(), copies.size());
    for (size_t i = 0; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i].key, copies[i].key);
      EXPECT_EQ(seen[i].seq, copies[i].seq);
      EXPECT_EQ(seen[i].json, copies[i].json);
    }
  };
  const auto all = spool.Scan("", 1 << 20, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 25u);
  expect_same(scan_each("", 1 << 20, 100, SIZE_MAX), *all);
  // By count, by bytes (at least one), after a key.
  expect_same(scan_each("", 1 << 20, 7, SIZE_MAX), *spool.Scan("", 1 << 20, 7));
  expect_same(scan_each("", 40, 100, SIZE_MAX), *spool.Scan("", 40, 100));
  expect_same(scan_each("", 1, 100, SIZE_MAX), *spool.Scan("", 1, 100));
  expect_same(scan_each((*all)[9].key, 1 << 20, 5, SIZE_MAX),
              *spool.Scan((*all)[9].key, 1 << 20, 5));
  // The visitor stops it: the one that said stop was visited.
  const auto stopped = scan_each("", 1 << 20, 100, 3);
  ASSERT_EQ(stopped.size(), 3u);
  EXPECT_EQ(stopped.back().seq, 3u);
  EXPECT_TRUE(scan_each((*all)[24].key, 1 << 20, 100, SIZE_MAX).empty());
}

// An event that fails its checksum in the middle of a walk: the spool is
// repaired (the event removed and counted) and the walk goes on after the
// last event it visited, so no event is visited twice.
TEST_F(SpoolTest, ScanEachResumesAfterARepairWithoutVisitingTwice) {
  const auto messages = Messages(10);
  {
    Spool spool(Options());
    ASSERT_TRUE(spool.Append(messages).ok());
  }
  {
    std::string damaged = EncodeEventValue(NowMs(), messages[4]);
    damaged.back() ^= 0x01;  // the JSON no longer matches its CRC
    leveldb::WriteBatch b;
    b.Put(EventKey(5), damaged);
    RawWrite(&b);
  }
  Spool spool(Options());
  std::vector<uint64_t> seqs;
  auto n = spool.ScanEach("", 1 << 20, 100, [&](const EntryView& e) {
    seqs.push_back(e.seq);
    return true;
  });
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 6, 7, 8, 9, 10}));
  EXPECT_EQ(*n, 9u);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 9u);
  EXPECT_EQ(
      stats->dropped[std::string(DropReasonName(DropReason::kCorruption))], 1u);
}

TEST_F(SpoolTest, ReadingAMissingSpoolCreatesNothing) {
  Spool spool(Options());
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->count, 0u);
  EXPECT_EQ(stats->format_version, 0u);
  auto entries = spool.Peek("", 100, 100);
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
  auto purged = spool.Purge();
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0u);
  EXPECT_TRUE(spool.Ack(std::vector<std::string>{EventKey(1)}).ok());
  EXPECT_FALSE(fs::exists(dir_.path() / "analytics"));
}

TEST_F(SpoolTest, DrainingMovesTheHeadHintSoPeekFromStartSeeksPastTombstones) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(300)).ok());
  auto entries = All(spool);
  std::vector<std::string> keys;
  for (size_t i = 0; i < 250; ++i) keys.push_back(entries[i].key);
  ASSERT_TRUE(spool.Ack(keys).ok());
  auto head = spool.Peek("", 1 << 20, 1);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->front().seq, entries[250].seq);
  EXPECT_EQ(RawGet(std::string(kMetaFirstSeq)),
            EncodeFixed64BE(entries[250].seq));
}

TEST_F(SpoolTest, LargeDeletesCompactTheDrainedRange) {
  Spool spool(Options());
  std::vector<std::string> big;
  for (int i = 0; i < 12'000; ++i) big.push_back(std::string(200, 'x'));
  ASSERT_TRUE(spool.Append(big).ok());
  std::string after;
  for (;;) {
    auto batch = spool.Peek(after, 1 << 20, 500);
    ASSERT_TRUE(batch.ok());
    if (batch->empty()) break;
    std::vector<std::string> keys;
    for (const auto& e : *batch) keys.push_back(e.key);
    ASSERT_TRUE(spool.Ack(keys).ok());
    after = keys.back();
  }
  // The counter resets when the drained range was compacted.
  auto since = RawGet(std::string(kMetaDeletesSinceCompact));
  ASSERT_TRUE(since);
  EXPECT_LT(*DecodeFixed64BE(*since), 12'000u);
  uint64_t table_bytes = 0;
  for (const auto& f :
       fs::directory_iterator(dir_.path() / "analytics/spool")) {
    if (f.path().extension() == ".ldb") table_bytes += f.file_size();
  }
  EXPECT_LT(table_bytes, 12'000u * 200 / 4);
}

TEST_F(SpoolTest, ADrainCompactsOnlyOnceTheDrainedRangeOutgrowsWhatRemains) {
  // Compacting rewrites the live tables next to the drained range, so a long
  // drain compacts when what it deleted is at least what is left, not every
  // 10,000 acks.
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(30'000)).ok());
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 30'000u);
  auto ack = [&](size_t from, size_t to) {
    std::vector<std::string> keys;
    for (size_t i = from; i < to; ++i) keys.push_back(entries[i].key);
    ASSERT_TRUE(spool.Ack(keys).ok());
  };
  auto since = [&]() -> uint64_t {
    auto v = RawGet(std::string(kMetaDeletesSinceCompact));
    return v ? DecodeFixed64BE(*v).value_or(0) : 0;
  };
  for (size_t i = 0; i < 14'000; i += 1'000) ack(i, i + 1'000);
  // 14,000 deleted, 16,000 left: not yet.
  EXPECT_EQ(since(), 14'000u);
  ack(14'000, 15'000);
  // 15,000 deleted, 15,000 left: compacted, the counter starts again.
  EXPECT_EQ(since(), 0u);
  ack(15'000, 30'000);
  EXPECT_EQ(since(), 0u);  // drained to empty: compacted again
  EXPECT_TRUE(All(spool).empty());
}

TEST_F(SpoolTest, AppendToInboxIsIngestedOnceByTheNextCall) {
  Spool spool(Options());
  ASSERT_TRUE(spool.Append(Messages(1, "db")).ok());
  ASSERT_TRUE(spool.AppendToInbox(Messages(2, "inbox")).ok());
  auto stats = spool.Stats();  // a read: does not ingest
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 1u);
  EXPECT_EQ(stats->inbox_files, 1u);
  auto entries = All(spool);
  stats = spool.Stats();
  EXPECT_EQ(stats->count, 3u);
  EXPECT_EQ(stats->inbox_files, 0u);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].json, "{\"messageId\":\"inbox0\"}");
  EXPECT_EQ(All(spool).size(), 3u);
}

// zenml-upload passes its consent check as ingest_allowed: once the user
// has opted out, no call of its (a Peek, an Ack) may carry an inbox file
// into the database that `opt-out` has just purged. The file stays for the
// opt-out's sweep, and is ingested by the first call allowed again.
TEST_F(SpoolTest, InboxFilesStayInTheInboxWhileIngestIsNotAllowed) {
  std::atomic<bool> allowed{false};
  int asked = 0;
  SpoolOptions options = Options();
  options.ingest_allowed = [&] {
    ++asked;
    return allowed.load();
  };
  Spool spool(options);
  ASSERT_TRUE(spool.Append(Messages(1, "db")).ok());
  EXPECT_EQ(asked, 0) << "asked with no inbox file to ingest";
  ASSERT_TRUE(spool.AppendToInbox(Messages(2, "inbox")).ok());

  auto peeked = spool.Peek("", 1 << 20, 100);
  ASSERT_TRUE(peeked.ok()) << peeked.status().ToString();
  ASSERT_EQ(peeked->size(), 1u);
  const std::vector<std::string> acked = {(*peeked)[0].key};
  EXPECT_TRUE(spool.Ack(acked).ok());
  ASSERT_TRUE(spool.Append(Messages(1, "db-again")).ok());
  EXPECT_GE(asked, 3);
  auto stats = spool.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 1u);
  EXPECT_EQ(stats->inbox_files, 1u);
  EXPECT_EQ(stats->inbox_events, 2u);

  allowed.store(true);
  auto entries = All(spool);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].json, "{\"messageId\":\"inbox0\"}");
  stats = spool.Stats();
  EXPECT_EQ(stats->inbox_files, 0u);
}

TEST_F(SpoolTest, ManyThreadsAndSpoolsOfOnePathKeepCountsExact) {
  std::vector<std::thread> threads;
  Spool shared(Options());
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Spool own(Options());
      for (int i = 0; i < 50; ++i) {
        Spool& s = (i % 2 == 0) ? shared : own;
        // Built with +=: GCC 12 at -O3 misreports the `"t" + ...` chain
        // (-Wrestrict, a known false positive).
        std::string prefix = "t";
        prefix += std::to_string(t);
        prefix += '-';
        prefix += std::to_string(i);
        prefix += '-';
        EXPECT_TRUE(s.Append(Messages(3, prefix)).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto entries = All(shared);
  EXPECT_EQ(entries.size(), 4u * 50 * 3);
  std::set<std::string> unique;
  for (const auto& e : entries) unique.insert(e.json);
  EXPECT_EQ(unique.size(), entries.size());
  EXPECT_EQ(shared.Stats()->count, entries.size());
}

// Permissions and ownership.

TEST_F(SpoolTest, DirectoriesAre0700AndFiles0600WhateverTheUmask) {
  const mode_t old = ::umask(0);
  {
    auto o = Options();
    Spool spool(o);
    ASSERT_TRUE(spool.Append(Messages(2)).ok());
    ASSERT_TRUE(spool.AppendToInbox(Messages(1)).ok());
    for (const fs::path& d : {o.dir, o.dir / "spool", o.dir / "inbox"}) {
      struct stat st {};
      ASSERT_EQ(::stat(d.c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
    }
    for (const fs::path& d : {o.dir / "spool", o.dir / "inbox"}) {
      for (const auto& f : fs::directory_iterator(d)) {
        struct stat st {};
        ASSERT_EQ(::stat(f.path().c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u) << f.path();
      }
    }
  }
  ::umask(old);
}

TEST_F(SpoolTest, ASymlinkedSpoolDirectoryIsRefused) {
  const fs::path real = dir_.path() / "elsewhere";
  fs::create_directory(real);
  fs::create_directory_symlink(real, dir_.path() / "analytics");
  Spool spool(Options());
  auto target = spool.Append(Messages(1));
  ASSERT_FALSE(target.ok());
  EXPECT_EQ(target.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(target.status().message().find("symbolic link"), std::string::npos)
      << target.status().ToString();
  EXPECT_FALSE(spool.Stats().ok());
  EXPECT_TRUE(fs::is_empty(real));
}

TEST_F(SpoolTest, ASpoolDirectoryOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown to nobody";
  const fs::path d = dir_.path() / "analytics";
  fs::create_directory(d);
  ASSERT_EQ(::chown(d.c_str(), 65534, 65534), 0);
  Spool spool(Options());
  auto target = spool.Append(Messages(1));
  ASSERT_FALSE(target.ok());
  EXPECT_EQ(target.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(target.status().message().find("owned by uid 65534"),
            std::string::npos)
      << target.status().ToString();
  EXPECT_TRUE(fs::is_empty(d));
}

}  // namespace
}  // namespace zenml::spool
