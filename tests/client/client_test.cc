#include "client/client.h"

#include <gtest/gtest.h>
#include <leveldb/env.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/config_dir.h"
#include "core/environment.h"
#include "core/value.h"
#include "spool/spool.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace zenml::client {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using core::Value;
using testing::Child;
using testing::TempDir;

// Everything pending in the spool at `analytics_dir`, parsed, oldest first.
// Fails the test on an unreadable spool or a record that does not parse.
struct Spooled {
  std::vector<Value> messages;
  std::vector<uint64_t> seqs;
};
Spooled ReadSpool(const fs::path& analytics_dir) {
  spool::SpoolOptions options;
  options.dir = analytics_dir;
  options.lock_wait = 30s;
  spool::Spool spool(options);
  Spooled out;
  std::string after;
  for (;;) {
    auto entries = spool.Peek(after, 8 << 20, 10'000);
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok() || entries->empty()) break;
    for (const auto& e : *entries) {
      auto v = core::ParseJson(e.json);
      EXPECT_TRUE(v.ok()) << "record " << e.seq << " does not parse";
      if (v.ok()) out.messages.push_back(std::move(v).value());
      out.seqs.push_back(e.seq);
    }
    after = entries->back().key;
  }
  return out;
}

std::string MessageId(const Value& m) {
  const Value* id = m.Find("messageId");
  return id != nullptr && id->is_string() ? id->as_string() : "";
}

std::string Prop(const Value& m, std::string_view key) {
  const Value* props = m.Find("properties");
  const Value* v = props != nullptr ? props->Find(key) : nullptr;
  if (v == nullptr) return "";
  if (v->is_string()) return v->as_string();
  if (v->is_int()) return std::to_string(v->as_int());
  return "?";
}

size_t InboxFiles(const fs::path& analytics_dir) {
  std::error_code ec;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(analytics_dir / "inbox", ec)) {
    if (!e.path().filename().string().starts_with(".")) ++n;
  }
  return n;
}

// Fails every file write and sync while failing() is set: a full disk.
class FailingEnv final : public leveldb::EnvWrapper {
 public:
  FailingEnv() : EnvWrapper(leveldb::Env::Default()) {}
  std::atomic<bool> failing{false};

  leveldb::Status NewWritableFile(const std::string& f,
                                  leveldb::WritableFile** r) override {
    if (failing) return leveldb::Status::IOError(f, "injected: disk full");
    return Wrap(target()->NewWritableFile(f, r), r);
  }
  leveldb::Status NewAppendableFile(const std::string& f,
                                    leveldb::WritableFile** r) override {
    if (failing) return leveldb::Status::IOError(f, "injected: disk full");
    return Wrap(target()->NewAppendableFile(f, r), r);
  }

 private:
  class File final : public leveldb::WritableFile {
   public:
    File(FailingEnv* env, leveldb::WritableFile* base)
        : env_(env), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (env_->failing) return leveldb::Status::IOError("injected: append");
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override {
      if (env_->failing) return leveldb::Status::IOError("injected: sync");
      return base_->Sync();
    }

   private:
    FailingEnv* env_;
    std::unique_ptr<leveldb::WritableFile> base_;
  };
  leveldb::Status Wrap(leveldb::Status s, leveldb::WritableFile** r) {
    if (s.ok()) *r = new File(this, *r);
    return s;
  }
};

class ClientTest : public ::testing::Test {
 protected:
  ClientOptions Options() {
    ClientOptions o;
    o.config_dir = config_dir_;
    o.environment = &env_;  // empty: consent by default, nothing inherited
    o.spool.lock_wait = 30s;
    return o;
  }
  fs::path analytics_dir() const { return core::AnalyticsDir(config_dir_); }

  // The spool's c/drop/<reason> counter, as `status` shows it.
  uint64_t SpoolDrops(const std::string& reason) {
    spool::SpoolOptions options;
    options.dir = analytics_dir();
    options.lock_wait = 30s;
    spool::Spool spool(options);
    auto stats = spool.Stats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    if (!stats.ok()) return ~uint64_t{0};
    auto it = stats->dropped.find(reason);
    return it == stats->dropped.end() ? 0 : it->second;
  }

