// Bounds: which events the spool's limits (count, bytes, age) drop when
// events enter it. A pure function, so the policy is one table-tested place.
//
// The spool owns its limits (SpoolLimits, stored under c/limit/ and set by a
// writer's SpoolOptions). They are applied only where events enter the spool:
// Spool::Append and inbox ingestion call ApplyBounds once per batch and
// delete what it says, counting each drop by reason in the same WriteBatch.
// No read path (Peek, Stats, PeekDeadLetters, Purge's count) applies them, so
// a reader never deletes anything by its own options. The age bound is
// applied here and only here: an event older than max_age is dropped the
// next time events enter the spool, never when it is read.
//
// Order of drops: the oldest first. Stored events (the head, oldest first)
// go before incoming ones; an incoming event older than max_age is dropped
// whatever the head holds.
//
// Thread-safe (no state).

#ifndef ZENML_SPOOL_BOUNDS_H_
#define ZENML_SPOOL_BOUNDS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "spool/spool.h"

namespace zenml::spool {

// One event as the bounds see it.
struct BoundsEvent {
  int64_t time_ms = 0;  // append time, ms since the Unix epoch
  uint64_t size = 0;    // message bytes
};

// The stored totals before the batch enters.
struct BoundsState {
  uint64_t count = 0;
  uint64_t bytes = 0;
};

struct BoundsDrops {
  // How many of `head` (from its front) to delete.
  size_t head = 0;
  uint64_t head_bytes = 0;
  // True when every event of `head` is dropped, the bounds still want more,
  // and `head_is_all` was false: call again with a longer head.
  bool needs_more_head = false;
  // Per incoming event: why it is dropped, or nullopt if it is kept.
  std::vector<std::optional<DropReason>> incoming;
  // Drops of head and incoming events by reason.
  uint64_t by_reason[4] = {0, 0, 0, 0};  // indexed by DropReason
  // The totals after the batch (kept events only).
  uint64_t count = 0;
  uint64_t bytes = 0;
};

// `head`: the oldest stored events in order (a prefix of the spool);
// `head_is_all`: whether it holds every stored event. `incoming`: the batch,
// in order. `now_ms`: the clock. Returns what to drop so that count <=
// max_events, bytes <= max_bytes and nothing is older than max_age.
BoundsDrops ApplyBounds(const BoundsState& meta,
                        std::span<const BoundsEvent> head, bool head_is_all,
                        std::span<const BoundsEvent> incoming, int64_t now_ms,
                        const SpoolLimits& limits);

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_BOUNDS_H_
