// Turns: fair turns for the spool's readers while writers keep it busy.
// Internal to zenml::spool.
//
// LevelDB admits one process at a time and its LOCK is a free-for-all: a
// process that finds it taken sleeps (LockBackoff) and tries again, and
// whoever tries first after a release wins. With 8 processes each flushing
// every event, a writer was nearly always first, and the readers, which have
// no inbox to fall back on, gave up busy: zenml-upload in 12 of 14 runs,
// zenml-spool-dump in 16 of 22 (issue 9). Turns add a queue of one reader:
// the file `<analytics dir>/waiters`, which only ever carries flock(2) locks.
//
//   a reader that finds LOCK taken   takes flock(waiters, LOCK_EX | LOCK_NB)
//   (with lock_wait left to retry)   and keeps it while it retries (polling
//                                    at most kReaderPollMax apart); drops it
//                                    once it has the database or gives up
//   a writer about to open LOCK      ReaderWaiting(): a LOCK_SH | LOCK_NB
//                                    attempt that fails means a reader waits;
//                                    it then steps aside (StepAside: polls
//                                    until no reader waits) within its own
//                                    lock_wait budget, then opens as before,
//                                    or past the budget returns Busy (Append
//                                    then writes its inbox file, as always)
//   a reader holding (Spool::Hold)   checks ReaderWaiting() at the start of
//                                    each call; if a reader waits it closes
//                                    the database, steps aside and reopens
//   a writer holding (the Client)    asks Spool::ReaderWaiting() between
//                                    batches and Releases, then Holds again
//                                    (stepping aside) before it checks
//                                    consent and writes: never inside a
//                                    call, where it may have checked consent
//                                    already (an opt-out's purge could
//                                    otherwise pass between check and write)
//
// And a queue for writers, for a reader that holds the database across many
// short transactions (an uploader draining: Spool::YieldToWaiters):
//
//   a writer that finds LOCK taken   takes flock(writers, LOCK_SH | LOCK_NB)
//   (with lock_wait left to retry)   and keeps it while it retries; drops it
//                                    once it has the database or gives up
//   a reader holding across          WriterWaiting(): a LOCK_EX | LOCK_NB
//   transactions                     attempt that fails means a writer
//                                    waits; between its transactions it then
//                                    closes the database and pauses until
//                                    the writer has it (at most
//                                    kWriterTurnWait), so a tracker is not
//                                    sent to its inbox by a long drain
//
// So a reader waits for at most the transactions already under way (each
// writer's one call, each holder's current call), never for a writer that
// starts after it. Roles (Spool::Role): Append and Hold(Role::kWriter) are
// writers; every other call (Peek, Scan, Ack, Stats, Purge, ...) is a
// reader. Nothing is lost by stepping aside: a writer either writes after
// the reader or, past its budget, to the inbox; a Client keeps its batch.
//
// The files hold no data. Writers create them (0600) when they open the
// database for writing, so a holder checks one with one flock call; readers
// never create them ("reads are reads"): if `waiters` does not exist, no
// writer that honours it is running. They are never removed. Two files, not
// two byte ranges of one: flock locks a whole file, and on NFS Linux emulates
// flock with fcntl locks, which would make byte-range locks of the same file
// conflict with it. They live outside the
// leveldb::Env seam on purpose: flock is not part of leveldb::Env, and
// losing the file in a power cut loses nothing. Where it cannot be opened
// (an in-memory Env, a directory not on disk) nobody ever waits, and the
// order is LevelDB's free-for-all again.
//
// Thread safety: a Turns is used under SharedDb::mu only (not thread-safe);
// flock's locks are per open file description, so each queue lock and its
// check use separate descriptors and see each other even within one
// process. Failures are never reported: a system call that fails
// means "nobody waits" (a turn order lost, never a write refused).

#ifndef ZENML_SPOOL_TURNS_H_
#define ZENML_SPOOL_TURNS_H_

#include <chrono>
#include <filesystem>
#include <string>

#include "core/clock.h"

namespace zenml::spool {

inline constexpr char kWaitersFileName[] = "waiters";
inline constexpr char kWritersFileName[] = "writers";

// A reader waiting in the queue retries the LevelDB lock at least this
// often (writers step aside, so the lock frees within one transaction).
inline constexpr std::chrono::milliseconds kReaderPollMax{4};
// How often a writer standing aside looks again.
inline constexpr std::chrono::microseconds kStepAsidePoll{1'000};
// A holder that yields to a waiting writer pauses until the writer has the
// database, for at most this long: a writer in LockBackoff sleeps at most
// 25 ms between attempts.
inline constexpr std::chrono::milliseconds kWriterTurnWait{100};

class Turns {
 public:
  // `dir`: the analytics directory (the database is `dir`/spool).
  explicit Turns(const std::filesystem::path& dir);
  ~Turns();
  Turns(const Turns&) = delete;
  Turns& operator=(const Turns&) = delete;

  // Before an open: (re)opens the descriptors ReaderWaiting() and
  // WriterWaiting() use if they are missing or their file was removed;
  // `create` (a writer's open) creates the files.
  void Refresh(bool create);

  // Writer side: whether a reader holds the queue. One flock call when the
  // file is open (two when nobody waits: the shared lock is dropped again).
  bool ReaderWaiting();

  // Holder side: whether a writer waits for the database (holds `writers`
  // shared). One flock call, two when nobody waits.
  bool WriterWaiting();

  // Writer side: waits while a reader waits, polling kStepAsidePoll apart.
  // False if one still waits at `deadline`.
  bool StepAside(const core::Clock* clock, core::MonoTime deadline);

  // Reader side: takes the queue if it is free (another reader may hold it:
  // then writers are standing aside anyway; the caller calls again on its
  // next retry). Never creates the file.
  void Queue();
  // Writer side: says it waits (a shared lock on `writers`; many writers
  // may). Never creates the file.
  void QueueWriter();

  // Holder side, after it closed the database for a waiting writer: whether
  // another process holds LevelDB's LOCK now (the writer got in). LevelDB
  // locks it with fcntl(F_SETLK); F_GETLK asks without taking it. False if
  // the file cannot be opened (an in-memory Env).
  bool DatabaseTaken() const;

  // Leaves either queue (no-op if in none).
  void Leave();

 private:
  std::string path_;
  std::string writers_path_;
  std::string lock_path_;     // LevelDB's LOCK
  int check_fd_ = -1;         // ReaderWaiting's descriptor
  int queue_fd_ = -1;         // holds LOCK_EX while this reader is queued
  int writer_check_fd_ = -1;  // WriterWaiting's descriptor
  int writer_queue_fd_ = -1;  // holds LOCK_SH while this writer waits
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_TURNS_H_