  // Starts a helper process that holds the spool until Release().
  std::unique_ptr<Child> HoldInOtherProcess() {
    auto child = std::make_unique<Child>(std::vector<std::string>{
        testing::TestBinPath("client_test_helper"), "hold",
        analytics_dir().string(), release_file_.string()});
    auto line = child->ReadLine(30s);
    EXPECT_EQ(line.value_or("<nothing>"), "held");
    return child;
  }
  void ReleaseOtherProcess(Child& child) {
    testing::WriteFile(release_file_, "go");
    auto r = child.Wait(30s);
    EXPECT_EQ(r.exit_code, 0);
  }

  TempDir tmp_;
  fs::path config_dir_ = tmp_.path() / "zenml";
  fs::path release_file_ = tmp_.path() / "release";
  core::MapEnvironment env_;
};

TEST_F(ClientTest, TrackReturnsBeforeTheWriteAndFlushMakesTheEventDurable) {
  Client client(Options());
  ASSERT_TRUE(client.enabled());
  // Make the first write wait: another process holds the database.
  auto holder = HoldInOtherProcess();
  std::string id;
  ASSERT_TRUE(
      client.Track(core::Event::kPipelineRun, Value::Object{{"steps", 3}}, &id)
          .ok());
  // Track came back although nothing could be written yet.
  EXPECT_EQ(client.stats().written, 0u);
  EXPECT_EQ(client.stats().accepted, 1u);
  EXPECT_EQ(client.Flush(50ms).code(), Status::Code::kDeadlineExceeded);

  ReleaseOtherProcess(*holder);
  ASSERT_TRUE(client.Flush(30s).ok());
  EXPECT_EQ(client.stats().written, 1u);

  Spooled s = ReadSpool(analytics_dir());
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(MessageId(s.messages[0]), id);
  EXPECT_EQ(s.messages[0].Find("event")->as_string(), "Pipeline run");
  EXPECT_EQ(Prop(s.messages[0], "steps"), "3");
}

// A writer idle with the spool held (idle_close_delay, an hour here) lets
// go as soon as another process says it waits: a reader gets in, and so
// does a writer (its events land in the database, not in an inbox file),
// each within its lock_wait. Without the idle poll both waited an hour.
TEST_F(ClientTest, AnIdleWriterGivesTheSpoolToAProcessThatWaits) {
  ClientOptions options = Options();
  options.idle_close_delay = std::chrono::hours(1);
  Client client(options);
  ASSERT_TRUE(client.Track(core::Event::kPipelineRun, Value::Object{}).ok());
  ASSERT_TRUE(client.Flush(30s).ok());  // written; the writer holds, idle

  const std::string helper = testing::TestBinPath("spool_helper");
  auto peek = testing::Run({helper, "peek", "--dir", analytics_dir().string(),
                            "--lock-wait-ms", "20000"});
  EXPECT_EQ(peek.exit_code, 0) << peek.err;
  EXPECT_EQ(peek.out, "count 1\n");

  ASSERT_TRUE(client.Track(core::Event::kPipelineRun, Value::Object{}).ok());
  ASSERT_TRUE(client.Flush(30s).ok());  // held again
  auto append =
      testing::Run({helper, "append", "--dir", analytics_dir().string(),
                    "--count", "1", "--lock-wait-ms", "20000", "--report"});
  EXPECT_EQ(append.exit_code, 0) << append.err;
  EXPECT_EQ(append.out, "ok database m-0\n");  // not its inbox
  Spooled s = ReadSpool(analytics_dir());
  EXPECT_EQ(s.messages.size(), 3u);
}

TEST_F(ClientTest, FlushForEverWaitsUntilTheEventIsDurable) {
  Client client(Options());
  ASSERT_TRUE(client.enabled());
  auto holder = HoldInOtherProcess();
  ASSERT_TRUE(client.Track(core::Event::kPipelineRun).ok());
  std::thread release([&] {
    std::this_thread::sleep_for(200ms);
    ReleaseOtherProcess(*holder);
  });
  // milliseconds::max() overflowed the deadline into the past: Flush gave
  // up at once with DeadlineExceeded while the event was still queued.
  const Status flushed = client.Flush(std::chrono::milliseconds::max());
  release.join();
  EXPECT_TRUE(flushed.ok()) << flushed.ToString();
  EXPECT_EQ(client.stats().written, 1u);
}

