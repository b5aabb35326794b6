#include "core/clock.h"

#include <thread>

namespace zenml::core {
namespace {

class SystemClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  MonoTime Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  void SleepFor(std::chrono::nanoseconds d) const override {
    if (d.count() > 0) std::this_thread::sleep_for(d);
  }
};

// 2026-01-01T00:00:00Z.
constexpr std::chrono::seconds kFakeEpoch{1767225600};

}  // namespace

const Clock& RealClock() {
  static const SystemClock* const clock = new SystemClock();
  return *clock;
}

FakeClock::FakeClock() : FakeClock(WallTime(kFakeEpoch)) {}
FakeClock::FakeClock(WallTime start) : wall_(start), mono_() {}

WallTime FakeClock::Now() const {
  MutexLock lock(&mu_);
  return wall_;
}
MonoTime FakeClock::Monotonic() const {
  MutexLock lock(&mu_);
  return mono_;
}
void FakeClock::SleepFor(std::chrono::nanoseconds d) const {
  if (d.count() <= 0) return;
  MutexLock lock(&mu_);
  wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  mono_ += d;
  slept_ += d;
}
void FakeClock::Advance(std::chrono::nanoseconds d) {
  MutexLock lock(&mu_);
  wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  mono_ += d;
}
void FakeClock::SetNow(WallTime t) {
  MutexLock lock(&mu_);
  wall_ = t;
}
std::chrono::nanoseconds FakeClock::slept() const {
  MutexLock lock(&mu_);
  return slept_;
}

}  // namespace zenml::core
