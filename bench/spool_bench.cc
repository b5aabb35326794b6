// Spool benchmarks (issue 3): what a spool transaction costs against raw
// LevelDB doing the same durable work, measured in the same run.
//
//   BM_RawOpenPutClose/reuse_logs:{0,1}  open → put(sync) → close, raw LevelDB
//   BM_SpoolAppendOneEvent               the same through Spool (not held):
//                                        registry, dir checks, log-tail check,
//                                        inbox scan, metadata
//   BM_RawSyncedBatch64                  held DB, WriteBatch of 64 events, sync
//   BM_SpoolAppend64Held                 Spool::Append of 64 events while held
//   BM_SpoolAppend64Unheld               the same, opening and closing per call
//
// Every database lives in a fresh directory under $ZENML_BENCH_DIR (default
// the current directory), which must be on a real disk: on tmpfs an fsync is
// free and the figures mean nothing. docs/BENCHMARKS.md has the commands and
// the figures.

#include <benchmark/benchmark.h>
#include <leveldb/db.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "spool/keys.h"
#include "spool/spool.h"

namespace {

namespace fs = std::filesystem;
using zenml::spool::Spool;
using zenml::spool::SpoolOptions;

// A message of the size ZenML's events have on the wire (~300 bytes).
std::string Message(int i) {
  std::string m =
      "{\"type\":\"track\",\"event\":\"Pipeline run\",\"messageId\":\"" +
      std::to_string(i) +
      "\",\"userId\":\"6f1e4ad0-5b7b-4b8e-9a55-2d0c1c1b2f10\","
      "\"properties\":{\"store_type\":\"local\",\"orchestrator\":"
      "\"local\"},\"context\":{\"library\":{\"name\":\"zenml-"
      "analytics\",\"version\":\"0.1.0\"},\"ip\":\"0.0.0.0\"}}";
  m.resize(300, ' ');
  return m;
}

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("ZENML_BENCH_DIR");
    std::string tmpl =
        std::string(base && *base ? base : ".") + "/zenml-spool-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

leveldb::Options SpoolLikeOptions(bool reuse_logs) {
  leveldb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.write_buffer_size = 256 << 10;
  o.max_open_files = 100;
  o.reuse_logs = reuse_logs;
  return o;
}

size_t FileCount(const fs::path& dir) {
  size_t n = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) ++n;
  }
  return n;
}

