// Client benchmarks (issue 3), each reported as a ratio against a baseline
// measured in the same run (docs/BENCHMARKS.md "Client"):
//
//   caller cost   Track() on the caller's thread, p50/p99, 1 and 4 threads,
//                 vs the bare encoding it does (NewUuid4Chars + clock +
//                 TrackEncoder::Encode) on the same threads, and the general
//                 EncodeTrackMessage for comparison;
//   throughput    one process tracking as fast as it can until everything
//                 is durable, vs raw LevelDB synced WriteBatches of 64 events
//                 of the same bytes with the spool's options;
//   one-shot      `zenml-analytics track` as a whole process vs a minimal
//                 program (bench/oneshot) that opens LevelDB, puts one synced
//                 value and closes, with the same options;
//   8 writers     8 processes tracking at once: aggregate durable events/s
//                 and the longest wait between Track() and durability.
//
// Run: build/bench/bin/client_bench [--benchmark_filter=...]
// The process re-executes itself as `client_bench --writer DIR N` for the
// 8-process case.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <leveldb/db.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "client/client.h"
#include "core/config_dir.h"
#include "core/context.h"
#include "core/environment.h"
#include "core/message.h"
#include "core/uuid.h"
#include "core/value.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using zenml::client::Client;
using zenml::client::ClientOptions;
using zenml::core::Value;

// Results kept for the ratio table printed after all benchmarks ran.
std::mutex results_mu;
std::map<std::string, std::vector<double>> results;
void Record(const std::string& name, double v) {
  std::lock_guard<std::mutex> lock(results_mu);
  results[name].push_back(v);
}
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Under $ZENML_BENCH_DIR if set (as spool_bench), else the temp dir. It must
// be on a real disk: on tmpfs fsync is free.
fs::path NewTempDir() {
  const char* base = std::getenv("ZENML_BENCH_DIR");
  fs::path parent = base != nullptr && *base != '\0'
                        ? fs::path(base)
                        : fs::temp_directory_path();
  std::string tmpl = (parent / "zenml-bench-XXXXXX");
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) std::abort();
  return made;
}

// The properties of a typical ZenML event (a pipeline run): ~600 bytes
// serialized with the context.
Value TypicalProperties(int64_t n) {
  return Value::Object{
      {"pipeline_run_id", n},      {"step_count", 7},
      {"orchestrator", "local"},   {"metadata_store", "sqlite"},
      {"artifact_store", "local"}, {"python_version", "3.11.7"}};
}

const zenml::core::MapEnvironment& EmptyEnv() {
  static const auto* env = new zenml::core::MapEnvironment();
  return *env;
}

void Percentiles(benchmark::State& state, std::vector<int64_t>& ns,
                 const std::string& name) {
  std::sort(ns.begin(), ns.end());
  double p50 = static_cast<double>(ns[ns.size() / 2]);
  double p99 = static_cast<double>(ns[ns.size() * 99 / 100]);
  double p999 = static_cast<double>(ns[ns.size() * 999 / 1000]);
  state.counters["p50_ns"] =
      benchmark::Counter(p50, benchmark::Counter::kAvgThreads);
  state.counters["p99_ns"] =
      benchmark::Counter(p99, benchmark::Counter::kAvgThreads);
  state.counters["p999_ns"] =
      benchmark::Counter(p999, benchmark::Counter::kAvgThreads);
  Record(name + "/p50", p50);
  Record(name + "/p99", p99);
  Record(name + "/p999", p999);
}

// ---------------------------------------------------------------------------
// Caller cost.

constexpr int64_t kCallerIterations = 100'000;

// The bare encoding Track() does on the caller's thread, without the
// client: a messageId, the clock, TrackEncoder::Encode.
void BM_EncodeOnly(benchmark::State& state) {
  auto encoder = zenml::core::TrackEncoder::Create(zenml::core::NewUuid4(),
                                                   zenml::core::DetectContext())
                     .value();
  std::vector<int64_t> ns;
  ns.reserve(kCallerIterations);
  Value props = TypicalProperties(0);
  for (auto _ : state) {
    auto t0 = Steady::now();
    const auto id = zenml::core::NewUuid4Chars();
    auto json =
        encoder.Encode("Pipeline run", props, std::chrono::system_clock::now(),
                       std::string_view(id.data(), id.size()));
    benchmark::DoNotOptimize(json);
    ns.push_back((Steady::now() - t0).count());
  }
  Percentiles(state, ns, "encode/threads:" + std::to_string(state.threads()));
}
BENCHMARK(BM_EncodeOnly)
    ->Iterations(kCallerIterations)
    ->Threads(1)
    ->UseRealTime();
