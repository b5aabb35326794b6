// Transport: the seam through which the uploader sends one HTTP request.
//
// The Uploader never constructs its own transport (crashpad's upload thread
// did, and was left untested): the tool passes a CurlTransport, tests pass a
// scripted fake, and an air-gapped FileTransport (issue 5) can write bodies
// to a bundle and answer 200 instead of using the network.
//
// A Transport reports what the server said as an HttpResponse, whatever the
// status: deciding what a status means is ResponsePolicy's job. Only when no
// HTTP answer arrived does Post fail, with one of these codes:
//   kUnavailable        connection refused or reset, DNS failure, the
//                       server closed the connection mid-answer
//   kDeadlineExceeded   the connect or the total timeout passed
//   kFailedPrecondition the request cannot work as configured (a malformed
//                       or unsupported URL, a CA bundle that cannot be read,
//                       a certificate that does not verify)
//   kIoError            a local failure (a file transport's disk)
// Implementations document their own thread safety.

#ifndef ZENML_UPLOADER_TRANSPORT_H_
#define ZENML_UPLOADER_TRANSPORT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace zenml::uploader {

struct HttpRequest {
  std::string url;
  // Sent in order, as given; names as they should appear on the wire.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Time allowed to establish the connection (TCP and TLS).
  std::chrono::milliseconds connect_timeout{10'000};
  // Time allowed for the whole exchange, connection included.
  std::chrono::milliseconds timeout{30'000};
};

struct HttpResponse {
  int status = 0;
  // Header names as received; look them up with Header().
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header named `name` (ASCII case-insensitive).
  std::optional<std::string> Header(std::string_view name) const;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `request` as a POST and returns the server's answer, or a Status
  // (see the file comment) when none arrived.
  virtual core::Result<HttpResponse> Post(const HttpRequest& request) = 0;
};

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_TRANSPORT_H_