TEST_F(ClientTest, EightThreadsTrackingStoreEveryMessageIdExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> ids(kThreads);
  {
    Client client(Options());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string id;
          Status s;
          // 16,000 events may outrun the writer's first open and fill the
          // 10,000-event queue: a dropped event is retried by the caller.
          do {
            s = client.Track("Thread event", Value::Object{{"t", t}, {"n", i}},
                             &id);
          } while (s.code() == Status::Code::kResourceExhausted);
          ASSERT_TRUE(s.ok()) << s;
          ids[t].push_back(id);
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(client.Flush(60s).ok());
    ClientStats st = client.stats();
    EXPECT_EQ(st.accepted, uint64_t{kThreads * kPerThread});
    EXPECT_EQ(st.written, uint64_t{kThreads * kPerThread});
    EXPECT_EQ(st.write_errors, 0u);
  }
  std::multiset<std::string> expected;
  for (auto& v : ids) expected.insert(v.begin(), v.end());
  Spooled s = ReadSpool(analytics_dir());
  std::multiset<std::string> found;
  for (const auto& m : s.messages) found.insert(MessageId(m));
  EXPECT_EQ(found.size(), expected.size());
  EXPECT_TRUE(found == expected);
  EXPECT_TRUE(std::is_sorted(s.seqs.begin(), s.seqs.end()));
}

TEST_F(ClientTest, FullQueueReturnsResourceExhaustedAndCountsTheDrop) {
  ClientOptions o = Options();
  o.queue_capacity = 4;
  o.max_batch_count = 1;  // at most one event in the writer's hands
  auto holder = HoldInOtherProcess();  // the writer cannot write
  Client client(o);
  int ok = 0;
  int full = 0;
  for (int i = 0; i < 20; ++i) {
    Status s = client.Track("Queue event", Value::Object{{"n", i}});
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.code(), Status::Code::kResourceExhausted) << s;
      ++full;
    }
  }
  EXPECT_GE(ok, 4);
  EXPECT_LE(ok, 5);  // the queue's 4 plus the one the writer holds
  EXPECT_EQ(client.stats().dropped_queue_full, static_cast<uint64_t>(full));
  EXPECT_EQ(client.stats().accepted, static_cast<uint64_t>(ok));

  ReleaseOtherProcess(*holder);
  ASSERT_TRUE(client.Flush(30s).ok());
  EXPECT_EQ(ReadSpool(analytics_dir()).messages.size(),
            static_cast<size_t>(ok));
  // The drops went into the spool with that write (issue 12).
  EXPECT_EQ(SpoolDrops("queue_full"), static_cast<uint64_t>(full));
  EXPECT_EQ(SpoolDrops("disk_full"), 0u);
  EXPECT_EQ(client.stats().unrecorded_drops, 0u);
}

TEST_F(ClientTest, TheWriterPreparesEveryQueueSlotAndEventsStillFlow) {
  ClientOptions o = Options();
  o.queue_capacity = 1000;  // four chunks of slots, the last one short
  Client client(o);
  EXPECT_EQ(client.stats().queue_prepared, 0u);  // nothing before a Track()
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(client.Track("Prepared", Value::Object{{"n", i}}).ok());
  }
  ASSERT_TRUE(client.Flush(30s).ok());
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (client.stats().queue_prepared < 1000 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(client.stats().queue_prepared, 1000u);
  // Laps of the ring over prepared slots lose and reorder nothing.
  for (int i = 300; i < 2600; ++i) {
    Status s = client.Track("Prepared", Value::Object{{"n", i}});
    if (!s.ok()) {
      ASSERT_EQ(s.code(), Status::Code::kResourceExhausted);
      ASSERT_TRUE(client.Flush(30s).ok());
      --i;  // the same event again, now that there is room
    }
  }
  ASSERT_TRUE(client.Flush(30s).ok());
  Spooled s = ReadSpool(analytics_dir());
  ASSERT_EQ(s.messages.size(), 2600u);
  for (int i = 0; i < 2600; ++i) {
    ASSERT_EQ(Prop(s.messages[i], "n"), std::to_string(i));
  }
}