BENCHMARK(BM_EncodeOnly)
    ->Iterations(kCallerIterations)
    ->Threads(4)
    ->UseRealTime();

// The general encoder (what Track() did before TrackEncoder): MessageFields
// filled per event, NewUuid4, EncodeTrackMessage with RapidJSON.
void BM_EncodeTrackMessage(benchmark::State& state) {
  zenml::core::Context context = zenml::core::DetectContext();
  std::string anonymous_id = zenml::core::NewUuid4();
  std::vector<int64_t> ns;
  ns.reserve(kCallerIterations);
  Value props = TypicalProperties(0);
  for (auto _ : state) {
    auto t0 = Steady::now();
    zenml::core::MessageFields f;
    f.event = "Pipeline run";
    f.properties = props;
    f.anonymous_id = anonymous_id;
    f.context = context;
    f.timestamp = std::chrono::system_clock::now();
    f.message_id = zenml::core::NewUuid4();
    auto json = zenml::core::EncodeTrackMessage(f);
    benchmark::DoNotOptimize(json);
    ns.push_back((Steady::now() - t0).count());
  }
  Percentiles(state, ns, "general/threads:" + std::to_string(state.threads()));
}
BENCHMARK(BM_EncodeTrackMessage)
    ->Iterations(kCallerIterations)
    ->Threads(1)
    ->UseRealTime();

// The baseline of issue 14: what holding the events in memory costs by
// itself. The same encoding as Track() into a new string per event (as
// Track() did before its queue had preallocated slots), pushed onto a
// std::deque under a std::mutex that keeps every event (burst 0) or is
// emptied, untimed, after every `burst` events of a thread, as BM_Track and
// BM_TrackSteady do.
std::mutex deque_mu;
std::deque<std::string> deque_events;

void BM_MutexDeque(benchmark::State& state) {
  const int64_t burst = state.range(0);
  auto encoder = zenml::core::TrackEncoder::Create(zenml::core::NewUuid4(),
                                                   zenml::core::DetectContext())
                     .value();
  std::vector<int64_t> ns;
  ns.reserve(kCallerIterations);
  Value props = TypicalProperties(0);
  int64_t in_burst = 0;
  for (auto _ : state) {
    auto t0 = Steady::now();
    const auto id = zenml::core::NewUuid4Chars();
    auto json =
        encoder.Encode("Pipeline run", props, std::chrono::system_clock::now(),
                       std::string_view(id.data(), id.size()));
    {
      std::lock_guard<std::mutex> lock(deque_mu);
      deque_events.push_back(std::move(json).value());
    }
    ns.push_back((Steady::now() - t0).count());
    if (burst > 0 && ++in_burst == burst) {
      in_burst = 0;
      std::deque<std::string> drained;
      {
        std::lock_guard<std::mutex> lock(deque_mu);
        drained.swap(deque_events);
      }
    }
  }
  Percentiles(state, ns,
              std::string(burst > 0 ? "deque_burst" : "deque") +
                  "/threads:" + std::to_string(state.threads()));
  if (state.thread_index() == 0) {
    std::lock_guard<std::mutex> lock(deque_mu);
    std::deque<std::string>().swap(deque_events);
    // Back to the system, so every repetition starts from a cold heap, as
    // a process that starts tracking does (and as Track()'s callers never
    // see: the writer faulted the slots in before).
    malloc_trim(0);
  }
}
BENCHMARK(BM_MutexDeque)
    ->Arg(0)
    ->Iterations(kCallerIterations)
    ->Threads(1)
    ->UseRealTime();
BENCHMARK(BM_MutexDeque)
    ->Arg(0)
    ->Iterations(kCallerIterations)
    ->Threads(4)
    ->UseRealTime();

