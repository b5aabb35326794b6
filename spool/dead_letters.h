// Dead letters: events the server refused on their own (a single-message
// request answered with a permanent error, uploader/response_policy.h), kept
// apart from the queue under d/<seq> so an operator can look at them
// (zenml-spool-dump --dead-letters) and put them back
// (zenml-upload --requeue-dead-letters).
//
// Bounded and aged like events. The limits (DeadLetterLimits) are stored with
// the spool's other bounds (c/limit/dead_max_count, c/limit/dead_max_bytes,
// c/limit/dead_max_age_s; absent = the defaults below) and applied only where
// dead letters enter: Spool::DeadLetter. There, in the same WriteBatch that
// stores the new dead letter, the oldest dead letters (lowest sequence, i.e.
// the oldest events) are deleted while the count or the bytes exceed their
// limit, and so is every dead letter at the head dead-lettered longer than
// max_age ago. Each one deleted is counted by reason under c/dead_drop/
// (SpoolStats::dead_letters_dropped: max_events, max_bytes, max_age), which
// `zenml-analytics status` and `zenml-spool-dump --stats` show. The bytes are
// those of the stored d/ values (message plus the server's answer).
//
// Requeue (Spool::RequeueDeadLetters) moves dead letters back to the queue
// under their original sequence, e/<seq>, so they sit in their original
// order, before every event that arrived after them, and the next upload
// sends them first. One WriteBatch moves all of them with the counters: a
// crash leaves either all of them requeued or none (nothing lost, nothing
// twice). Requeued events get the requeue time as their append time (their
// age for the event bounds starts over: they spent it out of the queue).
// Requeue never pushes the queue past its bounds: it stops at the first dead
// letter that would not fit (counted in `left_no_room`), so nothing requeued
// can be dropped by the next Append in its place.
//
// The caller must make sure no uploader runs meanwhile (zenml-upload takes
// the upload lock): a running uploader's cursor is past the requeued
// sequences and would not see them until its next run.
//
// Thread-safe, as Spool. Failures are Statuses (Busy, IoError, Corruption).

#ifndef ZENML_SPOOL_DEAD_LETTERS_H_
#define ZENML_SPOOL_DEAD_LETTERS_H_

#include <chrono>
#include <cstdint>
#include <optional>

#include "core/clock.h"

namespace zenml::spool {

struct DeadLetterLimits {
  uint64_t max_count = 10'000;
  uint64_t max_bytes = 16ull << 20;  // 16 MiB of stored dead letters
  std::chrono::seconds max_age = std::chrono::hours(24 * 30);
  bool operator==(const DeadLetterLimits&) const = default;
};

struct RequeueOptions {
  // Only dead letters dead-lettered at or after this time; unset: all.
  std::optional<core::WallTime> since;
};

struct RequeueResult {
  uint64_t requeued = 0;        // moved back to the queue
  uint64_t requeued_bytes = 0;  // their message bytes
  uint64_t first_seq = 0;       // the lowest and highest sequence requeued
  uint64_t last_seq = 0;        // (0 when none)
  uint64_t older = 0;           // dead-lettered before `since`: left
  uint64_t left_no_room = 0;    // would have pushed the queue past its bounds
  uint64_t unreadable = 0;      // a d/ value that does not parse: left
  uint64_t remaining = 0;       // dead letters left after the requeue
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_DEAD_LETTERS_H_