TEST_F(ClientTest, SynchronousTrackReturnsOnlyOnceTheEventIsInTheSpool) {
  ClientOptions o = Options();
  o.synchronous = true;
  Client client(o);
  for (int i = 0; i < 5; ++i) {
    std::string id;
    ASSERT_TRUE(client.Track("Sync event", Value::Object{{"n", i}}, &id).ok());
    EXPECT_EQ(client.stats().written, static_cast<uint64_t>(i + 1));
    Spooled s = ReadSpool(analytics_dir());  // no Flush
    ASSERT_EQ(s.messages.size(), static_cast<size_t>(i + 1));
    EXPECT_EQ(MessageId(s.messages.back()), id);
  }
}

// Threads of this process now (/proc/self/task has one entry per thread).
size_t ThreadCount() {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/task")) {
    (void)e;
    ++n;
  }
  return n;
}

TEST_F(ClientTest, SynchronousTrackWritesOnTheCallersThreadWithoutAWriter) {
  ClientOptions o = Options();
  o.synchronous = true;
  {
    // The spool exists already: creating one flushes its format guard on a
    // thread that is joined at once (spool/spool_format.cc), and under
    // ThreadSanitizer a process's first thread starts TSan's own, which
    // stays: this test is about the writer thread a track would start.
    spool::SpoolOptions so;
    so.dir = analytics_dir();
    spool::Spool spool(so);
    ASSERT_TRUE(spool.Hold(spool::Role::kWriter).ok());
    spool.Release();
  }
  const size_t before = ThreadCount();
  std::string id;
  {
    Client client(o);
    ASSERT_TRUE(client.Track("One shot", Value::Object{{"n", 1}}, &id).ok());
    // No writer thread was started for it, and none lingers.
    EXPECT_EQ(ThreadCount(), before);
    EXPECT_EQ(client.stats().written, 1u);
    EXPECT_TRUE(client.Flush(1s).ok());
    // The spool was given back when the call returned: another opener gets
    // it at once (ReadSpool would otherwise wait for the lock).
    Spooled s = ReadSpool(analytics_dir());
    ASSERT_EQ(s.messages.size(), 1u);
    EXPECT_EQ(MessageId(s.messages[0]), id);
  }
  EXPECT_EQ(ThreadCount(), before);
}

TEST_F(ClientTest, ConcurrentSynchronousCallersAllLandDurably) {
  ClientOptions o = Options();
  o.synchronous = true;
  constexpr int kThreads = 6;
  constexpr int kEach = 40;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::atomic<int> failures{0};
  {
    Client client(o);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          std::string id;
          if (!client.Track("Sync many", Value::Object{{"t", t}, {"i", i}}, &id)
                   .ok()) {
            ++failures;
            continue;
          }
          ids[static_cast<size_t>(t)].push_back(id);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(client.stats().written, uint64_t{kThreads * kEach});
    EXPECT_EQ(client.stats().queued, 0u);
  }
  Spooled s = ReadSpool(analytics_dir());
  std::multiset<std::string> found;
  for (const auto& m : s.messages) found.insert(MessageId(m));
  std::multiset<std::string> want;
  for (const auto& v : ids) want.insert(v.begin(), v.end());
  EXPECT_EQ(want.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(found, want);
  // Each thread's events are in its own order.
  std::map<int, int> last;
  for (const auto& m : s.messages) {
    int t = std::stoi(Prop(m, "t"));
    int i = std::stoi(Prop(m, "i"));
    auto it = last.find(t);
    if (it != last.end()) {
      EXPECT_LT(it->second, i);
    }
    last[t] = i;
  }
}

// config.yaml is read once: the anonymous id comes from the read that
// decided consent at construction, not from a second read at the first
// Track() (which would see the id written in between).
TEST_F(ClientTest, TheAnonymousIdComesFromTheConfigReadForConsent) {
  const std::string first = "11111111-2222-4333-8444-555555555555";
  const std::string second = "66666666-7777-4888-9999-aaaaaaaaaaaa";
  fs::create_directories(config_dir_);
  testing::WriteFile(core::ConfigFilePath(config_dir_),
                     "analytics_opt_in: true\nuser_id: " + first + "\n");
  {
    Client client(Options());  // the environment is empty: the file decides
    ASSERT_EQ(client.consent().source, core::ConsentSource::kConfigFile);
    testing::WriteFile(core::ConfigFilePath(config_dir_),
                       "analytics_opt_in: true\nuser_id: " + second + "\n");
    ASSERT_TRUE(client.Track("Id event").ok());
  }
  Spooled s = ReadSpool(analytics_dir());
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.messages[0].Find("anonymousId")->as_string(), first);
}

