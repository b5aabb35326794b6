// spool_helper: a small program the spool's multi-process tests run as real
// separate processes (LevelDB's lock is per process, so threads cannot stand
// in for them). Reusable by other test suites: every command talks to the
// spool only through zenml::spool::Spool.
//
//   spool_helper append  --dir D --count N [--max-batch B] [--id P]
//                        [--report] [--hold] [--lock-wait-ms W] [--seed S]
//                        [--pad P] [--one-batch] [--exit-unclosed]
//                        [--no-background]
//       Appends N messages {"messageId":"P-<i>"} in batches of 1..B. With
//       --report prints "ok <database|inbox> <id>" for every id once its
//       Append returned (durable). --hold keeps the database open throughout.
//       --pad adds P bytes to each message. --exit-unclosed ends the process
//       (_exit) after the last Append, the database never closed, as a
//       writer killed then: its log is left for the next open to replay.
//       --one-batch appends all N in one batch. --no-background never runs
//       LevelDB's background work (flushes, compactions): only with
//       --hold and --exit-unclosed (a close would wait for it for ever) and one
//       batch no bigger than what the write buffer takes.
//   spool_helper consume --dir D --out FILE --stop-file F [--max-count M]
//       Loops Peek+Ack, appending each acknowledged message to FILE, until F
//       exists and the spool is empty.
//   spool_helper hold    --dir D --until-file F [--max-ms T]
//       Hold()s the database, prints "held", waits until F exists (at most
//       T ms), releases.
//   spool_helper peek    --dir D [--crash-after-ingest]
//       Peeks everything (ingesting the inbox) and prints "count N". With
//       --crash-after-ingest the process SIGKILLs itself when the spool
//       unlinks the first ingested inbox file, i.e. between the ingestion
//       batch (events + i/ markers, synced) and the unlink: through a
//       leveldb::Env wrapper, so the shipped library has no test hook.
//
// Exit status: 0 on success, 1 on a spool error (message on stderr), 2 on
// bad usage.

#include <leveldb/env.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "spool/spool.h"

namespace {

using zenml::spool::AppendTarget;
using zenml::spool::Spool;
using zenml::spool::SpoolOptions;

struct Args {
  std::string command;
  std::map<std::string, std::string> flags;
  std::string Get(const std::string& name, const std::string& fallback) const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  }
  long long Int(const std::string& name, long long fallback) const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : std::atoll(it->second.c_str());
  }
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
};

int Fail(const zenml::core::Status& status) {
  std::fprintf(stderr, "spool_helper: %s\n", status.ToString().c_str());
  return 1;
}

// Dies on the first unlink of an inbox file (not of a stale temporary one).
class CrashOnInboxUnlinkEnv final : public leveldb::EnvWrapper {
 public:
  CrashOnInboxUnlinkEnv() : EnvWrapper(leveldb::Env::Default()) {}
  leveldb::Status RemoveFile(const std::string& f) override {
    const std::string name = std::filesystem::path(f).filename().string();
    if (name.ends_with(".inbox") && !name.starts_with(".")) {
      std::raise(SIGKILL);
    }
    return target()->RemoveFile(f);
  }
};

// Drops LevelDB's background work: what an open's recovery wrote to
// level 0 stays there.
class NoBackgroundEnv final : public leveldb::EnvWrapper {
 public:
  NoBackgroundEnv() : EnvWrapper(leveldb::Env::Default()) {}
  void Schedule(void (*)(void*), void*) override {}
};

SpoolOptions Options(const Args& args) {
  SpoolOptions options;
  options.dir = args.Get("dir", "");
  if (args.Has("crash-after-ingest")) {
    static CrashOnInboxUnlinkEnv* const crash = new CrashOnInboxUnlinkEnv();
    options.env = crash;
  } else if (args.Has("no-background")) {
    static NoBackgroundEnv* const none = new NoBackgroundEnv();
    options.env = none;
  }
  options.lock_wait = std::chrono::milliseconds(args.Int("lock-wait-ms", 2000));
  return options;
}

