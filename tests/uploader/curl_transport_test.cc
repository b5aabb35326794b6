#include "uploader/curl_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "tests/testing/segment_test_server.h"
#include "tests/testing/temp_dir.h"
#include "uploader/gzip.h"

namespace zenml::uploader {
namespace {

using std::chrono::milliseconds;
using testing::ScriptedResponse;
using testing::SegmentTestServer;

HttpRequest Request(const SegmentTestServer& server, std::string body) {
  HttpRequest r;
  r.url = server.url();
  r.headers = {{"Content-Type", "application/json"},
               {"Authorization", "Basic a2V5Og=="},
               {"User-Agent", "zenml-analytics/test"}};
  r.body = std::move(body);
  r.timeout = milliseconds(5'000);
  return r;
}

TEST(CurlTransportTest, PostsTheBodyAndHeadersAndReturnsTheAnswer) {
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  ScriptedResponse answer = ScriptedResponse::Status(429, "slow down");
  answer.headers = {{"Retry-After", "17"}};
  server.Plan({answer});
  CurlTransport transport;
  auto got = transport.Post(
      Request(server, "{\"batch\":[{\"messageId\":\"m1\"}],\"sentAt\":\"x\"}"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, 429);
  EXPECT_EQ(got->body, "slow down");
  EXPECT_EQ(got->Header("retry-after"), "17");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers["authorization"], "Basic a2V5Og==");
  EXPECT_EQ(reqs[0].headers["user-agent"], "zenml-analytics/test");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].message_ids, std::vector<std::string>{"m1"});
}

TEST(CurlTransportTest, GzipBodyIsDecodedByTheServer) {
  SegmentTestServer server;
  CurlTransport transport;
  std::string json = "{\"batch\":[";
  for (int i = 0; i < 300; ++i) {
    json += (i ? "," : "") + std::string("{\"messageId\":\"m") +
            std::to_string(i) + "\",\"event\":\"Pipeline run\"}";
  }
  json += "]}";
  HttpRequest r = Request(server, *GzipCompress(json));
  r.headers.emplace_back("Content-Encoding", "gzip");
  auto got = transport.Post(r);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, 200);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, json);
  EXPECT_LT(reqs[0].wire_bytes, json.size() / 4);
  EXPECT_EQ(reqs[0].message_ids.size(), 300u);
}

TEST(CurlTransportTest, LargeBodiesAreSentWithoutExpectContinue) {
  SegmentTestServer server;
  CurlTransport transport;
  auto got = transport.Post(Request(server, std::string(2'000'000, ' ')));
  ASSERT_TRUE(got.ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers.count("expect"), 0u);
  EXPECT_EQ(reqs[0].wire_bytes, 2'000'000u);
}

TEST(CurlTransportTest, RefusedConnectionIsUnavailable) {
  int port = 0;
  {
    SegmentTestServer server;
    port = server.port();
  }  // closed again: nothing listens there now
  CurlTransport transport;
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/batch";
  auto got = transport.Post(r);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), core::Status::Code::kUnavailable);
}

TEST(CurlTransportTest, AnswerSlowerThanTheTimeoutIsDeadlineExceeded) {
  SegmentTestServer server;
  ScriptedResponse slow;
  slow.delay = milliseconds(3'000);
  server.Plan({slow});
  CurlTransport transport;
  HttpRequest r = Request(server, "{}");
  r.timeout = milliseconds(300);
  auto got = transport.Post(r);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), core::Status::Code::kDeadlineExceeded);
}

TEST(CurlTransportTest, ConnectionDroppedMidAnswerIsAnErrorNotA200) {
  SegmentTestServer server;
  ScriptedResponse drop;
  drop.drop_connection = true;
  server.Plan({drop});
  CurlTransport transport;
  auto got = transport.Post(Request(server, "{}"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), core::Status::Code::kUnavailable);
}

TEST(CurlTransportTest, RequestsShareOneConnectionAndOptionsDoNotCarryOver) {
  SegmentTestServer server;
  ASSERT_TRUE(server.ok());
  CurlTransport transport;
  HttpRequest first = Request(server, "{\"batch\":[]}");
  first.headers.emplace_back("X-Only-First", "1");
  ASSERT_EQ(transport.Post(first)->status, 200);
  ASSERT_EQ(transport.Post(Request(server, "{\"batch\":[]}"))->status, 200);
  ASSERT_EQ(transport.Post(Request(server, "{\"batch\":[]}"))->status, 200);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  // One TCP connection (and, against Segment, one TLS handshake) for all.
  EXPECT_EQ(reqs[1].remote_port, reqs[0].remote_port);
  EXPECT_EQ(reqs[2].remote_port, reqs[0].remote_port);
  EXPECT_EQ(reqs[0].headers.count("x-only-first"), 1u);
  EXPECT_EQ(reqs[1].headers.count("x-only-first"), 0u);
}

