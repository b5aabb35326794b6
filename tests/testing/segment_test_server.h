// SegmentTestServer: a Segment-compatible batch endpoint on 127.0.0.1 for
// tests, the benchmark and the demo's collector (cpp-httplib).
//
// It accepts POST /v1/batch (and /v1/import), records every request (headers,
// the decoded body, the messageIds in it) and answers from a scripted plan:
// each request takes the next ScriptedResponse; when the plan is used up, a
// Responder (if set) or the default answer (200 {"success":true}) applies.
// Faults it can script: any status and headers (429 + Retry-After), an
// answer slower than the client's timeout, a connection dropped before the
// answer is complete, and a stall (the request is recorded, then the handler
// blocks until Release(): "the server accepted it but the client never heard").
//
// GET /received answers
// {"requests":N,"accepted_messages":N,"message_ids":[...]} (messageIds of
// requests answered 2xx, in arrival order).
//
// Thread-safe: the server answers on its own threads; every method may be
// called from the test's thread meanwhile.

#ifndef ZENML_TESTS_TESTING_SEGMENT_TEST_SERVER_H_
#define ZENML_TESTS_TESTING_SEGMENT_TEST_SERVER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace zenml::testing {

struct ScriptedResponse {
  int status = 200;
  std::string body = "{\"success\":true}";
  std::vector<std::pair<std::string, std::string>> headers;
  // Wait this long before answering (a slow server).
  std::chrono::milliseconds delay{0};
  // Send the status line and headers, then close the connection before the
  // body is complete: the client gets no valid answer.
  bool drop_connection = false;
  // Record the request, then block until Release() (or the server stops),
  // then answer as above.
  bool stall = false;

  static ScriptedResponse Status(int status, std::string body = "") {
    ScriptedResponse r;
    r.status = status;
    if (!body.empty()) r.body = std::move(body);
    return r;
  }
};

struct ReceivedRequest {
  std::string path;
  // Lower-cased names.
  std::map<std::string, std::string> headers;
  size_t wire_bytes = 0;  // Content-Length as sent (compressed if gzip)
  std::string body;       // decoded (httplib inflates Content-Encoding: gzip)
  bool json_ok = false;   // body parsed as a JSON object with a "batch" array
  std::vector<std::string> message_ids;
  size_t largest_message = 0;  // bytes of the largest message, as serialized
  std::string sent_at;
  std::string write_key;
  int answered = 0;     // the status answered (0: dropped or not yet)
  int remote_port = 0;  // the client's port: one per connection
};

class SegmentTestServer {
 public:
  using Responder =
      std::function<std::optional<ScriptedResponse>(const ReceivedRequest&)>;

  // Listens on 127.0.0.1:`port` (0: an ephemeral port) at once. If
  // `record_file` is set, appends each decoded request body as one line.
  explicit SegmentTestServer(int port = 0,
                             std::filesystem::path record_file = {});
  ~SegmentTestServer();  // stops; releases stalled handlers
  SegmentTestServer(const SegmentTestServer&) = delete;
  SegmentTestServer& operator=(const SegmentTestServer&) = delete;

  // The bound port; 0 (and ok() false) if binding failed.
  int port() const { return port_; }
  bool ok() const { return port_ > 0; }
  // "http://127.0.0.1:<port>/v1/batch".
  std::string url() const;

  // Appends to the plan.
  void Plan(std::vector<ScriptedResponse> plan);
  // Consulted after the plan is used up; nullopt from it means the default.
  void SetResponder(Responder responder);
  void SetDefault(ScriptedResponse response);
  // Whether requests() keeps each decoded body (default true). The benchmark
  // turns it off so a million events do not pile up in memory.
  void SetKeepBodies(bool keep);

  std::vector<ReceivedRequest> requests() const;
  size_t request_count() const;
  // messageIds of every request answered 2xx, in order (duplicates kept).
  std::vector<std::string> accepted_ids() const;
  // Waits until at least `n` requests arrived; false on timeout.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const;
  // Lets every stalled handler (and future stalls) answer.
  void Release();
  void Stop();

 private:
  void Handle(const std::string& path, const std::string& body,
              std::map<std::string, std::string> headers, int remote_port,
              int& status, ScriptedResponse& out);

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::filesystem::path record_file_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<ScriptedResponse> plan_;
  Responder responder_;
  ScriptedResponse default_;
  std::vector<ReceivedRequest> requests_;
  bool keep_bodies_ = true;
  bool released_ = false;
  bool stopping_ = false;
};

}  // namespace zenml::testing

#endif  // ZENML_TESTS_TESTING_SEGMENT_TEST_SERVER_H_
