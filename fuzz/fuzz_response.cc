// libFuzzer target: what the uploader makes of a server's answer
// (uploader/response_policy.h): Retry-After parsing and the decision on a
// response. Input: 2 bytes of HTTP status, then "name: value" header lines
// up to an empty line, then the body. Checks: a decision never waits longer
// than kMaxRetryAfter, its reason is one line of at most ~200 bytes, and a
// parsed Retry-After is never negative.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "uploader/response_policy.h"
#include "uploader/transport.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace uploader = zenml::uploader;
  if (size < 2) return 0;
  const zenml::core::WallTime now{std::chrono::seconds(1'764'500'000)};
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  uploader::HttpResponse response;
  response.status = (data[0] << 8 | data[1]) % 1000;
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view()
                                         : rest.substr(eol + 1);
    if (line.empty()) break;
    const size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos
                                 ? std::string_view()
                                 : line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    response.headers.emplace_back(std::string(name), std::string(value));
    if (auto wait = uploader::ParseRetryAfter(value, now)) {
      Check(wait->count() >= 0);
    }
  }
  response.body = std::string(rest);
  for (size_t count : {size_t{1}, size_t{2}, size_t{100}}) {
    auto decision = uploader::DecideResponse(
        zenml::core::Result<uploader::HttpResponse>(response), count, now);
    if (decision.wait) {
      Check(decision.wait->count() >= 0);
      Check(*decision.wait <= uploader::kMaxRetryAfter);
    }
    Check(decision.reason.find('\n') == std::string::npos);
    Check(decision.reason.size() <= 400);
    Check(decision.http_status == response.status);
  }
  return 0;
}
