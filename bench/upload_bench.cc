// upload_bench: drains N spooled events with the real zenml-upload binary to
// the Segment-compatible test server on 127.0.0.1 (no faults) and reports
// events/s, requests/s and zenml-upload's peak RSS (getrusage of the child).
//
//   upload_bench [--events N]... [--repeat R] [--uploader PATH] [--no-gzip]
//                [--keep] [--fill-only]
//
// Default: --events 100000 --events 1000000. Each event is a realistic
// ~330-byte track message with a unique messageId. The baseline, measured
// right after on the same server, posts the same requests (same bodies,
// gzip, sentAt) with CurlTransport and no spool: the ratio is the cost of
// the spool round trips (peek, ack, open/close) on top of the network. The
// spool is filled with spool::Spool directly (sync off: filling is not what
// is measured). Figures and the command line are in docs/BENCHMARKS.md.

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/timestamp.h"
#include "spool/spool.h"
#include "tests/testing/segment_test_server.h"
#include "uploader/batch_builder.h"
#include "uploader/curl_transport.h"
#include "uploader/gzip.h"
#include "uploader/uploader.h"

namespace {

// splitmix64: a fixed pseudo-random stream, so every run sends the same
// bytes.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The messageId looks like a real uuid4 (random hex): with ids that count
// up, a 500-message body compressed 100:1 and gzip cost next to nothing,
// which real traffic never does (~11:1 with random ids).
std::string Message(uint64_t i) {
  char id[64];
  const uint64_t a = Mix(2 * i), b = Mix(2 * i + 1);
  std::snprintf(id, sizeof id, "%08llx-%04llx-4%03llx-8%03llx-%012llx",
                static_cast<unsigned long long>(a >> 32),
                static_cast<unsigned long long>((a >> 16) & 0xffff),
                static_cast<unsigned long long>(a & 0xfff),
                static_cast<unsigned long long>((b >> 48) & 0xfff),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return std::string(
             "{\"type\":\"track\",\"event\":\"Pipeline run\",\"userId\":"
             "\"6f1c9a52-0d2e-4a8b-9e57-3b1f0c2d4e6a\",\"anonymousId\":"
             "\"6f1c9a52-0d2e-4a8b-9e57-3b1f0c2d4e6a\",\"messageId\":\"") +
         id +
         "\",\"timestamp\":\"2026-11-27T10:00:00.123Z\",\"properties\":{"
         "\"store_type\":\"local\",\"orchestrator\":\"local\",\"step_count\":"
         "4},\"context\":{\"library\":{\"name\":\"zenml-analytics\","
         "\"version\":\"0.1.0\"},\"os\":{\"name\":\"Linux\",\"version\":\"6."
         "1\"},"
         "\"ip\":\"0.0.0.0\",\"zenml\":{\"version\":\"0.5.0\"}}}";
}

struct RunResult {
  int exit_code = -1;
  double seconds = 0;
  long max_rss_kib = 0;
};

// `upload_bench --launch RESULT PROGRAM ARGS...`: runs PROGRAM and writes
// "<exit code> <peak RSS KiB> <seconds>" of it to the file RESULT. The
// seconds run from just before the fork to the child's exit: zenml-upload's
// whole life (exec, loading, the run, exit), without the bench's own fork
// of a process that holds a filled spool's pages, which took tens of
// milliseconds at 1,000,000 events. Linux carries
// ru_maxrss over fork and exec, so a zenml-upload forked straight from this
// bench (which holds a million messages' worth of pages after the fill)
// reported the bench's own size (the 140 MiB "@1M" of the first figures).
// Re-executed fresh, this launcher is small, and its child's ru_maxrss is
// zenml-upload's own.
int Launch(int argc, char** argv) {
  if (argc < 4) return 64;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[3], argv + 3);
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  if (wait4(pid, &status, 0, &usage) != pid) return 70;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  FILE* f = std::fopen(argv[2], "w");
  if (f == nullptr) return 73;
  std::fprintf(f, "%d %ld %.6f\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
               usage.ru_maxrss, seconds);
  std::fclose(f);
  return 0;
}

RunResult RunUploader(const std::string& self, const std::string& bin,
                      const std::string& config_dir, const std::string& url,
                      bool gzip) {
  const std::string result_file = config_dir + "/launch-result";
  std::vector<std::string> args = {
      self,         "--launch", result_file,  bin,   "--write-key", "bench-key",
      "--endpoint", url,        "--max-time", "600", "--quiet"};
  if (!gzip) args.push_back("--no-gzip");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    setenv("ZENML_CONFIG_PATH", config_dir.c_str(), 1);
    unsetenv("ZENML_ANALYTICS_OPT_IN");
    unsetenv("DO_NOT_TRACK");
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  if (FILE* f = std::fopen(result_file.c_str(), "r")) {
    if (std::fscanf(f, "%d %ld %lf", &r.exit_code, &r.max_rss_kib,
                    &r.seconds) != 3) {
      r.exit_code = -1;
    }
    std::fclose(f);
  }
  return r;
}

// The baseline: the same requests without the spool. Builds 500-message
// bodies of the same events, stamps sentAt, gzips and posts each with
// CurlTransport to the same server, as the uploader does per request.
double BaselineSeconds(uint64_t n, const std::string& url, bool gzip) {
  zenml::uploader::CurlTransport transport;
  zenml::uploader::BatchBuilder builder("bench-key");
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> msgs;
  for (uint64_t i = 0; i < n;) {
    msgs.clear();
    builder.Clear();
    for (; i < n && msgs.size() < 500; ++i) msgs.push_back(Message(i));
    for (const auto& m : msgs) builder.Add(m);
    std::string body = builder.Build(
        zenml::core::FormatTimestamp(std::chrono::system_clock::now()));
    zenml::uploader::HttpRequest r;
    r.url = url;
    r.headers = {
        {"Content-Type", "application/json"},
        {"Authorization", zenml::uploader::BasicAuthorization("bench-key")}};
    if (gzip) {
      r.body = *zenml::uploader::GzipCompress(
          body, zenml::uploader::UploaderOptions().gzip_level);
      r.headers.emplace_back("Content-Encoding", "gzip");
    } else {
      r.body = std::move(body);
    }
    auto answer = transport.Post(r);
    if (!answer.ok() || answer->status != 200) {
      std::fprintf(stderr, "baseline post failed\n");
      return 0;
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Fills a new spool under a fresh temp config dir with n events; returns the
// dir ("" on failure).
std::string Fill(uint64_t n, bool held) {
  char tmpl[] = "/tmp/zenml-upload-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  zenml::spool::SpoolOptions o;
  o.dir = std::filesystem::path(dir) / "analytics";
  o.sync = false;
  o.max_events = n + 1;
  o.max_bytes = 4ull << 30;
  zenml::spool::Spool spool(o);
  if (held && !spool.Hold().ok()) return "";
  std::vector<std::string> batch;
  for (uint64_t i = 0; i < n; ++i) {
    batch.push_back(Message(i));
    if (batch.size() == 10'000 || i + 1 == n) {
      auto r = spool.Append(batch);
      if (!r.ok()) {
        std::fprintf(stderr, "fill: %s\n", r.status().ToString().c_str());
        return "";
      }
      batch.clear();
    }
  }
  if (held) spool.Release();
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "--launch") {
    return Launch(argc, argv);
  }
  std::vector<uint64_t> sizes;
  bool gzip = true;
  bool keep = false;
  bool fill_only = false;
  bool fill_held = false;
  int repeat = 1;
  std::string bin;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--events" && i + 1 < argc) {
      sizes.push_back(std::strtoull(argv[++i], nullptr, 10));
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--uploader" && i + 1 < argc) {
      bin = argv[++i];  // another zenml-upload, e.g. an older build
    } else if (a == "--no-gzip") {
      gzip = false;
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--fill-held") {
      fill_held = true;  // one writer holding the spool: a leveled layout
    } else if (a == "--fill-only") {
      fill_only = true;  // fill a spool, print its config dir, and stop
    } else {
      std::fprintf(stderr,
                   "usage: upload_bench [--events N]... [--repeat R] "
                   "[--uploader PATH] [--no-gzip] [--keep] [--fill-only]\n");
      return 64;
    }
  }
  if (sizes.empty()) sizes = {100'000, 1'000'000};
  const std::filesystem::path self =
      std::filesystem::canonical("/proc/self/exe");
  if (bin.empty()) bin = (self.parent_path() / "zenml-upload").string();

  std::printf("%-10s %-5s %10s %9s %12s %10s %12s %5s %12s %7s\n", "events",
              "gzip", "seconds", "requests", "events/s", "requests/s",
              "peak RSS MiB", "exit", "baseline ev/s", "ratio");
  struct Runs {
    std::vector<double> events_per_s, rss_mib, base_per_s, ratio;
  };
  std::vector<Runs> runs(sizes.size());
  for (int rep = 0; rep < repeat; ++rep) {
    for (size_t k = 0; k < sizes.size(); ++k) {
      const uint64_t n = sizes[k];
      const std::string dir = Fill(n, fill_held);
      if (dir.empty()) return 1;
      if (fill_only) {
        std::printf("%s\n", dir.c_str());
        continue;
      }
      zenml::testing::SegmentTestServer server;
      server.SetKeepBodies(false);
      RunResult r = RunUploader(self.string(), bin, dir, server.url(), gzip);
      auto ids = server.accepted_ids();
      std::set<std::string> unique(ids.begin(), ids.end());
      size_t requests = server.request_count();
      double base = BaselineSeconds(n, server.url(), gzip);
      server.Stop();
      const double rss = static_cast<double>(r.max_rss_kib) / 1024.0;
      std::printf(
          "%-10llu %-5s %10.2f %9zu %12.0f %10.0f %12.1f %5d %12.0f %7.2f%s\n",
          static_cast<unsigned long long>(n), gzip ? "on" : "off", r.seconds,
          requests, static_cast<double>(n) / r.seconds,
          static_cast<double>(requests) / r.seconds, rss, r.exit_code,
          static_cast<double>(n) / base, r.seconds / base,
          unique.size() == n ? "" : "  (MISSING EVENTS)");
      std::fflush(stdout);
      runs[k].events_per_s.push_back(static_cast<double>(n) / r.seconds);
      runs[k].rss_mib.push_back(rss);
      runs[k].base_per_s.push_back(static_cast<double>(n) / base);
      runs[k].ratio.push_back(r.seconds / base);
      if (!keep) std::filesystem::remove_all(dir);
    }
  }
  if (repeat > 1 && !fill_only) {
    std::printf("\nmedians of %d runs:\n%-10s %12s %12s %13s %7s\n", repeat,
                "events", "events/s", "peak RSS MiB", "baseline ev/s", "ratio");
    for (size_t k = 0; k < sizes.size(); ++k) {
      std::printf("%-10llu %12.0f %12.1f %13.0f %7.2f\n",
                  static_cast<unsigned long long>(sizes[k]),
                  Median(runs[k].events_per_s), Median(runs[k].rss_mib),
                  Median(runs[k].base_per_s), Median(runs[k].ratio));
    }
  }
  return 0;
}