TEST(CurlTransportTest, ARequestAfterADroppedConnectionConnectsAgain) {
  SegmentTestServer server;
  ScriptedResponse drop;
  drop.drop_connection = true;
  server.Plan({ScriptedResponse::Status(200), drop});
  CurlTransport transport;
  ASSERT_TRUE(transport.Post(Request(server, "{}")).ok());
  ASSERT_FALSE(transport.Post(Request(server, "{}")).ok());
  auto again = transport.Post(Request(server, "{}"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
}

TEST(CurlTransportTest, MalformedOrUnsupportedUrlIsAConfigurationError) {
  CurlTransport transport;
  HttpRequest r;
  r.url = "ftp://127.0.0.1:1/v1/batch";
  EXPECT_EQ(transport.Post(r).status().code(),
            core::Status::Code::kFailedPrecondition);
  r.url = "http://[::1";
  EXPECT_EQ(transport.Post(r).status().code(),
            core::Status::Code::kFailedPrecondition);
}

TEST(CurlTransportTest, UnreadableCaFileIsAConfigurationError) {
  testing::TempDir dir;
  CurlTransportOptions options;
  options.ca_file = dir / "missing.pem";
  CurlTransport transport(options);
  HttpRequest r;
  // TLS to a local plain-HTTP port: the CA file is loaded (and fails) first
  // or the handshake fails; either way nothing leaves this machine.
  SegmentTestServer server;
  r.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/v1/batch";
  auto got = transport.Post(r);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), core::Status::Code::kFailedPrecondition)
      << got.status().ToString();
}

TEST(CurlTransportTest, HttpsToAPlainHttpPortIsAConfigurationError) {
  SegmentTestServer server;
  CurlTransport transport;
  HttpRequest r = Request(server, "{}");
  r.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/v1/batch";
  auto got = transport.Post(r);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), core::Status::Code::kFailedPrecondition)
      << got.status().ToString();
}

TEST(CurlTransportTest, AHugeBodyIsCutAtTheCapAndTheAnswerStillCounts) {
  SegmentTestServer server;
  server.Plan({ScriptedResponse::Status(400, std::string(8 << 20, 'x'))});
  CurlTransport transport;
  auto got = transport.Post(Request(server, "{}"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, 400);
  EXPECT_EQ(got->body.size(), kMaxResponseBodyBytes);
  // The connection was given up; the next request connects again.
  auto next = transport.Post(Request(server, "{}"));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->status, 200);
}

// A server that answers 200 with a chunked body that never ends.
class EndlessBodyServer {
 public:
  EndlessBodyServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      static_cast<void>(::recv(c, buf, sizeof(buf), 0));
      std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
          "Transfer-Encoding: chunked\r\n\r\n";
      std::string chunk = "1000\r\n" + std::string(0x1000, 'z') + "\r\n";
      bool ok = ::send(c, head.data(), head.size(), MSG_NOSIGNAL) > 0;
      while (ok && !stop_) {
        ok = ::send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0;
        if (ok) sent_ += chunk.size();
      }
      ::close(c);
    });
  }
  ~EndlessBodyServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  size_t sent() const { return sent_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> sent_{0};
};

TEST(CurlTransportTest, AnEndlessBodyIsCutAtTheCapWithoutWaitingForTheTimeout) {
  EndlessBodyServer server;
  ASSERT_NE(server.port(), 0);
  CurlTransport transport;
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1/batch";
  r.body = "{}";
  r.timeout = milliseconds(30'000);
  auto got = transport.Post(r);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body.size(), kMaxResponseBodyBytes);
}

TEST(CurlTransportTest, ErrorsNameTheHostButNeverCredentialsOrPath) {
  int port = 0;
  {
    SegmentTestServer server;
    port = server.port();
  }
  CurlTransport transport;
  HttpRequest r;
  r.url = "http://user:secretkey@127.0.0.1:" + std::to_string(port) +
          "/v1/batch?writeKey=secretkey";
  r.headers = {{"Authorization", "Basic c2VjcmV0a2V5Og=="}};
  auto got = transport.Post(r);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(got.status().message().find("secretkey"), std::string::npos)
      << got.status().message();
}

}  // namespace
}  // namespace zenml::uploader
