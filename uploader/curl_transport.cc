#include "uploader/curl_transport.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <string>

namespace zenml::uploader {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// Where the answer's body goes: kept up to kMaxResponseBodyBytes; past that
// the transfer is aborted (the status and headers already arrived), so a
// huge or endless body costs neither memory nor the rest of the budget.
struct BodySink {
  std::string* body;
  bool truncated = false;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  size_t bytes = size * n;
  size_t room = kMaxResponseBodyBytes - sink->body->size();
  if (bytes > room) {
    sink->body->append(data, room);
    sink->truncated = true;
    return 0;  // CURLE_WRITE_ERROR: stop reading
  }
  sink->body->append(data, bytes);
  return bytes;
}

// Headers kept per answer, at most (bytes of names and values); the rest are
// ignored. libcurl bounds each header line, not their number.
constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  std::string_view line(data, size * n);
  // A new status line (after a 1xx, or a proxy's CONNECT answer) starts the
  // headers over: only the final response's headers count.
  if (line.starts_with("HTTP/")) {
    response->headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  size_t kept = 0;
  for (const auto& [k, v] : response->headers) kept += k.size() + v.size();
  if (kept + line.size() > kMaxResponseHeaderBytes) return size * n;
  std::string_view name = line.substr(0, colon);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' ||
                            value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  response->headers.emplace_back(std::string(name), std::string(value));
  return size * n;
}

// The URL without credentials, path or query, for error messages.
std::string HostOf(const std::string& url) {
  auto scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(
      start, end == std::string::npos ? std::string::npos : end - start);
  auto at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  return url.substr(0, start) + authority;
}

core::Status ErrorStatus(CURLcode rc, const char* detail,
                         const std::string& url) {
  std::string msg = HostOf(url) + ": " +
                    (detail[0] != '\0' ? std::string(detail)
                                       : std::string(curl_easy_strerror(rc)));
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return core::Status::DeadlineExceeded(std::move(msg));
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    // The TLS handshake failed: https:// to a plain-HTTP port ("wrong
    // version number"), no common protocol or cipher, a client certificate
    // problem. Retrying cannot cure the setup.
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CIPHER:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return core::Status::FailedPrecondition(std::move(msg));
    default:
      return core::Status::Unavailable(std::move(msg));
  }
}

int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const std::function<bool()>*>(user);
  return (*abort)() ? 1 : 0;  // non-zero: CURLE_ABORTED_BY_CALLBACK
}

long Millis(std::chrono::milliseconds d) {
  return d.count() <= 0 ? 1L : static_cast<long>(d.count());
}

}  // namespace

struct CurlTransport::Handle {
  EasyHandle easy;
};

CurlTransport::CurlTransport(CurlTransportOptions options)
    : options_(std::move(options)) {
  GlobalInitOnce();
}

CurlTransport::~CurlTransport() = default;

std::string CurlTransport::Version() {
  GlobalInitOnce();
  return curl_version();
}

core::Result<HttpResponse> CurlTransport::Post(const HttpRequest& request) {
  core::MutexLock lock(&mu_);
  if (!handle_) {
    EasyHandle easy(curl_easy_init());
    if (!easy) return core::Status::Internal("curl_easy_init failed");
    handle_ = std::make_unique<Handle>(Handle{std::move(easy)});
  }
  CURL* h = handle_->easy.get();
  curl_easy_reset(h);  // every option as new; open connections stay

  Slist headers;
  auto append = [&headers](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next == nullptr) return false;
    headers.release();  // now owned by `next`
    headers.reset(next);
    return true;
  };
  for (const auto& [name, value] : request.headers) {
    if (!append(name + ": " + value)) {
      return core::Status::Internal("curl_slist_append failed");
    }
  }
  // An empty value removes the header libcurl would add on its own.
  if (!append("Expect:")) {
    return core::Status::Internal("curl_slist_append failed");
  }

  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   Millis(request.connect_timeout));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, Millis(request.timeout));
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
  BodySink sink{&response.body};
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
  if (options_.abort) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &Progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &options_.abort);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }

  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  if (rc == CURLE_WRITE_ERROR && sink.truncated) {
    // Aborted on purpose past the body cap: the answer itself arrived.
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 0) rc = CURLE_OK;
  }
  if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  // The handle outlives this call: forget the pointers into it (error
  // buffer, headers, body, response) before they dangle.
  curl_easy_reset(h);
  if (rc != CURLE_OK) return ErrorStatus(rc, error, request.url);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace zenml::uploader
