#include "core/duration.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <limits>

namespace zenml::core {

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      unit = 0;  // no unit: seconds, the whole text is the number
      break;
  }
  if (unit != 0) {
    text.remove_suffix(1);
  } else {
    unit = 1;
  }
  // from_chars accepts a leading '-': refuse it (and '+', which it does not).
  if (text.empty() || text.front() < '0' || text.front() > '9') {
    return std::nullopt;
  }
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  if (n > std::numeric_limits<int64_t>::max() / unit) return std::nullopt;
  return std::chrono::seconds(n * unit);
}

std::string FormatDuration(std::chrono::seconds d) {
  std::string sign;
  // Unsigned, so that even the most negative count has a magnitude.
  uint64_t s = static_cast<uint64_t>(d.count());
  if (d.count() < 0) {
    sign = "-";
    s = 0 - s;
  }
  if (s < 60) return fmt::format("{}{}s", sign, s);
  if (s < 3600) return fmt::format("{}{}m", sign, s / 60);
  if (s < 86400) return fmt::format("{}{}h", sign, s / 3600);
  return fmt::format("{}{}d", sign, s / 86400);
}

}  // namespace zenml::core
