#include "spool/bounds.h"

#include <limits>

namespace zenml::spool {

BoundsDrops ApplyBounds(const BoundsState& meta,
                        std::span<const BoundsEvent> head, bool head_is_all,
                        std::span<const BoundsEvent> incoming, int64_t now_ms,
                        const SpoolLimits& limits) {
  BoundsDrops out;
  out.incoming.assign(incoming.size(), std::nullopt);
  // A max_age beyond what milliseconds since 1970 can express never cuts.
  const auto age_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::min(
              limits.max_age,
              std::chrono::seconds(std::numeric_limits<int64_t>::max() / 1000)))
          .count();
  const int64_t cutoff = now_ms >= std::numeric_limits<int64_t>::min() + age_ms
                             ? now_ms - age_ms
                             : std::numeric_limits<int64_t>::min();
  uint64_t count = meta.count + incoming.size();
  uint64_t bytes = meta.bytes;
  for (const BoundsEvent& e : incoming) bytes += e.size;
  auto over = [&](int64_t time_ms) -> std::optional<DropReason> {
    if (time_ms < cutoff) return DropReason::kMaxAge;
    if (count > limits.max_events) return DropReason::kMaxEvents;
    if (bytes > limits.max_bytes) return DropReason::kMaxBytes;
    return std::nullopt;
  };
  auto drop = [&](DropReason why, uint64_t size) {
    out.by_reason[static_cast<int>(why)]++;
    count = count > 0 ? count - 1 : 0;
    bytes = bytes >= size ? bytes - size : 0;
  };

  bool head_exhausted = meta.count == 0;
  if (!head_exhausted) {
    bool stopped = false;
    for (const BoundsEvent& e : head) {
      auto why = over(e.time_ms);
      if (!why) {
        stopped = true;
        break;
      }
      drop(*why, e.size);
      out.head++;
      out.head_bytes += e.size;
    }
    if (!stopped) {
      if (!head_is_all) {
        out.needs_more_head = true;
        return out;
      }
      head_exhausted = true;
    }
  }
  for (size_t i = 0; i < incoming.size(); ++i) {
    std::optional<DropReason> why;
    if (incoming[i].time_ms < cutoff) {
      why = DropReason::kMaxAge;
    } else if (head_exhausted) {
      why = over(incoming[i].time_ms);
    }
    if (why) {
      drop(*why, incoming[i].size);
      out.incoming[i] = why;
    }
  }
  out.count = count;
  out.bytes = bytes;
  return out;
}

}  // namespace zenml::spool
