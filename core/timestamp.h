// Timestamps as Segment wants them: ISO-8601, UTC, exactly three fractional
// digits, e.g. "2026-11-27T10:00:00.123Z". Pure functions, thread-safe.

#ifndef ZENML_CORE_TIMESTAMP_H_
#define ZENML_CORE_TIMESTAMP_H_

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace zenml::core {

// Formats `t` in UTC with millisecond precision (truncated, not rounded, so a
// timestamp never lies about the future): "YYYY-MM-DDTHH:MM:SS.mmmZ".
// Times before 1970 or after 9999 are clamped to the range. Never fails.
std::string FormatTimestamp(WallTime t);

// Length of what FormatTimestamp writes.
inline constexpr size_t kTimestampLength = 24;

// The same as FormatTimestamp(t), as characters (no terminator) rather than a
// string: Track() writes it into its message without allocating.
std::array<char, kTimestampLength> FormatTimestampChars(WallTime t);

// Parses what FormatTimestamp writes, and also the common variants an
// ISO-8601 UTC string may take: no fraction, 1 to 9 fractional digits
// (kept to millisecond precision), "Z" or "+00:00". Anything else (other
// offsets, out-of-range fields, trailing text, a time the system clock
// cannot hold: before 1677-09-21T00:12:43.146Z or after
// 2262-04-11T23:47:16.854Z) is InvalidArgument.
Result<WallTime> ParseTimestamp(std::string_view text);

}  // namespace zenml::core

#endif  // ZENML_CORE_TIMESTAMP_H_