void BM_RawOpenPutClose(benchmark::State& state) {
  BenchDir dir;
  const std::string path = (dir.path() / "db").string();
  const leveldb::Options o = SpoolLikeOptions(state.range(0) != 0);
  leveldb::WriteOptions wo;
  wo.sync = true;
  const std::string value = Message(0);
  uint64_t seq = 0;
  for (auto _ : state) {
    leveldb::DB* raw = nullptr;
    if (!leveldb::DB::Open(o, path, &raw).ok()) {
      state.SkipWithError("open failed");
      break;
    }
    std::unique_ptr<leveldb::DB> db(raw);
    if (!db->Put(wo, zenml::spool::EventKey(++seq), value).ok()) {
      state.SkipWithError("put failed");
      break;
    }
  }
  state.counters["files_after"] = static_cast<double>(FileCount(dir.path()));
}
BENCHMARK(BM_RawOpenPutClose)
    ->ArgName("reuse_logs")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(300)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_SpoolAppendOneEvent(benchmark::State& state) {
  BenchDir dir;
  SpoolOptions o;
  o.dir = dir.path() / "analytics";
  const std::vector<std::string> one = {Message(0)};
  for (auto _ : state) {
    Spool spool(o);  // as a one-shot process would
    if (!spool.Append(one).ok()) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.counters["files_after"] = static_cast<double>(FileCount(dir.path()));
}
BENCHMARK(BM_SpoolAppendOneEvent)
    ->Iterations(300)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_RawSyncedBatch64(benchmark::State& state) {
  BenchDir dir;
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(SpoolLikeOptions(true), (dir.path() / "db").string(),
                         &raw)
           .ok()) {
    state.SkipWithError("open failed");
    return;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions wo;
  wo.sync = true;
  std::vector<std::string> values;
  for (int i = 0; i < 64; ++i) {
    // The same bytes the spool stores: 12-byte header + message.
    values.push_back(zenml::spool::EncodeEventValue(0, Message(i)));
  }
  uint64_t seq = 0;
  for (auto _ : state) {
    leveldb::WriteBatch batch;
    for (const auto& v : values) batch.Put(zenml::spool::EventKey(++seq), v);
    if (!db->Write(wo, &batch).ok()) {
      state.SkipWithError("write failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_RawSyncedBatch64)->UseRealTime()->Unit(benchmark::kMicrosecond);

void SpoolAppend64(benchmark::State& state, bool hold) {
  BenchDir dir;
  SpoolOptions o;
  o.dir = dir.path() / "analytics";
  o.max_events = UINT64_MAX;
  o.max_bytes = UINT64_MAX;
  Spool spool(o);
  if (hold && !spool.Hold().ok()) {
    state.SkipWithError("hold failed");
    return;
  }
  std::vector<std::string> batch;
  for (int i = 0; i < 64; ++i) batch.push_back(Message(i));
  for (auto _ : state) {
    if (!spool.Append(batch).ok()) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
  if (hold) spool.Release();
}

void BM_SpoolAppend64Held(benchmark::State& state) {
  SpoolAppend64(state, true);
}
BENCHMARK(BM_SpoolAppend64Held)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_SpoolAppend64Unheld(benchmark::State& state) {
  SpoolAppend64(state, false);
}
BENCHMARK(BM_SpoolAppend64Unheld)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Paired measurements: on a shared machine the fsync cost drifts by several
// times within a minute, so a ratio of two separately timed benchmarks is
// mostly noise. These alternate the two sides inside each iteration and
// report the ratio of their summed times (the benchmark's own time is the
// sum of both sides).

using SteadyClock = std::chrono::steady_clock;

// Append of 64 events through a held Spool vs a raw synced WriteBatch of the
// same 64 values, alternating. spool_vs_raw = raw time / spool time, i.e. the
// spool's throughput as a fraction of raw LevelDB's (target >= 0.7).
void BM_PairedAppend64VsRawBatch64(benchmark::State& state) {
  BenchDir dir;
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(SpoolLikeOptions(true), (dir.path() / "db").string(),
                         &raw)
           .ok()) {
    state.SkipWithError("open failed");
    return;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  SpoolOptions o;
  o.dir = dir.path() / "analytics";
  o.max_events = UINT64_MAX;
  o.max_bytes = UINT64_MAX;
  Spool spool(o);
  if (!spool.Hold().ok()) {
    state.SkipWithError("hold failed");
    return;
  }
  std::vector<std::string> messages, values;
  for (int i = 0; i < 64; ++i) {
    messages.push_back(Message(i));
    values.push_back(zenml::spool::EncodeEventValue(0, messages.back()));
  }
  leveldb::WriteOptions wo;
  wo.sync = true;
  uint64_t seq = 0;
  SteadyClock::duration raw_time{}, spool_time{};
  for (auto _ : state) {
    auto t0 = SteadyClock::now();
    leveldb::WriteBatch batch;
    for (const auto& v : values) batch.Put(zenml::spool::EventKey(++seq), v);
    if (!db->Write(wo, &batch).ok()) state.SkipWithError("write failed");
    auto t1 = SteadyClock::now();
    if (!spool.Append(messages).ok()) state.SkipWithError("append failed");
    auto t2 = SteadyClock::now();
    raw_time += t1 - t0;
    spool_time += t2 - t1;
  }
  spool.Release();
  state.SetItemsProcessed(state.iterations() * 64 * 2);
  state.counters["spool_vs_raw"] =
      std::chrono::duration<double>(raw_time).count() /
      std::chrono::duration<double>(spool_time).count();
}
BENCHMARK(BM_PairedAppend64VsRawBatch64)
    ->Iterations(300)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// One-shot: a fresh Spool appending one event (open, append, close) vs raw
// open → put(sync) → close with the same options; and raw without
// reuse_logs. spool_over_raw = spool time / raw time (target <= 1.3);
// no_reuse_over_reuse = raw time without reuse_logs / raw time with it.
void BM_PairedOneShot(benchmark::State& state) {
  BenchDir dir;
  const std::string raw_path = (dir.path() / "raw").string();
  const std::string noreuse_path = (dir.path() / "noreuse").string();
  SpoolOptions o;
  o.dir = dir.path() / "analytics";
  const std::vector<std::string> one = {Message(0)};
  const std::string value = zenml::spool::EncodeEventValue(0, one[0]);
  leveldb::WriteOptions wo;
  wo.sync = true;
  uint64_t seq = 0;
  SteadyClock::duration raw_time{}, spool_time{}, noreuse_time{};
  auto put_once = [&](const std::string& path, bool reuse) {
    leveldb::DB* raw = nullptr;
    if (!leveldb::DB::Open(SpoolLikeOptions(reuse), path, &raw).ok()) {
      state.SkipWithError("open failed");
      return;
    }
    std::unique_ptr<leveldb::DB> db(raw);
    if (!db->Put(wo, zenml::spool::EventKey(++seq), value).ok()) {
      state.SkipWithError("put failed");
    }
  };
  for (auto _ : state) {
    auto t0 = SteadyClock::now();
    put_once(raw_path, true);
    auto t1 = SteadyClock::now();
    {
      Spool spool(o);
      if (!spool.Append(one).ok()) state.SkipWithError("append failed");
    }
    auto t2 = SteadyClock::now();
    put_once(noreuse_path, false);
    auto t3 = SteadyClock::now();
    raw_time += t1 - t0;
    spool_time += t2 - t1;
    noreuse_time += t3 - t2;
  }
  const double raw_s = std::chrono::duration<double>(raw_time).count();
  state.counters["spool_over_raw"] =
      std::chrono::duration<double>(spool_time).count() / raw_s;
  state.counters["no_reuse_over_reuse"] =
      std::chrono::duration<double>(noreuse_time).count() / raw_s;
  state.counters["files_noreuse"] =
      static_cast<double>(FileCount(noreuse_path));
  state.counters["files_spool"] = static_cast<double>(FileCount(o.dir));
}
BENCHMARK(BM_PairedOneShot)
    ->Iterations(300)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