TEST_F(ClientTest, FailedWritesAreCountedAndRetriedUntilTheEventsLand) {
  FailingEnv env;
  env.failing = true;
  ClientOptions o = Options();
  o.spool.env = &env;
  std::vector<std::string> ids(10);
  {
    Client client(o);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(
          client.Track("Retry event", Value::Object{{"n", i}}, &ids[i]).ok());
    }
    // Wait (bounded) until the writer has failed at least twice.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (client.stats().write_errors < 2 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    EXPECT_GE(client.stats().write_errors, 2u);
    EXPECT_EQ(client.stats().written, 0u);
    Status pending = client.Flush(10ms);
    EXPECT_EQ(pending.code(), Status::Code::kDeadlineExceeded);
    EXPECT_NE(pending.message().find("injected"), std::string::npos) << pending;

    env.failing = false;  // space again: the kept events go in
    ASSERT_TRUE(client.Flush(60s).ok());
    EXPECT_EQ(client.stats().written, 10u);
  }
  Spooled s = ReadSpool(analytics_dir());
  std::multiset<std::string> found;
  for (const auto& m : s.messages) found.insert(MessageId(m));
  EXPECT_EQ(found, std::multiset<std::string>(ids.begin(), ids.end()));
}

// Waits (bounded) until `client` has seen at least `n` failed writes.
void WaitForWriteErrors(const Client& client, uint64_t n) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (client.stats().write_errors < n &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_GE(client.stats().write_errors, n);
}

TEST_F(ClientTest, DiskFullOverflowIsCountedAndRecordedOnceTheDiskRecovers) {
  FailingEnv env;
  env.failing = true;
  ClientOptions o = Options();
  o.spool.env = &env;
  o.queue_capacity = 4;
  o.max_batch_count = 1;  // at most one event in the writer's hands
  std::vector<std::string> ids;
  int full = 0;
  {
    Client client(o);
    std::string id;
    ASSERT_TRUE(client.Track("Disk full event", {}, &id).ok());
    ids.push_back(id);
    WaitForWriteErrors(client, 1);
    for (int i = 0; i < 20; ++i) {
      Status s = client.Track("Disk full event", Value::Object{{"n", i}}, &id);
      if (s.ok()) {
        ids.push_back(id);
      } else {
        EXPECT_EQ(s.code(), Status::Code::kResourceExhausted) << s;
        ++full;
      }
    }
    EXPECT_GE(full, 15);
    Status pending = client.Flush(10ms);
    EXPECT_FALSE(pending.ok());
    EXPECT_NE(pending.message().find("writes are failing"), std::string::npos)
        << pending;
    EXPECT_NE(pending.message().find("injected: disk full"), std::string::npos)
        << pending;
    EXPECT_EQ(client.stats().unrecorded_drops, static_cast<uint64_t>(full));

    env.failing = false;  // space again
    ASSERT_TRUE(client.Flush(60s).ok());
    EXPECT_EQ(client.stats().unrecorded_drops, 0u);
    EXPECT_EQ(client.stats().dropped_disk_full, 0u);  // every accepted landed
  }
  Spooled s = ReadSpool(analytics_dir());
  std::multiset<std::string> found;
  for (const auto& m : s.messages) found.insert(MessageId(m));
  EXPECT_EQ(found, std::multiset<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(SpoolDrops("disk_full"), static_cast<uint64_t>(full));
  EXPECT_EQ(SpoolDrops("queue_full"), 0u);
}

TEST_F(ClientTest, DiskFullUntilExitCountsTheLossAndRecordsItOnceItRecovers) {
  FailingEnv env;
  env.failing = true;
  ClientOptions o = Options();
  o.spool.env = &env;
  o.flush_on_exit_timeout = 100ms;
  o.auto_upload = false;
  {
    Client client(o);
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(client.Track("Lost event", Value::Object{{"n", i}}).ok());
    }
    WaitForWriteErrors(client, 1);
    Status flushed = client.Flush(50ms);
    EXPECT_FALSE(flushed.ok());
    EXPECT_NE(flushed.message().find("injected: disk full"), std::string::npos)
        << flushed;
  }  // the exit's inbox write fails too: 30 lost, counted
  env.failing = false;
  EXPECT_TRUE(ReadSpool(analytics_dir()).messages.empty());
  {
    // The next Client of this process on this spool records them.
    Client client(o);
    ASSERT_TRUE(client.Track("After the disk recovered").ok());
    ASSERT_TRUE(client.Flush(60s).ok());
    EXPECT_EQ(client.stats().unrecorded_drops, 0u);
  }
  EXPECT_EQ(ReadSpool(analytics_dir()).messages.size(), 1u);
  EXPECT_EQ(SpoolDrops("disk_full"), 30u);
}

