// CurlTransport: a Transport over libcurl (the only file that includes
// <curl/curl.h> is curl_transport.cc).
//
// What it does for every Post, on purpose:
//   - curl_global_init once per process (thread-safe, never cleaned up: the
//     process may have other libcurl users);
//   - one easy handle for the transport's life, reset (curl_easy_reset: all
//     options back to defaults) before every request, so no request's
//     options reach the next but the connection stays open between them:
//     without it every request paid a new TCP connection and, against
//     Segment, a new TLS handshake (a round trip or two and the handshake's
//     CPU, per 500 events); libcurl reconnects by itself when the server
//     has closed an idle connection;
//   - no `Expect: 100-continue` (a round trip lost per request, and some
//     proxies mishandle it); no redirects followed (a 3xx is an answer);
//   - connect and total timeouts from the HttpRequest, no signals (safe in
//     threads);
//   - the answer's body kept up to kMaxResponseBodyBytes: past it the
//     transfer is aborted and the answer returned with the body cut there
//     (a 1 GiB or endless body neither grows memory nor runs to the
//     timeout); headers kept up to 64 KiB;
//   - TLS peer and host verification always on; `ca_file` replaces the
//     system CA bundle for a private CA;
//   - proxies as libcurl's defaults give them: http_proxy, https_proxy,
//     HTTPS_PROXY, ALL_PROXY, no_proxy from the environment.
// It never logs; errors name the URL's host but never headers or body, so
// the write key (in Authorization and the body) cannot leak through them.
//
// Thread-safe: Post may be called from several threads at once; the calls
// take turns on the one handle.

#ifndef ZENML_UPLOADER_CURL_TRANSPORT_H_
#define ZENML_UPLOADER_CURL_TRANSPORT_H_

#include <filesystem>
#include <functional>
#include <memory>

#include "core/mutex.h"
#include "uploader/transport.h"

namespace zenml::uploader {

// Bytes of an answer's body kept (Segment's answers are a few dozen bytes;
// the body is only ever shown, cut to one line, as a reason).
inline constexpr size_t kMaxResponseBodyBytes = 64 * 1024;

struct CurlTransportOptions {
  // PEM file of CA certificates to trust instead of the system's (--cacert).
  // Empty: the system bundle.
  std::filesystem::path ca_file;
  // Polled by libcurl's progress callback while a request is in flight
  // (connect included, several times a second); true aborts it at once
  // (Unavailable, "aborted"). The tool's graceful stop. Must be cheap and
  // thread-safe. Empty: never.
  std::function<bool()> abort;
};

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(CurlTransportOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // See Transport::Post. Maps libcurl errors: timeouts → DeadlineExceeded;
  // bad or unsupported URL, unreadable CA file, certificate problems, a
  // failed TLS handshake (https:// to a plain-HTTP port) →
  // FailedPrecondition; everything else (refused, reset, DNS, send/receive
  // failures) → Unavailable.
  core::Result<HttpResponse> Post(const HttpRequest& request) override
      EXCLUDES(mu_);

  // "libcurl/7.88.1 OpenSSL/3.0.x ..." for --version.
  static std::string Version();

 private:
  struct Handle;  // the CURL easy handle; curl.h stays out of this header
  CurlTransportOptions options_;
  core::Mutex mu_;
  std::unique_ptr<Handle> handle_ GUARDED_BY(mu_);  // made by the first Post
};

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_CURL_TRANSPORT_H_
