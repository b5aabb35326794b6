#include "core/backoff.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <random>

namespace zenml::core {

std::chrono::microseconds BackoffDelay(const BackoffOptions& options,
                                       int attempt, double random) {
  // Double without overflowing: stop doubling once past the cap.
  int64_t base = options.initial.count();
  for (int i = 0; i < attempt && base < options.max.count(); ++i) base *= 2;
  base = std::min<int64_t>(base, options.max.count());
  const double r = std::clamp(random, 0.0, 1.0);
  const auto extra =
      static_cast<int64_t>(static_cast<double>(base) * options.jitter * r);
  return std::chrono::microseconds(base + extra);
}

Backoff::Backoff(BackoffOptions options, std::function<double()> random)
    : options_(options), random_(std::move(random)) {
  if (!random_) {
    random_ = [] {
      static std::mutex mu;
      static std::mt19937_64 engine{std::random_device{}()};
      std::lock_guard lock(mu);
      return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    };
  }
}

std::chrono::microseconds Backoff::Next() {
  return BackoffDelay(options_, attempt_++, random_());
}

}  // namespace zenml::core