TEST_F(ClientTest, SynchronousTrackReportsAWriteFailureAndKeepsNothing) {
  FailingEnv env;
  env.failing = true;
  ClientOptions o = Options();
  o.spool.env = &env;
  o.synchronous = true;
  {
    Client client(o);
    Status s = client.Track("Sync failure");
    EXPECT_EQ(s.code(), Status::Code::kIoError) << s;
    EXPECT_EQ(client.stats().write_errors, 1u);
    env.failing = false;
    EXPECT_TRUE(client.Track("Sync success").ok());
  }
  Spooled s = ReadSpool(analytics_dir());
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.messages[0].Find("event")->as_string(), "Sync success");
}

TEST_F(ClientTest, OptedOutTrackCreatesNoFileAtAll) {
  env_.Set("ZENML_ANALYTICS_OPT_IN", "false");
  {
    Client client(Options());
    EXPECT_FALSE(client.enabled());
    for (int i = 0; i < 10; ++i) {
      EXPECT_TRUE(client.Track(core::Event::kStepCreated).ok());
    }
    EXPECT_TRUE(client.Flush(1s).ok());
    EXPECT_EQ(client.stats().accepted, 0u);
  }
  EXPECT_FALSE(fs::exists(config_dir_));
  EXPECT_TRUE(fs::is_empty(tmp_.path()));
}

TEST_F(ClientTest, DoNotTrackAlsoKeepsEverythingOff) {
  env_.Set("DO_NOT_TRACK", "1");
  {
    Client client(Options());
    EXPECT_TRUE(client.Track("Anything").ok());
  }
  EXPECT_FALSE(fs::exists(config_dir_));
}

