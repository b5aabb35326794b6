// A small program the client tests run as a separate process, because
// LevelDB's lock, process exit and SIGKILL can only be tested across
// processes. Modes:
//
//   hold ANALYTICS_DIR RELEASE_FILE
//       holds the spool (Spool::Hold), prints "held", waits until
//       RELEASE_FILE exists, releases, exits 0.
//   track CONFIG_DIR COUNT TAG [--sync] [--report] [--flush-ms N]
//         [--lock-wait-ms N] [--max-batch N] [--pause-us N] [--flush-each]
//       tracks COUNT events "Helper event" {"tag": TAG, "n": i} with a
//       Client on CONFIG_DIR; with --report prints each accepted messageId
//       (with --sync: once durable) on its own line, flushed; with
//       --pause-us sleeps N microseconds after each Track(); with
//       --flush-each calls Flush() after each Track() (the asynchronous
//       writer thread, holding the spool between events). Then exits
//       normally: the Client's destructor does the flushing.
//   drain ANALYTICS_DIR STOP_FILE OUT_FILE
//       loops Peek + Ack until STOP_FILE exists, appending every
//       acknowledged message (one JSON a line) to OUT_FILE.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/client.h"
#include "core/environment.h"
#include "spool/spool.h"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using zenml::client::Client;
using zenml::client::ClientOptions;

int Fail(const std::string& what) {
  std::fprintf(stderr, "client_test_helper: %s\n", what.c_str());
  return 1;
}

int Hold(const fs::path& dir, const fs::path& release) {
  zenml::spool::SpoolOptions options;
  options.dir = dir;
  options.lock_wait = 30s;
  zenml::spool::Spool spool(options);
  if (auto s = spool.Hold(); !s.ok()) return Fail(s.ToString());
  std::printf("held\n");
  std::fflush(stdout);
  while (!fs::exists(release)) std::this_thread::sleep_for(2ms);
  spool.Release();
  std::printf("released\n");
  return 0;
}

int Track(int argc, char** argv) {
  if (argc < 5) return Fail("usage: track CONFIG_DIR COUNT TAG [options]");
  ClientOptions options;
  options.config_dir = argv[2];
  long count = std::atol(argv[3]);
  std::string tag = argv[4];
  bool report = false;
  bool flush_each = false;
  long pause_us = 0;
  for (int i = 5; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> long {
      return i + 1 < argc ? std::atol(argv[++i]) : 0;
    };
    if (a == "--sync") {
      options.synchronous = true;
    } else if (a == "--report") {
      report = true;
    } else if (a == "--flush-each") {
      flush_each = true;
    } else if (a == "--flush-ms") {
      options.flush_on_exit_timeout = std::chrono::milliseconds(next());
    } else if (a == "--lock-wait-ms") {
      options.spool.lock_wait = std::chrono::milliseconds(next());
    } else if (a == "--pause-us") {
      pause_us = next();
    } else if (a == "--max-batch") {
      options.max_batch_count = static_cast<size_t>(next());
    } else {
      return Fail("unknown option " + std::string(a));
    }
  }
  Client client(options);
  for (long n = 0; n < count; ++n) {
    std::string id;
    zenml::core::Value props =
        zenml::core::Value::Object{{"tag", tag}, {"n", n}};
    auto s = client.Track("Helper event", props, &id);
    if (!s.ok()) return Fail(s.ToString());
    if (flush_each) {
      s = client.Flush(std::chrono::seconds(30));
      if (!s.ok()) return Fail("flush: " + s.ToString());
    }
    if (report) {
      std::printf("%s\n", id.c_str());
      std::fflush(stdout);
    }
    if (pause_us > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
  std::printf("tracked\n");
  std::fflush(stdout);
  return 0;  // ~Client flushes
}

int Drain(const fs::path& dir, const fs::path& stop, const fs::path& out) {
  zenml::spool::SpoolOptions options;
  options.dir = dir;
  options.lock_wait = 30s;
  zenml::spool::Spool spool(options);
  std::ofstream file(out, std::ios::app);
  std::string after;
  while (!fs::exists(stop)) {
    auto entries = spool.Peek(after, 1 << 20, 500);
    if (!entries.ok()) return Fail(entries.status().ToString());
    if (entries->empty()) {
      // Like an uploader between runs: do not hammer the trackers' lock.
      std::this_thread::sleep_for(5ms);
      continue;
    }
    std::vector<std::string> keys;
    for (const auto& e : *entries) keys.push_back(e.key);
    if (auto s = spool.Ack(keys); !s.ok()) return Fail(s.ToString());
    // Only what was acknowledged counts as delivered.
    for (const auto& e : *entries) file << e.json << '\n';
    file.flush();
    after = entries->back().key;
  }
  std::printf("drained\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Fail("usage: hold|track|drain ...");
  std::string_view mode = argv[1];
  if (mode == "hold" && argc == 4) return Hold(argv[2], argv[3]);
  if (mode == "track") return Track(argc, argv);
  if (mode == "drain" && argc == 5) return Drain(argv[2], argv[3], argv[4]);
  return Fail("bad arguments");
}
