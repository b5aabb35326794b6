#include "tests/testing/segment_test_server.h"

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <fstream>
#include <utility>

namespace zenml::testing {
namespace {

std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Fills the parsed fields of `r` from its body.
void Parse(ReceivedRequest& r) {
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  auto batch = std::as_const(doc).FindMember("batch");
  if (batch == std::as_const(doc).MemberEnd() || !batch->value.IsArray())
    return;
  r.json_ok = true;
  for (const auto& m : batch->value.GetArray()) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    m.Accept(w);
    r.largest_message = std::max(r.largest_message, sb.GetSize());
    if (!m.IsObject()) continue;
    auto id = m.FindMember("messageId");
    if (id != m.MemberEnd() && id->value.IsString()) {
      r.message_ids.emplace_back(id->value.GetString(),
                                 id->value.GetStringLength());
    }
  }
  auto sent_at = std::as_const(doc).FindMember("sentAt");
  if (sent_at != std::as_const(doc).MemberEnd() && sent_at->value.IsString()) {
    r.sent_at = sent_at->value.GetString();
  }
  auto key = std::as_const(doc).FindMember("writeKey");
  if (key != std::as_const(doc).MemberEnd() && key->value.IsString()) {
    r.write_key = key->value.GetString();
  }
}

}  // namespace

SegmentTestServer::SegmentTestServer(int port,
                                     std::filesystem::path record_file)
    : server_(std::make_unique<httplib::Server>()),
      record_file_(std::move(record_file)) {
  auto batch = [this](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> headers;
    for (const auto& [k, v] : req.headers) headers.emplace(Lower(k), v);
    int status = 0;
    ScriptedResponse answer;
    Handle(req.path, req.body, std::move(headers), req.remote_port, status,
           answer);
    res.status = answer.status;
    for (const auto& [k, v] : answer.headers) res.set_header(k, v);
    if (answer.drop_connection) {
      // Promise a body, then fail to produce it: httplib closes the
      // connection and the client sees an incomplete answer.
      res.set_content_provider(
          answer.body.size() + 100, "application/json",
          [](size_t, size_t, httplib::DataSink&) { return false; });
      return;
    }
    res.set_content(answer.body, "application/json");
  };
  server_->Post("/v1/batch", batch);
  server_->Post("/v1/import", batch);
  server_->Get("/received", [this](const httplib::Request&,
                                   httplib::Response& res) {
    std::vector<std::string> ids = accepted_ids();
    std::string out = "{\"requests\":" + std::to_string(request_count()) +
                      ",\"accepted_messages\":" + std::to_string(ids.size()) +
                      ",\"message_ids\":[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) out += ',';
      out += '"' + ids[i] + '"';
    }
    out += "]}";
    res.set_content(out, "application/json");
  });
  server_->set_keep_alive_max_count(1000);
  // As production servers do: without it a kept-alive connection waits on
  // Nagle's algorithm and the client's delayed ACK (40 ms) for the second
  // write of every answer.
  server_->set_tcp_nodelay(true);
  int bound = port == 0
                  ? server_->bind_to_any_port("127.0.0.1")
                  : (server_->bind_to_port("127.0.0.1", port) ? port : -1);
  if (bound <= 0) return;
  port_ = bound;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() is a no-op until the listen loop runs: wait for it so
  // a server destroyed at once still shuts down.
  while (!server_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

SegmentTestServer::~SegmentTestServer() { Stop(); }

void SegmentTestServer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    released_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

std::string SegmentTestServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1/batch";
}

void SegmentTestServer::Plan(std::vector<ScriptedResponse> plan) {
  std::lock_guard lock(mu_);
  for (auto& p : plan) plan_.push_back(std::move(p));
}

void SegmentTestServer::SetResponder(Responder responder) {
  std::lock_guard lock(mu_);
  responder_ = std::move(responder);
}

void SegmentTestServer::SetKeepBodies(bool keep) {
  std::lock_guard lock(mu_);
  keep_bodies_ = keep;
}

void SegmentTestServer::SetDefault(ScriptedResponse response) {
  std::lock_guard lock(mu_);
  default_ = std::move(response);
}

std::vector<ReceivedRequest> SegmentTestServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t SegmentTestServer::request_count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

std::vector<std::string> SegmentTestServer::accepted_ids() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  for (const auto& r : requests_) {
    if (r.answered >= 200 && r.answered <= 299) {
      ids.insert(ids.end(), r.message_ids.begin(), r.message_ids.end());
    }
  }
  return ids;
}

bool SegmentTestServer::WaitForRequests(
    size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void SegmentTestServer::Release() {
  {
    std::lock_guard lock(mu_);
    released_ = true;
  }
  cv_.notify_all();
}

void SegmentTestServer::Handle(const std::string& path, const std::string& body,
                               std::map<std::string, std::string> headers,
                               int remote_port, int& status,
                               ScriptedResponse& out) {
  ReceivedRequest r;
  r.path = path;
  r.remote_port = remote_port;
  r.body = body;
  auto cl = headers.find("content-length");
  r.wire_bytes = cl != headers.end() ? std::stoul(cl->second) : body.size();
  r.headers = std::move(headers);
  Parse(r);

  std::unique_lock lock(mu_);
  if (!plan_.empty()) {
    out = std::move(plan_.front());
    plan_.pop_front();
  } else {
    std::optional<ScriptedResponse> chosen;
    if (responder_) chosen = responder_(r);
    out = chosen ? std::move(*chosen) : default_;
  }
  r.answered = out.drop_connection ? 0 : out.status;
  status = r.answered;
  if (!record_file_.empty()) {
    std::ofstream f(record_file_, std::ios::app);
    f << r.body << '\n';
  }
  if (!keep_bodies_) r.body = std::string();
  requests_.push_back(std::move(r));
  cv_.notify_all();
  if (out.stall) {
    cv_.wait(lock, [&] { return released_ || stopping_; });
  }
  if (out.delay.count() > 0) {
    cv_.wait_for(lock, out.delay, [&] { return stopping_; });
  }
}

}  // namespace zenml::testing
