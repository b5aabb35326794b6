// Reader: reads the spool in key order across many short transactions,
// holding the database between them with the turn policy in one place.
//
// Reopening the database for every transaction is what made draining and
// dumping slow (an open lists the directory and reads the MANIFEST: a
// quarter of the uploader's CPU; 1,001 opens in a 1,000,000-event dump), and
// holding it for a whole run shuts trackers out. A Reader keeps one
// SpoolHold from one transaction to the next and gives it up:
//
//   - when another process waits (SpoolHold::Yield, asked at each Begin()
//     and each Idle(), unless the policy says not to): a tracker or a
//     reader waits at most one transaction and one idle poll;
//   - once idle (no transaction) for max_idle_hold, so a caller waiting on
//     something slow (a server) holds up nobody, even a process that does
//     not say that it waits; while LevelDB compacts crowded level-0 tables
//     in its background thread (Spool::CompactingLevel0) it keeps holding
//     for up to max_compaction_hold, since closing would stop that work and
//     the next open would start it over;
//   - after max_hold of holding, if set, at the next Begin() (the dump's
//     time slices), and at Release() or destruction.
//
// Its cursor is the key of the last entry read: Read() returns what follows
// it. Whether reads ingest the inbox (Spool::Peek, a writing read: the
// uploader) or change nothing on disk (Spool::Scan: the dump) is the
// policy's `ingest`.
//
// Usage, one transaction:
//   reader.Begin();
//   ... reader.Read(...), spool.Ack(...), spool.DeadLetter(...) ...
//   reader.End();
// and, while waiting for other work, reader.Idle() every kIdlePoll.
//
// Not thread-safe: one owner thread.

#ifndef ZENML_SPOOL_READER_H_
#define ZENML_SPOOL_READER_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/status.h"
#include "spool/spool.h"
#include "spool/spool_hold.h"

namespace zenml::spool {

struct ReaderPolicy {
  // Read() through Peek (ingests the inbox) or Scan (changes nothing).
  bool ingest = true;
  // False: never hold (a dry run: each call opens and closes on its own).
  bool hold = true;
  // Give the database to a process that says it waits, at each Begin()
  // and Idle(). False: only max_hold slices give turns (a reader whose
  // transactions are one chunk each would otherwise give a turn per chunk
  // while eight writers take theirs one after the other: a 1,000-event
  // chunk per reopen).
  bool yield = true;
  // Holding at most this long in one go (zero: no limit; Yield still gives
  // turns): Begin() lets go and holds again after it.
  std::chrono::milliseconds max_hold{0};
  // Idle this long (no transaction), Idle() lets go...
  std::chrono::milliseconds max_idle_hold{50};
  // ...or this long while LevelDB compacts level 0 (a compaction that
  // cannot finish, on a full disk say, must not keep writers out for ever).
  std::chrono::milliseconds max_compaction_hold{10'000};
};

class Reader {
 public:
  // How often an idle owner should call Idle().
  static constexpr std::chrono::milliseconds kIdlePoll{10};

  // `spool` must outlive the Reader. Holds nothing until Begin().
  explicit Reader(Spool& spool, ReaderPolicy policy = {});
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Before a transaction: gives the database to a waiting process (or ends
  // a max_hold slice), then holds it (again). Returns the hold's status
  // (OK when not holding by policy); a caller may go on after a failure:
  // the spool's calls then open the database on their own and report.
  core::Status Begin();
  // After a transaction: the idle clock starts; notes whether LevelDB
  // compacts level 0 (compacting()).
  void End();
  // While there is no transaction to run: yields to a waiting process, and
  // lets go once idle past max_idle_hold (max_compaction_hold while
  // compacting). Cheap: one flock call when nobody waits.
  void Idle();
  // Lets go now (the destructor does too).
  void Release();

  // Up to `max_bytes` / `max_count` entries after the cursor, in key order;
  // advances the cursor past them. *at_head (optional): the read stopped at
  // the spool's head rather than at a limit (fewer than max_count, and room
  // left for a message of `largest_message` bytes).
  Result<std::vector<Entry>> Read(size_t max_bytes, size_t max_count,
                                  size_t largest_message = 0,
                                  bool* at_head = nullptr);

  // Like Read, but hands each entry to `visit` (false: stop) instead of
  // returning copies: in place for a pure read (Spool::ScanEach), copies
  // of a Peek's when the policy ingests. Returns how many it visited (0:
  // none left); the cursor moves past them.
  Result<size_t> Visit(size_t max_bytes, size_t max_count,
                       const EntryVisitor& visit);

  bool held() const { return hold_.held(); }
  // Whether LevelDB compacted level 0 when the last transaction ended.
  bool compacting() const { return compacting_; }
  const std::string& cursor() const { return cursor_; }

 private:
  Spool& spool_;
  const ReaderPolicy policy_;
  SpoolHold hold_;
  std::chrono::steady_clock::time_point held_since_;
  std::chrono::steady_clock::time_point idle_since_;
  bool compacting_ = false;
  std::string cursor_;
};

}  // namespace zenml::spool

#endif  // ZENML_SPOOL_READER_H_
