// SpoolHold: one Spool::Hold() owned by a scope.
//
// While a SpoolHold holds, the database stays open in this process across
// calls (Spool::Hold); Release() or the destructor gives it back, so no
// early return leaves the spool held and no caller keeps a "held" flag of its
// own. Acquire() after Release() holds again. The two ways to give a turn to
// another process (spool/turns.h) are here too, named by who asks:
//
//   a reader between transactions   Yield(): Spool::YieldToWaiters, which
//                                   lets go when a reader or a writer waits
//                                   (and pauses for a writer to get in)
//   a writer between batches        YieldToReader(): lets go when a reader
//                                   waits (Spool::ReaderWaiting); a writer's
//                                   hold is never given up inside a call
//   any holder with nothing to do   YieldIdle(): lets go when a reader or a
//                                   writer waits, with no pause
//
// Not thread-safe: one owner thread (the Spool itself is).

#ifndef ZENML_SPOOL_SPOOL_HOLD_H_
#define ZENML_SPOOL_SPOOL_HOLD_H_

#include "core/status.h"
#include "spool/spool.h"

namespace zenml::spool {

class SpoolHold {
 public:
  // Holds nothing yet: Acquire() takes the hold.
  explicit SpoolHold(Spool& spool, Role role = Role::kReader)
      : spool_(spool), role_(role) {}
  ~SpoolHold() { Release(); }
  SpoolHold(const SpoolHold&) = delete;
  SpoolHold& operator=(const SpoolHold&) = delete;

  // Holds the database (opening it, waiting up to the spool's lock_wait for
  // another process). OK at once when already held.
  core::Status Acquire() {
    if (held_) return core::Status::OK();
    core::Status s = spool_.Hold(role_);
    held_ = s.ok();
    return s;
  }

  // Gives the hold back (the database closes if it was this process's
  // last). Nothing when not held. Never throws: it runs in destructors,
  // and closing may allocate; a failure leaves the database to the next
  // close (a Client must never terminate its host).
  void Release() noexcept {
    const bool was_held = held_;
    held_ = false;
    if (!was_held) return;
    try {
      spool_.Release();
    } catch (...) {
    }
  }

  // A reader's turn: lets go if another process waits (see above). Returns
  // whether it let go now; Acquire() again before the next transaction.
  bool Yield() {
    if (!held_ || !spool_.YieldToWaiters()) return false;
    held_ = false;
    return true;
  }

  // A writer's turn: lets go if a reader of another process waits. Returns
  // whether it let go now.
  bool YieldToReader() {
    if (!held_ || !spool_.ReaderWaiting()) return false;
    Release();
    return true;
  }

  // An idle holder's turn: lets go if a reader or a writer of another
  // process waits (two flock calls), without the pause Yield() makes for a
  // writer: the holder has nothing to do anyway. Returns whether it let go.
  bool YieldIdle() {
    if (!held_ || !(spool_.ReaderWaiting() || spool_.WriterWaiting())) {
      return false;
    }
    Release();
    return true;
  }

  bool held() const { return held_; }
  Spool& spool() const { return spool_; }

 private:
  Spool& spool_;
  const Role role_;
  bool held_ = false;
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_SPOOL_HOLD_H_
