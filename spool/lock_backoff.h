// LockBackoff: how the spool waits for LevelDB's lock, which another process
// may hold. Internal to zenml::spool. Not thread-safe (one per attempt).

#ifndef ZENML_SPOOL_LOCK_BACKOFF_H_
#define ZENML_SPOOL_LOCK_BACKOFF_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

#include "core/clock.h"

namespace zenml::spool {

// Jittered exponential backoff for the LevelDB lock: 1 ms doubling to
// `max_delay` (50 ms; a reader queued for its turn polls faster, turns.h),
// each sleep uniformly in [d/2, d], never past the deadline.
class LockBackoff {
 public:
  LockBackoff(
      const core::Clock* clock, std::chrono::milliseconds budget,
      std::chrono::microseconds max_delay = std::chrono::microseconds(50'000))
      : clock_(clock),
        deadline_(clock->Monotonic() + budget),
        max_delay_(max_delay) {}

  core::MonoTime deadline() const { return deadline_; }

  // Sleeps before the next attempt; false once the budget is spent.
  bool Wait() {
    const auto now = clock_->Monotonic();
    if (now >= deadline_) return false;
    thread_local std::minstd_rand rng(std::random_device{}());
    const auto half = delay_ / 2;
    std::uniform_int_distribution<int64_t> dist(half.count(), delay_.count());
    auto sleep = std::chrono::microseconds(dist(rng));
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - now);
    clock_->SleepFor(std::min(sleep, left));
    delay_ = std::min(delay_ * 2, max_delay_);
    return true;
  }

 private:
  const core::Clock* clock_;
  core::MonoTime deadline_;
  std::chrono::microseconds max_delay_;
  std::chrono::microseconds delay_{1'000};
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_LOCK_BACKOFF_H_