TEST_F(ClientTest, InvalidEventIsRefusedOnTheCallersThreadAndCounted) {
  Client client(Options());
  EXPECT_EQ(client.Track("").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(client.Track("Bad utf8", Value::Object{{"s", "\xff\xfe"}}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(
      client.Track("Big", Value::Object{{"s", std::string(40000, 'x')}}).code(),
      Status::Code::kInvalidArgument);
  EXPECT_EQ(client.stats().rejected_invalid, 3u);
  EXPECT_EQ(client.stats().accepted, 0u);
  ASSERT_TRUE(client.Flush(10s).ok());
  EXPECT_TRUE(ReadSpool(analytics_dir()).messages.empty());
}

TEST_F(ClientTest, MessagesCarryTheAnonymousIdAndContext) {
  ClientOptions o = Options();
  o.zenml_version = "0.5.7";
  core::FakeClock clock(core::WallTime(std::chrono::milliseconds(
      1'767'225'600'123)));  // 2026-01-01T00:00:00.123Z
  o.clock = &clock;
  {
    Client client(o);
    ASSERT_TRUE(client.Track(core::Event::kZenmlInitialized).ok());
    ASSERT_TRUE(client.Track(core::Event::kZenmlInitialized).ok());
  }
  Spooled s = ReadSpool(analytics_dir());
  ASSERT_EQ(s.messages.size(), 2u);
  const Value& m = s.messages[0];
  EXPECT_EQ(m.Find("type")->as_string(), "track");
  EXPECT_EQ(m.Find("event")->as_string(), "ZenML initialized");
  EXPECT_EQ(m.Find("timestamp")->as_string(), "2026-01-01T00:00:00.123Z");
  std::string anon = m.Find("anonymousId")->as_string();
  EXPECT_EQ(anon.size(), 36u);
  EXPECT_EQ(s.messages[1].Find("anonymousId")->as_string(), anon);
  EXPECT_NE(MessageId(s.messages[0]), MessageId(s.messages[1]));
  EXPECT_EQ(m.Find("context")->Find("zenml")->Find("version")->as_string(),
            "0.5.7");
  EXPECT_EQ(m.Find("context")->Find("ip")->as_string(), "0.0.0.0");
}

TEST_F(ClientTest, UnresolvableConfigDirMakesTrackFailWithoutThrowing) {
  ClientOptions o = Options();
  o.config_dir.clear();  // and env_ has no ZENML_CONFIG_PATH, XDG or HOME
  Client client(o);
  EXPECT_FALSE(client.enabled());
  Status s = client.Track("Anything");
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s;
}

TEST_F(ClientTest, AChildThatTracksAndExitsNormallyLeavesEveryEventInTheSpool) {
  auto r = testing::Run({testing::TestBinPath("client_test_helper"), "track",
                         config_dir_.string(), "500", "exit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Spooled s = ReadSpool(analytics_dir());
  std::set<std::string> ns;
  for (const auto& m : s.messages) ns.insert(Prop(m, "n"));
  EXPECT_EQ(s.messages.size(), 500u);
  EXPECT_EQ(ns.size(), 500u);
}

TEST_F(ClientTest, DestructorPastItsTimeoutWritesTheRestToTheInbox) {
  // This process holds the database; the child's writer blocks on the lock
  // with its first event, the rest wait in its queue when it exits.
  spool::SpoolOptions so;
  so.dir = analytics_dir();
  spool::Spool holder(so);
  ASSERT_TRUE(holder.Hold().ok());

  Child child({testing::TestBinPath("client_test_helper"), "track",
               config_dir_.string(), "200", "inbox", "--flush-ms", "200",
               "--lock-wait-ms", "60000", "--max-batch", "1"});
  ASSERT_EQ(child.ReadLine(30s).value_or(""), "tracked");
  // Past the 200 ms flush timeout the destructor writes an inbox file
  // although the database is still held.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (InboxFiles(analytics_dir()) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GE(InboxFiles(analytics_dir()), 1u);
  holder.Release();  // now the blocked writer gets in with its one event
  auto r = child.Wait(60s);
  EXPECT_EQ(r.exit_code, 0);

  Spooled s = ReadSpool(analytics_dir());  // ingests the inbox
  std::multiset<std::string> ns;
  for (const auto& m : s.messages) ns.insert(Prop(m, "n"));
  EXPECT_EQ(s.messages.size(), 200u);
  EXPECT_EQ(std::set<std::string>(ns.begin(), ns.end()).size(), 200u);
  EXPECT_EQ(InboxFiles(analytics_dir()), 0u);
}

TEST_F(ClientTest, SigkilledSynchronousTrackerLosesNoEventItReported) {
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> reported;
  uint64_t last_seq_max = 0;
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    Child child({testing::TestBinPath("client_test_helper"), "track",
                 config_dir_.string(), "1000000", "crash", "--sync",
                 "--report"});
    int lines = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int i = 0; i < lines; ++i) {
      auto id = child.ReadLine(30s);
      ASSERT_TRUE(id.has_value()) << "round " << round;
      reported.insert(*id);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(
        std::uniform_int_distribution<int>(0, 3000)(rng)));
    child.Kill(SIGKILL);
    child.Wait(30s);
    // Lines the child wrote before dying were durable too.
    while (auto id = child.ReadLine(0ms)) {
      if (id->size() == 36) reported.insert(*id);
    }

    Spooled s = ReadSpool(analytics_dir());
    std::set<std::string> found;
    for (const auto& m : s.messages) found.insert(MessageId(m));
    for (const auto& id : reported) {
      ASSERT_TRUE(found.count(id)) << "round " << round << " lost " << id;
    }
    ASSERT_TRUE(std::is_sorted(s.seqs.begin(), s.seqs.end()));
    ASSERT_EQ(std::set<uint64_t>(s.seqs.begin(), s.seqs.end()).size(),
              s.seqs.size());
    if (!s.seqs.empty()) {
      EXPECT_GE(s.seqs.back(), last_seq_max);
      last_seq_max = s.seqs.back();
    }
  }
  EXPECT_GT(reported.size(), 0u);
}

}  // namespace
}  // namespace zenml::client
