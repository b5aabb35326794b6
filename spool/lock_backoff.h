// LockBackoff: how the spool waits for LevelDB's lock, which another process
// may hold. Internal to zenml::spool. Not thread-safe (one per attempt).
// A thin use of core::Backoff (core/backoff.h) with a deadline.

#ifndef ZENML_SPOOL_LOCK_BACKOFF_H_
#define ZENML_SPOOL_LOCK_BACKOFF_H_

#include <algorithm>
#include <chrono>
#include <random>

#include "core/backoff.h"
#include "core/clock.h"

namespace zenml::spool {

// Jittered exponential backoff for the LevelDB lock: d = 1 ms doubling to
// `max_delay` (50 ms; a reader queued for its turn polls faster, turns.h),
// each sleep uniformly in [d/2, d] (core::Backoff from 0.5 ms capped at
// max_delay / 2 with 100 % jitter), never past the deadline.
class LockBackoff {
 public:
  LockBackoff(
      const core::Clock* clock, std::chrono::milliseconds budget,
      std::chrono::microseconds max_delay = std::chrono::microseconds(50'000))
      : clock_(clock),
        deadline_(clock->Monotonic() + budget),
        backoff_({std::chrono::microseconds(500), max_delay / 2, 1.0}, [] {
          // Per thread: no lock shared by spool users.
          thread_local std::minstd_rand rng(std::random_device{}());
          return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        }) {}

  core::MonoTime deadline() const { return deadline_; }

  // Whether the budget is spent: no attempt will follow this one.
  bool Spent() const { return clock_->Monotonic() >= deadline_; }

  // Sleeps before the next attempt; false once the budget is spent.
  bool Wait() {
    const auto now = clock_->Monotonic();
    if (now >= deadline_) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline_ - now);
    clock_->SleepFor(std::min(backoff_.Next(), left));
    return true;
  }

 private:
  const core::Clock* clock_;
  core::MonoTime deadline_;
  core::Backoff backoff_;
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_LOCK_BACKOFF_H_
