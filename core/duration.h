// Durations as people write them on a command line, in an environment
// variable or in upload.yaml: the one grammar of the tree
// (`zenml-spool-dump --since`, ZENML_ANALYTICS_AUTO_UPLOAD_INTERVAL,
// upload.yaml's auto_upload interval).
//
// Grammar: a non-negative decimal integer, then optionally one unit:
// s (seconds, also the meaning of no unit), m (minutes), h (hours), d (days),
// w (weeks). "90", "45s", "30m", "2h", "1d", "1w". Nothing else: no sign, no
// spaces, no fractions, no compound forms ("1h30m").
//
// Pure functions; thread-safe. A text outside the grammar, or one whose
// value does not fit in int64 seconds, gives nullopt.

#ifndef ZENML_CORE_DURATION_H_
#define ZENML_CORE_DURATION_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace zenml::core {

std::optional<std::chrono::seconds> ParseDuration(std::string_view text);

// "45s", "12m", "3h", "5d": the largest whole unit up to days, rounded down;
// "-" before a negative duration (a time in the future, a skewed clock).
std::string FormatDuration(std::chrono::seconds d);

// `now` + `d`, saturated at the clock's largest time: a caller's "wait for
// ever" (Client::Flush(std::chrono::milliseconds::max())) overflowed the
// nanosecond clock into the past, and the wait ended at once.
template <typename Clock, typename Rep, typename Period>
typename Clock::time_point SaturatingDeadline(
    typename Clock::time_point now, std::chrono::duration<Rep, Period> d) {
  using D = std::chrono::duration<Rep, Period>;
  const auto room = Clock::time_point::max() - now;
  if (d > D::zero() && d >= std::chrono::duration_cast<D>(room)) {
    return Clock::time_point::max();
  }
  return now + std::chrono::duration_cast<typename Clock::duration>(d);
}

}  // namespace zenml::core

#endif  // ZENML_CORE_DURATION_H_