std::unique_ptr<Client> shared_client;
fs::path shared_dir;

// One Client for every thread of a run, in a fresh config dir; its first
// Track() (which creates the anonymous id) is not part of the steady state.
void StartSharedClient(size_t queue_capacity) {
  shared_dir = NewTempDir();
  ClientOptions o;
  o.config_dir = shared_dir;
  o.environment = &EmptyEnv();
  o.queue_capacity = queue_capacity;
  shared_client = std::make_unique<Client>(o);
  (void)shared_client->Track("Warm up");
  // The writer prepares the queue's slots when it starts (between writes,
  // client/message_queue.h); the run measures the steady state after that.
  (void)shared_client->Flush(60s);
  auto deadline = Steady::now() + 60s;
  while (shared_client->stats().queue_prepared < queue_capacity &&
         Steady::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
}

void StopSharedClient() {
  shared_client.reset();  // flushes
  fs::remove_all(shared_dir);
}

void BM_Track(benchmark::State& state) {
  // Room for every event of the run: this measures the caller's cost, not
  // the queue-full path.
  if (state.thread_index() == 0) {
    StartSharedClient(static_cast<size_t>(kCallerIterations) *
                          static_cast<size_t>(state.threads()) +
                      16);
  }
  std::vector<int64_t> ns;
  ns.reserve(kCallerIterations);
  Value props = TypicalProperties(0);
  int64_t errors = 0;
  for (auto _ : state) {
    auto t0 = Steady::now();
    auto s = shared_client->Track("Pipeline run", props);
    ns.push_back((Steady::now() - t0).count());
    if (!s.ok()) ++errors;
  }
  Percentiles(state, ns, "track/threads:" + std::to_string(state.threads()));
  state.counters["errors"] = static_cast<double>(errors);
  if (state.thread_index() == 0) StopSharedClient();
}
BENCHMARK(BM_Track)->Iterations(kCallerIterations)->Threads(1)->UseRealTime();
BENCHMARK(BM_Track)->Iterations(kCallerIterations)->Threads(4)->UseRealTime();

// The same calls in bursts of kBurst per thread with the queue flushed
// (untimed) between bursts, as ZenML tracks: a few events, then nothing for
// a while. BM_Track instead queues all 100,000 events at once, faster than
// the disk takes them, so its callers also pay for the heap growing to hold
// them (~54 MB: page faults, brk), which this variant does not.
constexpr int64_t kBurst = 1000;

void BM_TrackSteady(benchmark::State& state) {
  if (state.thread_index() == 0) {
    StartSharedClient(static_cast<size_t>(kBurst) * 4 + 16);
  }
  std::vector<int64_t> ns;
  ns.reserve(kCallerIterations);
  Value props = TypicalProperties(0);
  int64_t errors = 0;
  int64_t in_burst = 0;
  for (auto _ : state) {
    auto t0 = Steady::now();
    auto s = shared_client->Track("Pipeline run", props);
    ns.push_back((Steady::now() - t0).count());
    if (!s.ok()) ++errors;
    if (++in_burst == kBurst) {
      in_burst = 0;
      if (!shared_client->Flush(60s).ok()) ++errors;
    }
  }
  Percentiles(state, ns, "steady/threads:" + std::to_string(state.threads()));
  state.counters["errors"] = static_cast<double>(errors);
  if (state.thread_index() == 0) StopSharedClient();
}
BENCHMARK(BM_TrackSteady)
    ->Iterations(kCallerIterations)
    ->Threads(1)
    ->UseRealTime();
BENCHMARK(BM_TrackSteady)
    ->Iterations(kCallerIterations)
    ->Threads(4)
    ->UseRealTime();
// The baseline of BM_TrackSteady (BM_MutexDeque with a burst).
void BM_MutexDequeBurst(benchmark::State& state) { BM_MutexDeque(state); }
BENCHMARK(BM_MutexDequeBurst)
    ->Arg(kBurst)
    ->Iterations(kCallerIterations)
    ->Threads(1)
    ->UseRealTime();
BENCHMARK(BM_MutexDequeBurst)
    ->Arg(kBurst)
    ->Iterations(kCallerIterations)
    ->Threads(4)
    ->UseRealTime();

// ---------------------------------------------------------------------------
// Sustained durable throughput.

constexpr int kThroughputEvents = 100'000;

// The spool's LevelDB options (spool/spool.cc BaseOptions and OpenLocked).
leveldb::Options SpoolLikeOptions() {
  leveldb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.write_buffer_size = 256 << 10;
  o.max_open_files = 100;
  o.reuse_logs = true;
  return o;
}

std::string SampleMessage() {
  zenml::core::MessageFields f;
  f.event = "Pipeline run";
  f.properties = TypicalProperties(0);
  f.anonymous_id = zenml::core::NewUuid4();
  f.context = zenml::core::DetectContext();
  f.timestamp = std::chrono::system_clock::now();
  f.message_id = zenml::core::NewUuid4();
  return zenml::core::EncodeTrackMessage(f).value();
}

// Seconds for one Client to make kThroughputEvents durable, tracking as
// fast as the queue takes them (a full queue: yield and retry, as a caller
// that must not lose events would).
double ClientDurableSeconds() {
  fs::path dir = NewTempDir();
  auto t0 = Steady::now();
  {
    ClientOptions o;
    o.config_dir = dir;
    o.environment = &EmptyEnv();
    Client client(o);
    Value props = TypicalProperties(0);
    for (int i = 0; i < kThroughputEvents; ++i) {
      while (client.Track("Pipeline run", props).code() ==
             zenml::core::Status::Code::kResourceExhausted) {
        std::this_thread::yield();
      }
    }
    if (!client.Flush(600s).ok()) std::abort();
  }
  double secs = std::chrono::duration<double>(Steady::now() - t0).count();
  fs::remove_all(dir);
  return secs;
}

// Seconds for raw LevelDB (the spool's options) to write the same number of
// events of the same bytes in synced WriteBatches of 64.
double RawBatchesOf64Seconds(const std::string& message) {
  fs::path dir = NewTempDir();
  auto t0 = Steady::now();
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(SpoolLikeOptions(), (dir / "db").string(), &raw)
           .ok()) {
    std::abort();
  }
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions wo;
  wo.sync = true;
  uint64_t seq = 0;
  for (int i = 0; i < kThroughputEvents; i += 64) {
    leveldb::WriteBatch batch;
    for (int j = 0; j < 64 && i + j < kThroughputEvents; ++j) {
      char key[10] = {'e', '/'};
      for (int b = 0; b < 8; ++b) {
        key[2 + b] = static_cast<char>((seq >> (56 - 8 * b)) & 0xff);
      }
      ++seq;
      batch.Put(leveldb::Slice(key, sizeof key), message);
    }
    if (!db->Write(wo, &batch).ok()) std::abort();
  }
  db.reset();
  double secs = std::chrono::duration<double>(Steady::now() - t0).count();
  fs::remove_all(dir);
  return secs;
}

