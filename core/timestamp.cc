#include "core/timestamp.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>

namespace zenml::core {
namespace {

using std::chrono::milliseconds;

// Howard Hinnant's days_from_civil / civil_from_days, valid for the whole
// proleptic Gregorian calendar; avoids gmtime_r and its time_t limits.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

// 0001-01-01 .. 9999-12-31T23:59:59.999 keeps the format at 4 year digits.
constexpr int64_t kMinMs = 0;  // 1970: Segment has no use for earlier times
const int64_t kMaxMs = (DaysFromCivil(10000, 1, 1) * 86400LL) * 1000 - 1;

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`; false if any is not a digit.
bool Digits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Writes `value` as exactly `width` decimal digits ending before `end`.
void PutDigits(char* end, int64_t value, int width) {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

// By hand rather than with fmt::format: Track() formats one timestamp per
// event on the caller's thread, and this is ~20x cheaper (no format string
// to parse, no allocation).
std::array<char, kTimestampLength> FormatTimestampChars(WallTime t) {
  int64_t ms = std::chrono::floor<milliseconds>(t.time_since_epoch()).count();
  if (ms < kMinMs) ms = kMinMs;
  if (ms > kMaxMs) ms = kMaxMs;
  const int64_t days = ms / 86'400'000;
  const int64_t ms_of_day = ms % 86'400'000;
  const Civil c = CivilFromDays(days);
  std::array<char, kTimestampLength> out;
  char* p = out.data();
  // "YYYY-MM-DDTHH:MM:SS.mmmZ"
  PutDigits(p + 4, c.year, 4);
  p[4] = '-';
  PutDigits(p + 7, c.month, 2);
  p[7] = '-';
  PutDigits(p + 10, c.day, 2);
  p[10] = 'T';
  PutDigits(p + 13, ms_of_day / 3'600'000, 2);
  p[13] = ':';
  PutDigits(p + 16, ms_of_day / 60'000 % 60, 2);
  p[16] = ':';
  PutDigits(p + 19, ms_of_day / 1000 % 60, 2);
  p[19] = '.';
  PutDigits(p + 23, ms_of_day % 1000, 3);
  p[23] = 'Z';
  return out;
}

std::string FormatTimestamp(WallTime t) {
  const std::array<char, kTimestampLength> chars = FormatTimestampChars(t);
  return std::string(chars.data(), chars.size());
}

Result<WallTime> ParseTimestamp(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(
        fmt::format("invalid timestamp '{}': {}", s, why));
  };
  int64_t y, mo, d, h, mi, se;
  if (s.size() < 20 || !Digits(s, 0, 4, &y) || s[4] != '-' ||
      !Digits(s, 5, 2, &mo) || s[7] != '-' || !Digits(s, 8, 2, &d) ||
      (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &se)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS[.fff]Z");
  }
  if (mo < 1 || mo > 12 || d < 1 ||
      d > DaysInMonth(y, static_cast<unsigned>(mo)) || h > 23 || mi > 59 ||
      se > 59) {
    return bad("a field is out of range");
  }
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) ms = ms * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return bad("1 to 9 fractional digits");
    for (size_t i = digits; i < 3; ++i) ms *= 10;
  }
  const std::string_view zone = s.substr(pos);
  if (zone != "Z" && zone != "z" && zone != "+00:00") {
    return bad("only UTC ('Z' or '+00:00') is accepted");
  }
  const int64_t total =
      ((DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) *
            24 +
        h) *
           60 +
       mi) *
          60 +
      se;
  // The system clock counts nanoseconds in 64 bits: about 1677-09-21 to
  // 2262-04-11. Past those, the conversion below would overflow (a year of
  // 1013 in a spooled message, found by fuzz_message_fields).
  constexpr int64_t kClockMinMs =
      std::chrono::duration_cast<milliseconds>(WallTime::duration::min())
          .count();
  constexpr int64_t kClockMaxMs =
      std::chrono::duration_cast<milliseconds>(WallTime::duration::max())
          .count();
  const int64_t total_ms = total * 1000 + ms;  // |total| < 4e11 for any year
  if (total_ms < kClockMinMs || total_ms > kClockMaxMs) {
    return bad("outside the years the system clock holds (1678 to 2261)");
  }
  return WallTime(
      std::chrono::duration_cast<WallTime::duration>(milliseconds(total_ms)));
}

}  // namespace zenml::core
