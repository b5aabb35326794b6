// Backoff: the delays between retries of a transient failure, as Segment's
// libraries do them (segment-api.md): 0.5 s, doubling each attempt, capped
// at 60 s, plus 0-10 % random jitter on top so that many machines failing
// together do not retry together. The jitter is added after the cap, so the
// longest delay is 66 s. A pure function of the attempt number and an
// injected random source; tests pass a fixed one.
// Thread-compatible.

#ifndef ZENML_UPLOADER_BACKOFF_H_
#define ZENML_UPLOADER_BACKOFF_H_

#include <chrono>
#include <functional>

namespace zenml::uploader {

struct BackoffOptions {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{60'000};
  double jitter = 0.10;  // up to this fraction of the delay is added
};

// The delay before retry number `attempt` (0 for the first retry), given a
// `random` value in [0, 1).
std::chrono::milliseconds BackoffDelay(const BackoffOptions& options,
                                       int attempt, double random);

class Backoff {
 public:
  // `random` returns values in [0, 1); empty means a process-wide
  // std::mt19937_64 seeded from std::random_device.
  explicit Backoff(BackoffOptions options = {},
                   std::function<double()> random = {});

  // The delay before the next retry; advances the attempt count.
  std::chrono::milliseconds Next();
  // After a success: the next failure starts again at `initial`.
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  BackoffOptions options_;
  std::function<double()> random_;
  int attempt_ = 0;
};

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_BACKOFF_H_
