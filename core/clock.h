// Clock: the one seam through which the library reads time and sleeps.
//
// Everything that depends on time (timestamps, age bounds, backoff, the
// uploader's budget, 429 not-before times) takes a Clock so tests can use a
// FakeClock and never sleep for real. Implementations are thread-safe.

#ifndef ZENML_CORE_CLOCK_H_
#define ZENML_CORE_CLOCK_H_

#include <chrono>

#include "core/mutex.h"

namespace zenml::core {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (UTC): for timestamps and anything stored on disk.
  virtual WallTime Now() const = 0;
  // Monotonic time: for durations and budgets within one process.
  virtual MonoTime Monotonic() const = 0;
  // Blocks the calling thread for `d` (a FakeClock advances instead).
  virtual void SleepFor(std::chrono::nanoseconds d) const = 0;
};

// The process-wide real clock. Never destroyed; safe from any thread.
const Clock& RealClock();

// A clock that moves only when told to. SleepFor advances it by the requested
// amount and returns at once, so code under test "waits" instantly.
class FakeClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z unless given a time.
  FakeClock();
  explicit FakeClock(WallTime start);

  WallTime Now() const override EXCLUDES(mu_);
  MonoTime Monotonic() const override EXCLUDES(mu_);
  void SleepFor(std::chrono::nanoseconds d) const override EXCLUDES(mu_);

  void Advance(std::chrono::nanoseconds d) EXCLUDES(mu_);
  void SetNow(WallTime t) EXCLUDES(mu_);
  // Total time passed to SleepFor so far.
  std::chrono::nanoseconds slept() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  mutable WallTime wall_ GUARDED_BY(mu_);
  mutable MonoTime mono_ GUARDED_BY(mu_);
  mutable std::chrono::nanoseconds slept_ GUARDED_BY(mu_){0};
};

}  // namespace zenml::core

#endif  // ZENML_CORE_CLOCK_H_