int Append(const Args& args) {
  Spool spool(Options(args));
  const long long count = args.Int("count", 1);
  const long long max_batch = std::max(1LL, args.Int("max-batch", 1));
  const std::string prefix = args.Get("id", "m");
  const bool report = args.Has("report");
  std::mt19937 rng(static_cast<unsigned>(args.Int("seed", ::getpid())));
  std::uniform_int_distribution<long long> size(1, max_batch);
  const std::string pad(static_cast<size_t>(std::max(0LL, args.Int("pad", 0))),
                        'x');
  if (args.Has("hold")) {
    if (auto st = spool.Hold(); !st.ok()) return Fail(st);
  }
  long long next = 0;
  while (next < count) {
    const long long n =
        args.Has("one-batch") ? count : std::min(count - next, size(rng));
    std::vector<std::string> batch;
    std::vector<std::string> ids;
    for (long long i = 0; i < n; ++i) {
      ids.push_back(prefix + "-" + std::to_string(next + i));
      batch.push_back("{\"messageId\":\"" + ids.back() +
                      "\",\"type\":\"track\",\"event\":\"Pipeline run\"" +
                      (pad.empty() ? "" : ",\"pad\":\"" + pad + "\"") + "}");
    }
    auto target = spool.Append(batch);
    if (!target.ok()) return Fail(target.status());
    if (report) {
      const char* where =
          *target == AppendTarget::kInbox ? "inbox" : "database";
      for (const std::string& id : ids) {
        std::printf("ok %s %s\n", where, id.c_str());
      }
      std::fflush(stdout);
    }
    next += n;
  }
  if (!report) std::printf("done %lld\n", count);
  if (args.Has("exit-unclosed")) {
    std::fflush(stdout);
    ::_exit(0);
  }
  return 0;
}

int Consume(const Args& args) {
  Spool spool(Options(args));
  const std::filesystem::path stop = args.Get("stop-file", "");
  std::ofstream out(args.Get("out", ""), std::ios::app);
  const size_t max_count = static_cast<size_t>(args.Int("max-count", 100));
  std::string after;
  for (;;) {
    const bool stopping = std::filesystem::exists(stop);
    auto entries = spool.Peek(after, 512 << 10, max_count);
    if (!entries.ok()) {
      if (entries.status().code() == zenml::core::Status::Code::kBusy) {
        continue;
      }
      return Fail(entries.status());
    }
    if (entries->empty()) {
      if (stopping) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    std::vector<std::string> keys;
    for (const auto& e : *entries) keys.push_back(e.key);
    zenml::core::Status st;
    do {
      st = spool.Ack(keys);
    } while (st.code() == zenml::core::Status::Code::kBusy);
    if (!st.ok()) return Fail(st);
    // Written only after the ack: the file lists exactly the acked ones.
    for (const auto& e : *entries) out << e.json << '\n';
    out.flush();
    after = keys.back();
  }
}

int Hold(const Args& args) {
  Spool spool(Options(args));
  if (auto st = spool.Hold(); !st.ok()) return Fail(st);
  std::printf("held\n");
  std::fflush(stdout);
  const std::filesystem::path until = args.Get("until-file", "");
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(args.Int("max-ms", 30'000));
  while (!std::filesystem::exists(until) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  spool.Release();
  return 0;
}

int Peek(const Args& args) {
  Spool spool(Options(args));
  size_t total = 0;
  std::string after;
  for (;;) {
    auto entries = spool.Peek(after, 1 << 20, 1000);
    if (!entries.ok()) return Fail(entries.status());
    if (entries->empty()) break;
    total += entries->size();
    after = entries->back().key;
  }
  std::printf("count %zu\n", total);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: spool_helper COMMAND --dir DIR ...\n");
    return 2;
  }
  Args args;
  args.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (!flag.starts_with("--")) return 2;
    flag = flag.substr(2);
    if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      args.flags[flag] = argv[++i];
    } else {
      args.flags[flag] = "";
    }
  }
  if (!args.Has("dir")) return 2;
  if (args.command == "append") return Append(args);
  if (args.command == "consume") return Consume(args);
  if (args.command == "hold") return Hold(args);
  if (args.command == "peek") return Peek(args);
  std::fprintf(stderr, "spool_helper: unknown command %s\n",
               args.command.c_str());
  return 2;
}
