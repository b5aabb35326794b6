// RequestFeed: reads the spool ahead of the uploader's requests and prepares
// them, in a thread of its own, so the spool's work overlaps the network's.
//
// Draining a spool costs three kinds of work per request: the spool's (open,
// the Ack of what was sent, the Peek of what comes next), the body's (layout,
// JSON, gzip) and the network's (the POST and the server's answer). Done one
// after the other they add up; on loopback the spool and the body cost more
// than the request (docs/BENCHMARKS.md "Uploader"). The feed thread does the
// first two while the caller's thread waits for the server:
//
//   feed thread:   [Ack+Peek tx] [lay out, build, gzip x10] [Ack+Peek tx] ...
//   caller thread:        POST 1, POST 2, ... (Acks queued back to the feed)
//
// Each spool transaction of the feed (Ack of the keys queued so far; Peek of
// up to ten requests' worth after the last key read; dead-lettering of
// messages too large to ever send) is short and bounded and never waits for
// the network. Between transactions the feed keeps the database open (a
// spool::Reader, whose policy is described in spool/reader.h) instead of
// reopening it for each: with an Ack per request, the opens were a quarter
// of the uploader's CPU (docs/BENCHMARKS.md). It lets go as soon as another
// process waits (checked before each transaction and every
// Reader::kIdlePoll while idle: a tracker or a reader waits at most one
// transaction and one poll), and once idle for 50 ms, so a slow or hanging
// server holds up no tracker (DESIGN.md "Upload policy"). While LevelDB
// compacts crowded level-0 tables in its background thread, an idle feed
// holds for up to 10 s, since closing would stop the work and the next open
// would start it over; it keeps the Acks back meanwhile (up to a second,
// kMaxAckDelay, or kMaxDeferredAcks keys), since a write may have to wait
// for the compaction. A foreground compaction, which a Peek without Hold
// does, keeps writers out just as long.
//
// Acks wake the feed: it applies them in a transaction of their own (with a
// Peek if one is due anyway) while the caller posts the next request, also
// between two bodies it builds (building ten bodies takes as long as
// several requests on a fast network), and at once with FlushAcks() (before
// any wait) and Stop() (at the end of a run). Next() hands out no request
// while more than kMaxUnappliedAcks requests' Acks are not yet applied:
// without that bound the Acks lagged 3-7 requests behind a loopback
// collector on a loaded machine, and a kill resent them all. A crash loses
// only the unapplied Acks and the request in flight, and those events are
// resent with the same messageIds, which Segment deduplicates.
//
// A prepared request's body is built and stamped with `sentAt` when prepared;
// the caller rebuilds it if it waited longer than kMaxPreparedAge, so the
// stamp is never older than that when the request leaves.
//
// Thread-safe: Next(), Ack(), FlushAcks() and Stop() may be called from one
// consumer thread while the feed thread runs. What the two threads share is
// GUARDED_BY(mu_), checked by Clang's -Wthread-safety (the `clang` preset);
// the rest is the feed thread's own.

#ifndef ZENML_UPLOADER_REQUEST_FEED_H_
#define ZENML_UPLOADER_REQUEST_FEED_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/result.h"
#include "spool/reader.h"
#include "spool/spool.h"
#include "uploader/batch_builder.h"

namespace zenml::uploader {

// How old a prepared body may be when it is sent; older ones are rebuilt with
// a fresh sentAt.
inline constexpr std::chrono::seconds kMaxPreparedAge{1};

// One request, ready to send.
struct PreparedRequest {
  std::vector<spool::Entry> entries;  // its messages, in key order
  std::string body;                   // as built: gzip'd if options.gzip
  core::MonoTime built_at;            // when body was built (and stamped)
};

struct RequestFeedOptions {
  std::string write_key;  // as it goes into the body (masked for a dry run)
  size_t max_request_bytes = kMaxRequestBytes;
  size_t max_batch_messages = kMaxBatchMessages;
  size_t max_message_bytes = kMaxMessageBytes;
  bool gzip = true;
  int gzip_level = 1;
  // Requests read per spool transaction (one Peek).
  size_t requests_per_peek = 10;
  // The feed reads the next set while fewer than this many requests are
  // ready (so up to max_ready + requests_per_peek - 1 are), and waits,
  // spool released, otherwise.
  size_t max_ready = 10;
  // Dry run: no Hold, no Ack, no dead-lettering; oversized messages are only
  // counted.
  bool dry_run = false;
};

class RequestFeed {
 public:
  // Starts the feed thread. `spool` and `clock` must outlive the feed.
  RequestFeed(spool::Spool& spool, const core::Clock& clock,
              RequestFeedOptions options);
  // Stop(), ignoring its status.
  ~RequestFeed();
  RequestFeed(const RequestFeed&) = delete;
  RequestFeed& operator=(const RequestFeed&) = delete;

  // The next request, in spool order; nullopt when a Peek started after
  // every earlier request was handed out found nothing more (so events
  // appended while those were being sent go in the same run). Blocks while
  // the feed works. Fails with the spool's error if a feed transaction
  // failed (the feed stops).
  core::Result<std::optional<PreparedRequest>> Next() EXCLUDES(mu_);

  // Queues `keys` (sent and acknowledged) for deletion with the feed's next
  // transaction.
  void Ack(std::vector<std::string> keys) EXCLUDES(mu_);

  // Deletes every queued key now; returns when they are deleted.
  core::Status FlushAcks() EXCLUDES(mu_);

  // Stops reading, deletes the queued keys and joins the thread. Idempotent;
  // Next() returns nullopt afterwards.
  core::Status Stop() EXCLUDES(mu_);