// Paired: each iteration runs the client and then the raw baseline, so a
// change in the machine's load hits both.
void BM_PairedClientThroughputVsRawBatchesOf64(benchmark::State& state) {
  const std::string message = SampleMessage();
  for (auto _ : state) {
    double client_secs = ClientDurableSeconds();
    double raw_secs = RawBatchesOf64Seconds(message);
    state.SetIterationTime(client_secs);
    Record("throughput/client", kThroughputEvents / client_secs);
    Record("throughput/raw64", kThroughputEvents / raw_secs);
    Record("throughput/ratio", raw_secs / client_secs);
  }
  state.counters["client_events_per_s"] = Median(results["throughput/client"]);
  state.counters["raw64_events_per_s"] = Median(results["throughput/raw64"]);
  state.counters["client_over_raw"] = Median(results["throughput/ratio"]);
}
BENCHMARK(BM_PairedClientThroughputVsRawBatchesOf64)
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// Processes.

std::string SelfPath() { return fs::read_symlink("/proc/self/exe").string(); }

std::string BinDir() { return fs::path(SelfPath()).parent_path().string(); }

// fork + exec `argv` with `env_add` added; stdout to `out_fd` (or
// /dev/null); returns the pid.
pid_t Spawn(const std::vector<std::string>& argv,
            const std::vector<std::string>& env_add, int out_fd = -1) {
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& kv : env_add) putenv(const_cast<char*>(kv.c_str()));
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(out_fd >= 0 ? out_fd : devnull, 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, double* cpu_secs = nullptr) {
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  if (cpu_secs != nullptr) {
    // The kernel's own accounting of the child: user + system time.
    *cpu_secs = static_cast<double>(usage.ru_utime.tv_sec) +
                static_cast<double>(usage.ru_utime.tv_usec) * 1e-6 +
                static_cast<double>(usage.ru_stime.tv_sec) +
                static_cast<double>(usage.ru_stime.tv_usec) * 1e-6;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One process, one event, durable on exit 0: the CLI vs raw LevelDB. The
// two alternate in one loop, so a change in the machine's load hits both.
constexpr int kOneShotRounds = 200;

void BM_OneShotCliTrackVsLevelDbPut(benchmark::State& state) {
  fs::path dir = NewTempDir();
  const std::string tool = BinDir() + "/zenml-analytics";
  const std::string put = BinDir() + "/zenml_oneshot_put";
  const std::vector<std::string> env = {"ZENML_CONFIG_PATH=" + dir.string(),
                                        "ZENML_ANALYTICS_OPT_IN=true"};
  auto timed = [&](const std::vector<std::string>& argv, double* secs,
                   double* cpu) {
    auto t0 = Steady::now();
    int rc = WaitExit(Spawn(argv, env), cpu);
    *secs = std::chrono::duration<double>(Steady::now() - t0).count();
    return rc == 0;
  };
  int round = 0;
  std::vector<double> ratios;  // this repetition's, for its own median
  std::vector<double> cpu_ratios;
  for (auto _ : state) {
    double put_secs = 0;
    double cli_secs = 0;
    double put_cpu = 0;
    double cli_cpu = 0;
    bool ok =
        timed({put, (dir / "raw").string(), std::to_string(round)}, &put_secs,
              &put_cpu) &&
        timed({tool, "track", "Pipeline run", "--property", "step_count=7"},
              &cli_secs, &cli_cpu);
    if (!ok) {
      state.SkipWithError("a one-shot process failed");
      break;
    }
    state.SetIterationTime(cli_secs);
    Record("oneshot/put", put_secs * 1e6);
    Record("oneshot/cli", cli_secs * 1e6);
    Record("oneshot/ratio", cli_secs / put_secs);
    ratios.push_back(cli_secs / put_secs);
    if (put_cpu > 0) {
      Record("oneshot/cpu_ratio", cli_cpu / put_cpu);
      cpu_ratios.push_back(cli_cpu / put_cpu);
    }
    ++round;
  }
  // One figure per repetition (the median of its paired ratios), so the
  // summary can give the median and range over repetitions.
  Record("oneshot/rep_ratio", Median(ratios));
  if (!cpu_ratios.empty()) Record("oneshot/rep_cpu_ratio", Median(cpu_ratios));
  state.counters["put_us"] = Median(results["oneshot/put"]);
  state.counters["cli_us"] = Median(results["oneshot/cli"]);
  state.counters["ratio"] = Median(ratios);
  fs::remove_all(dir);
}
BENCHMARK(BM_OneShotCliTrackVsLevelDbPut)
    ->Iterations(kOneShotRounds)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// --writer DIR N: tracks N events as fast as the queue takes them and prints
// "<events> <max wait ms>": the longest time between an event's Track() and
// the moment the writer reported it durable (polled every 0.5 ms, so waits
// are overstated by at most that).
int WriterMain(const fs::path& dir, int n) {
  ClientOptions o;
  o.config_dir = dir;
  o.environment = &EmptyEnv();
  o.queue_capacity = static_cast<size_t>(n) + 16;
  Client client(o);
  std::vector<Steady::time_point> tracked(static_cast<size_t>(n));
  std::atomic<int> accepted{0};
  std::atomic<bool> done{false};
  double max_wait_ms = 0;
  std::thread monitor([&] {
    uint64_t seen = 0;
    while (seen < static_cast<uint64_t>(n)) {
      uint64_t written = client.stats().written;
      auto now = Steady::now();
      // Events are written in the order they were accepted.
      uint64_t limit = std::min<uint64_t>(written, accepted.load());
      for (; seen < limit; ++seen) {
        double ms =
            std::chrono::duration<double, std::milli>(now - tracked[seen])
                .count();
        max_wait_ms = std::max(max_wait_ms, ms);
      }
      if (done && seen >= static_cast<uint64_t>(n)) break;
      std::this_thread::sleep_for(500us);
    }
  });
  Value props = TypicalProperties(0);
  for (int i = 0; i < n; ++i) {
    tracked[static_cast<size_t>(i)] = Steady::now();
    while (!client.Track("Pipeline run", props).ok()) {
      tracked[static_cast<size_t>(i)] = Steady::now();
    }
    accepted.store(i + 1, std::memory_order_release);
  }
  done = true;
  if (!client.Flush(600s).ok()) return 1;
  monitor.join();
  std::printf("%d %.3f\n", n, max_wait_ms);
  return 0;
}

constexpr int kWriterProcesses = 8;
constexpr int kEventsPerWriter = 10'000;

void BM_EightWriterProcesses(benchmark::State& state) {
  for (auto _ : state) {
    fs::path dir = NewTempDir();
    std::vector<pid_t> pids;
    std::vector<int> fds;
    auto t0 = Steady::now();
    for (int p = 0; p < kWriterProcesses; ++p) {
      int pipefd[2];
      if (pipe(pipefd) != 0) std::abort();
      pids.push_back(Spawn({SelfPath(), "--writer", dir.string(),
                            std::to_string(kEventsPerWriter)},
                           {}, pipefd[1]));
      close(pipefd[1]);
      fds.push_back(pipefd[0]);
    }
    double max_wait = 0;
    bool failed = false;
    for (size_t p = 0; p < pids.size(); ++p) {
      if (WaitExit(pids[p]) != 0) failed = true;
      char buf[128] = {};
      ssize_t got = read(fds[p], buf, sizeof buf - 1);
      close(fds[p]);
      int events = 0;
      double wait = 0;
      if (got <= 0 || std::sscanf(buf, "%d %lf", &events, &wait) != 2) {
        failed = true;
      }
      max_wait = std::max(max_wait, wait);
    }
    double secs = std::chrono::duration<double>(Steady::now() - t0).count();
    if (failed) state.SkipWithError("a writer process failed");
    state.SetIterationTime(secs);
    double rate = kWriterProcesses * kEventsPerWriter / secs;
    Record("eight/events_per_s", rate);
    Record("eight/max_wait_ms", max_wait);
    state.counters["events/s"] = rate;
    state.counters["max_wait_ms"] = max_wait;
    fs::remove_all(dir);
  }
}
BENCHMARK(BM_EightWriterProcesses)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void PrintRatios() {
  auto m = [](const std::string& k) { return Median(results[k]); };
  std::printf("\nClient benchmark summary (medians)\n");
  for (int threads : {1, 4}) {
    std::string t = "/threads:" + std::to_string(threads);
    if (results.count("track" + t + "/p50") == 0) continue;
    std::printf(
        "Track() %d thread(s): p50 %.0f ns, p99 %.0f ns (p99.9 %.0f); bare "
        "encode p50 %.0f ns, p99 %.0f ns (p99.9 %.0f); ratio p50 %.2fx, p99 "
        "%.2fx\n",
        threads, m("track" + t + "/p50"), m("track" + t + "/p99"),
        m("track" + t + "/p999"), m("encode" + t + "/p50"),
        m("encode" + t + "/p99"), m("encode" + t + "/p999"),
        m("track" + t + "/p50") / m("encode" + t + "/p50"),
        m("track" + t + "/p99") / m("encode" + t + "/p99"));
  }
  for (int threads : {1, 4}) {
    std::string t = "/threads:" + std::to_string(threads);
    if (results.count("steady" + t + "/p50") == 0) continue;
    std::printf(
        "Track() in bursts of %lld, %d thread(s): p50 %.0f ns, p99 %.0f ns "
        "(p99.9 %.0f); ratio to bare encode p50 %.2fx, p99 %.2fx\n",
        static_cast<long long>(kBurst), threads, m("steady" + t + "/p50"),
        m("steady" + t + "/p99"), m("steady" + t + "/p999"),
        m("steady" + t + "/p50") / m("encode" + t + "/p50"),
        m("steady" + t + "/p99") / m("encode" + t + "/p99"));
  }
  for (int threads : {1, 4}) {
    std::string t = "/threads:" + std::to_string(threads);
    for (auto [track, deque, what] :
         {std::tuple{"track", "deque", "all queued at once"},
          std::tuple{"steady", "deque_burst", "bursts of 1000"}}) {
      if (results.count(track + t + "/p50") == 0 ||
          results.count(deque + t + "/p50") == 0) {
        continue;
      }
      std::printf(
          "Track() vs mutex+deque baseline, %s, %d thread(s): p50 %.0f / "
          "%.0f ns, p99 %.0f / %.0f ns; ratio p50 %.2fx, p99 %.2fx (target "
          "p99 <= 5000 ns)\n",
          what, threads, m(track + t + "/p50"), m(deque + t + "/p50"),
          m(track + t + "/p99"), m(deque + t + "/p99"),
          m(track + t + "/p50") / m(deque + t + "/p50"),
          m(track + t + "/p99") / m(deque + t + "/p99"));
    }
  }
  if (results.count("general/threads:1/p50")) {
    std::printf(
        "EncodeTrackMessage (general encoder, MessageFields per event) 1 "
        "thread: p50 %.0f ns, p99 %.0f ns\n",
        m("general/threads:1/p50"), m("general/threads:1/p99"));
  }
  if (results.count("throughput/ratio")) {
    std::printf(
        "durable throughput: client %.0f events/s, raw LevelDB sync "
        "batches of 64 %.0f events/s; paired ratio %.2fx (target >= 0.7x)\n",
        m("throughput/client"), m("throughput/raw64"), m("throughput/ratio"));
  }
  if (results.count("oneshot/ratio")) {
    std::printf(
        "one-shot: zenml-analytics track %.0f us, open+put(sync)+close %.0f "
        "us; ratio of medians %.2fx, median of paired ratios %.2fx (target "
        "<= 1.2x)\n",
        m("oneshot/cli"), m("oneshot/put"), m("oneshot/cli") / m("oneshot/put"),
        m("oneshot/ratio"));
    const auto& reps = results["oneshot/rep_ratio"];
    const auto& cpu = results["oneshot/rep_cpu_ratio"];
    if (!reps.empty()) {
      std::printf(
          "one-shot per repetition (median of its %d paired ratios): wall "
          "%.2fx [%.2f-%.2f], CPU %.2fx [%.2f-%.2f] over %zu repetitions\n",
          kOneShotRounds, Median(reps),
          *std::min_element(reps.begin(), reps.end()),
          *std::max_element(reps.begin(), reps.end()), Median(cpu),
          cpu.empty() ? 0.0 : *std::min_element(cpu.begin(), cpu.end()),
          cpu.empty() ? 0.0 : *std::max_element(cpu.begin(), cpu.end()),
          reps.size());
    }
  }
  if (results.count("eight/events_per_s")) {
    std::printf(
        "8 writer processes x %d events: %.0f durable events/s in all, "
        "longest Track->durable wait %.1f ms\n",
        kEventsPerWriter, m("eight/events_per_s"), m("eight/max_wait_ms"));
  }
  // Every sample behind the medians above, for the spread across
  // repetitions (scripts/bench.sh quotes median [min-max]).
  std::printf("\nsamples: name median [min-max] (n)\n");
  for (const auto& [name, v] : results) {
    if (v.empty()) continue;
    std::printf("  %s %.3f [%.3f-%.3f] (%zu)\n", name.c_str(), Median(v),
                *std::min_element(v.begin(), v.end()),
                *std::max_element(v.begin(), v.end()), v.size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--writer") {
    return WriterMain(argv[2], std::atoi(argv[3]));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PrintRatios();
  return 0;
}
