// zenml-test-collector: a Segment-compatible batch endpoint on 127.0.0.1 for
// the demo and the benchmark (the tests' SegmentTestServer as a program).
//
//   zenml-test-collector [--port N] [--record FILE] [--plan 500,429:2,200]
//
// Prints the port it listens on as one line on stdout, then serves
// POST /v1/batch (answering from the plan, then 200) and GET /received,
// appending each decoded batch body to FILE as one line. Exits 0 on SIGTERM
// or SIGINT.

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/testing/segment_test_server.h"

namespace {

int Usage(const char* msg) {
  std::fprintf(stderr,
               "zenml-test-collector: %s\n"
               "usage: zenml-test-collector [--port N] [--record FILE] "
               "[--plan STATUS[:RETRY_AFTER],...]\n",
               msg);
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string record;
  std::vector<zenml::testing::ScriptedResponse> plan;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf(
          "usage: zenml-test-collector [--port N] [--record FILE] "
          "[--plan STATUS[:RETRY_AFTER],...]\n");
      return 0;
    }
    if (i + 1 >= argc) return Usage(("missing value for " + arg).c_str());
    std::string value = argv[++i];
    if (arg == "--port") {
      port = std::atoi(value.c_str());
    } else if (arg == "--record") {
      record = value;
    } else if (arg == "--plan") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        std::string item =
            value.substr(start, comma == std::string::npos ? std::string::npos
                                                           : comma - start);
        auto r = zenml::testing::ScriptedResponse::Status(
            std::atoi(item.c_str()), "{}");
        auto colon = item.find(':');
        if (colon != std::string::npos) {
          r.headers.emplace_back("Retry-After", item.substr(colon + 1));
        }
        plan.push_back(r);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }

  // Block the signals before the server's threads start, then wait for one.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  zenml::testing::SegmentTestServer server(port, record);
  if (!server.ok()) {
    std::fprintf(stderr,
                 "zenml-test-collector: cannot listen on 127.0.0.1:%d\n", port);
    return 69;
  }
  server.Plan(plan);
  std::printf("%d\n", server.port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server.Stop();
  std::fprintf(stderr,
               "zenml-test-collector: %zu requests, %zu messages accepted\n",
               server.request_count(), server.accepted_ids().size());
  return 0;
}