  // Messages larger than any request may carry, dead-lettered (counted only,
  // in a dry run) by the feed so far.
  uint64_t dead_lettered() const EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);
  // The feed thread's reasons to wake: a read is wanted (fewer than
  // max_ready requests ready, more may exist); queued Acks are due (at once,
  // except while holding for a level-0 compaction: see Loop()); a flush or
  // the stop was asked for. NextReady(): Next() may go on.
  bool NextReady() const REQUIRES(mu_);
  bool WantsRead() const REQUIRES(mu_);
  bool AcksDue() const REQUIRES(mu_);
  bool HasWork() const REQUIRES(mu_);
  // One transaction: Ack `acks`, then (if `read`) Peek the next set into
  // `out` (the messages to send; oversized ones dead-lettered). Runs without
  // mu_, so consumers never wait for the spool.
  // *at_head: the Peek reached the spool's head (it stopped there, not at
  // its limits).
  core::Status Transaction(const std::vector<std::string>& acks, bool read,
                           std::vector<spool::Entry>* out, bool* exhausted,
                           bool* at_head, uint64_t* dead) EXCLUDES(mu_);
  // A transaction of Acks alone, between two bodies.
  core::Status AckNow(const std::vector<std::string>& acks) EXCLUDES(mu_);
  // Builds the next request from entries[*begin...] and advances *begin.
  core::Status PrepareOne(std::vector<spool::Entry>& entries, size_t* begin,
                          PreparedRequest* out) EXCLUDES(mu_);
  // Acks kept back while LevelDB compacts level 0, at most (then they go,
  // and wait for the compaction): a second, or 200 requests' worth (a few
  // MB of keys).
  static constexpr size_t kMaxDeferredAcks = 100'000;
  static constexpr std::chrono::seconds kMaxAckDelay{1};
  // Next() hands out no request while more than this many Ack() calls (a
  // request's keys each) are not yet applied, so a kill resends at most
  // this many requests plus the one in flight. Measured (50 SIGKILLs in a
  // 60,000-event drain, loopback collector, 2 cores at load 8-15; kills at
  // random 0-60 ms after a run's first request): 1 gave 0.84-0.92
  // requests' worth per kill, 2 gave 1.2-1.5, 3 gave 1.4-1.7; unbounded
  // (the Acks between bodies alone) gave 3.2-7.4. With kills spread over a
  // run's first 1-3 requests (the soak test since): 2 gives 1.6-2.1, 3
  // gave 2.3-2.4. The bound costs drain speed: upload_bench, 100,000
  // events, --fill-held, against the build before it in the same minutes:
  // 46,000-48,000 events/s against 57,000-65,000, the same with 2 as with
  // 3, while the Acks between bodies alone kept 64,000-71,000. Applying the
  // Acks unsynced, or from Next()'s own thread, did not win it back: the
  // cost was the Ack on the critical path (an open of the database per
  // transaction), not its fsync. Since the feed keeps the database open
  // between transactions: 1.39-1.55 requests' worth per kill (5 runs), and
  // the drain faster than before the bound (docs/BENCHMARKS.md); a bound
  // of 1,000 drains no faster (100,000 events, alternated, 2026-12-01).
  static constexpr uint64_t kMaxUnappliedAcks = 2;
  // A run reads up to the spool's head at most this many times: it sends
  // what was pending and what is tracked while it sends, but ends while
  // trackers write faster than it sends (8 processes each flushing every
  // event kept a run sending a few events per request until --max-time,
  // exit 75). A drain of a backlog reaches the head twice (the last partial
  // read, then the empty one) and once more for what came meanwhile.
  static constexpr int kMaxHeadReads = 4;

  spool::Spool& spool_;
  const core::Clock& clock_;
  const RequestFeedOptions options_;
  BatchBuilder builder_;  // feed thread only
  // Feed thread only: the hold kept from one transaction to the next and
  // the key of the last entry read (spool/reader.h).
  spool::Reader reader_;

  mutable core::Mutex mu_;
  core::CondVar work_cv_;  // the feed thread waits on it
  core::CondVar done_cv_;  // consumers wait on it
  std::deque<PreparedRequest> ready_ GUARDED_BY(mu_);
  // Queued, not yet in a transaction; acks_since_: when the oldest came.
  std::vector<std::string> acks_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point acks_since_ GUARDED_BY(mu_);
  uint64_t acks_queued_ GUARDED_BY(mu_) = 0;   // Ack() calls so far
  uint64_t acks_applied_ GUARDED_BY(mu_) = 0;  // of which applied (deleted)
  uint64_t flush_wanted_ GUARDED_BY(mu_) = 0;  // FlushAcks() requests so far
  uint64_t flushed_ GUARDED_BY(mu_) = 0;    // of which done (all acks before)
  bool exhausted_ GUARDED_BY(mu_) = false;  // the last Peek found nothing
  int head_reads_ GUARDED_BY(mu_) = 0;      // Peeks that reached the head
  // Next() wants a Peek started after it; confirmed_empty_: that Peek found
  // nothing (the end of the run).
  bool confirming_ GUARDED_BY(mu_) = false;
  bool confirmed_empty_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  core::Status error_ GUARDED_BY(mu_);
  uint64_t dead_lettered_ GUARDED_BY(mu_) = 0;
  // Started last, in the constructor; joined by Stop() (consumer thread).
  std::thread thread_;
};

}  // namespace zenml::uploader

#endif  // ZENML_UPLOADER_REQUEST_FEED_H_
