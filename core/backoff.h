// Backoff: jittered exponential delays between retries. The one copy of the
// tree: the uploader's retries of a transient HTTP failure (Segment's
// libraries' schedule, docs/segment-api.md: 0.5 s doubling to 60 s plus
// 0-10 % jitter), the spool's waits for another process's LevelDB lock
// (spool/lock_backoff.h: 1 ms doubling to 50 ms, uniform in [d/2, d]) and
// the Client writer's retries of a failed spool write (50 ms doubling to 5 s,
// no jitter).
//
// The delay before retry `attempt` (0 first) is
//   base = min(initial * 2^attempt, max);  delay = base + base * jitter * r
// for r in [0, 1). The jitter is added after the cap, so many machines
// failing together do not retry together even at the cap. A pure function
// of the attempt and an injected random source; tests pass a fixed one.
// Never overflows, however large the attempt. Thread-compatible.

#ifndef ZENML_CORE_BACKOFF_H_
#define ZENML_CORE_BACKOFF_H_

#include <chrono>
#include <functional>

namespace zenml::core {

struct BackoffOptions {
  std::chrono::microseconds initial{500'000};
  std::chrono::microseconds max{60'000'000};
  double jitter = 0.10;  // up to this fraction of the delay is added
};

// The delay before retry number `attempt` (0 for the first retry), given a
// `random` value in [0, 1) (clamped to [0, 1]).
std::chrono::microseconds BackoffDelay(const BackoffOptions& options,
                                       int attempt, double random);

class Backoff {
 public:
  // `random` returns values in [0, 1); empty means a process-wide
  // std::mt19937_64 seeded from std::random_device.
  explicit Backoff(BackoffOptions options = {},
                   std::function<double()> random = {});

  // The delay before the next retry; advances the attempt count.
  std::chrono::microseconds Next();
  // After a success: the next failure starts again at `initial`.
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  BackoffOptions options_;
  std::function<double()> random_;
  int attempt_ = 0;
};

}  // namespace zenml::core

#endif  // ZENML_CORE_BACKOFF_H_
