#include "uploader/request_feed.h"

#include <iterator>
#include <span>
#include <string_view>
#include <utility>

#include "core/timestamp.h"
#include "uploader/gzip.h"

namespace zenml::uploader {

RequestFeed::RequestFeed(spool::Spool& spool, const core::Clock& clock,
                         RequestFeedOptions options)
    : spool_(spool),
      clock_(clock),
      options_(std::move(options)),
      builder_(options_.write_key, options_.max_request_bytes,
               options_.max_batch_messages),
      // A dry run holds nothing: it must not keep trackers out.
      reader_(spool,
              spool::ReaderPolicy{.ingest = true, .hold = !options_.dry_run}),
      thread_([this] { Loop(); }) {}

RequestFeed::~RequestFeed() { static_cast<void>(Stop()); }

core::Result<std::optional<PreparedRequest>> RequestFeed::Next() {
  core::MutexLock lock(&mu_);
  for (;;) {
    // At most kMaxUnappliedAcks requests acknowledged by the server and
    // not yet deleted while the next one goes out: a kill then resends at
    // most those and the one in flight.
    while (!NextReady()) done_cv_.Wait(&mu_);
    if (!error_.ok()) return error_;
    if (stopping_) return std::optional<PreparedRequest>();
    if (!ready_.empty()) {
      PreparedRequest next = std::move(ready_.front());
      ready_.pop_front();
      work_cv_.Signal();
      return std::optional<PreparedRequest>(std::move(next));
    }
    if (confirmed_empty_) return std::optional<PreparedRequest>();
    // The empty Peek ran ahead, while earlier requests were still being
    // sent: events appended since then belong in this run too. One more
    // Peek, started now (with the queued Acks), decides.
    exhausted_ = false;
    confirming_ = true;
    work_cv_.Signal();
  }
}

void RequestFeed::Ack(std::vector<std::string> keys) {
  {
    core::MutexLock lock(&mu_);
    ++acks_queued_;
    if (acks_.empty()) {
      acks_ = std::move(keys);
      acks_since_ = std::chrono::steady_clock::now();
    } else {
      acks_.insert(acks_.end(), std::make_move_iterator(keys.begin()),
                   std::make_move_iterator(keys.end()));
    }
  }
  // Applied by the feed thread now (while this thread posts the next
  // request), not with the next Peek ten requests later: a process killed
  // again and again must still make progress, and a kill should resend no
  // more than about two requests.
  work_cv_.Signal();
}

core::Status RequestFeed::FlushAcks() {
  core::MutexLock lock(&mu_);
  if (!thread_.joinable()) return error_;  // stopped: nothing is queued
  const uint64_t ticket = ++flush_wanted_;
  work_cv_.Signal();
  while (flushed_ < ticket) done_cv_.Wait(&mu_);
  return error_;
}

core::Status RequestFeed::Stop() {
  {
    core::MutexLock lock(&mu_);
    stopping_ = true;
  }
  work_cv_.Signal();
  if (thread_.joinable()) thread_.join();
  core::MutexLock lock(&mu_);
  done_cv_.SignalAll();
  return error_;
}

uint64_t RequestFeed::dead_lettered() const {
  core::MutexLock lock(&mu_);
  return dead_lettered_;
}

bool RequestFeed::NextReady() const {
  if (!error_.ok() || stopping_) return true;
  if (ready_.empty() && !exhausted_) return false;
  return acks_queued_ - acks_applied_ <= kMaxUnappliedAcks;
}

bool RequestFeed::WantsRead() const {
  return !stopping_ && !exhausted_ && error_.ok() &&
         ready_.size() < options_.max_ready;
}

// Acks are due at once, except while LevelDB compacts level 0 under the
// feed's hold (see Loop()): then once more than kMaxUnappliedAcks requests'
// Acks wait (Next() hands out nothing more until they are applied), after
// kMaxAckDelay, or once kMaxDeferredAcks keys are waiting.
bool RequestFeed::AcksDue() const {
  if (acks_.empty()) return false;
  if (!reader_.compacting()) return true;
  return acks_queued_ - acks_applied_ > kMaxUnappliedAcks ||
         acks_.size() >= kMaxDeferredAcks ||
         std::chrono::steady_clock::now() - acks_since_ >= kMaxAckDelay;
}

bool RequestFeed::HasWork() const {
  return stopping_ || flush_wanted_ > flushed_ || WantsRead() || AcksDue();
}

void RequestFeed::Loop() {
  mu_.Lock();
  for (;;) {
    if (reader_.held()) {
      // Idle while holding: look again soon whether to let go.
      const auto poll =
          std::chrono::steady_clock::now() + spool::Reader::kIdlePoll;
      bool timed_out = false;
      while (!HasWork() && !timed_out) {
        timed_out = !work_cv_.WaitUntil(&mu_, poll);
      }
      if (!HasWork()) {
        mu_.Unlock();
        reader_.Idle();
        mu_.Lock();
        continue;
      }
    } else {
      while (!HasWork()) work_cv_.Wait(&mu_);
    }
    const bool read = WantsRead();
    // While LevelDB compacts level 0 (the only time the feed holds between
    // transactions), a write that finds the memtable full waits until the
    // compaction is done: Acks wait instead (up to kMaxDeferredAcks), so
    // reading and sending go on meanwhile.
    const bool defer_acks =
        !stopping_ && flush_wanted_ <= flushed_ && !AcksDue();
    if (!read && (acks_.empty() || defer_acks)) {
      flushed_ = flush_wanted_;
      done_cv_.SignalAll();
      if (stopping_) {
        mu_.Unlock();
        reader_.Release();
        return;
      }
      continue;
    }
    std::vector<std::string> acks;
    uint64_t acks_taken = acks_applied_;
    if (!defer_acks) {
      acks.swap(acks_);
      acks_taken = acks_queued_;
    }
    const uint64_t flush_target = flush_wanted_;
    const bool confirming = read && confirming_;
    mu_.Unlock();

    std::vector<spool::Entry> sendable;
    bool exhausted = false;
    bool at_head = false;
    uint64_t dead = 0;
    core::Status s =
        Transaction(acks, read, &sendable, &exhausted, &at_head, &dead);

    mu_.Lock();
    if (!s.ok() && error_.ok()) error_ = s;
    if (read) {
      exhausted_ = exhausted;
      confirmed_empty_ = exhausted && confirming;
      if (confirming || !exhausted) confirming_ = false;  // answered, or moot
      if (s.ok() && at_head && ++head_reads_ >= kMaxHeadReads) {
        // Caught up often enough: what this read found is the run's last;
        // events tracked from now on go with the next run.
        exhausted_ = true;
        confirmed_empty_ = true;
      }
    }
    dead_lettered_ += dead;
    acks_applied_ = acks_taken;
    flushed_ = flush_target;  // every Ack queued before it is applied
    done_cv_.SignalAll();

    // The bodies, one at a time, each handed out as soon as it is built;
    // between two, the Acks that came meanwhile are applied first (building
    // ten bodies takes as long as sending several requests on a fast
    // network, and Acks held back that long are what a kill resends).
    size_t begin = 0;
    while (s.ok() && begin < sendable.size() && error_.ok() && !stopping_) {
      mu_.Unlock();
      PreparedRequest request;
      core::Status p = PrepareOne(sendable, &begin, &request);
      mu_.Lock();
      if (!p.ok()) {
        if (error_.ok()) error_ = p;
        break;
      }
      ready_.push_back(std::move(request));
      done_cv_.SignalAll();
      if (!(AcksDue() || flush_wanted_ > flushed_) || acks_.empty()) {
        continue;
      }
      std::vector<std::string> more;
      more.swap(acks_);
      const uint64_t taken = acks_queued_;
      const uint64_t target = flush_wanted_;
      mu_.Unlock();
      core::Status a = AckNow(more);
      mu_.Lock();
      if (!a.ok() && error_.ok()) error_ = a;
      acks_applied_ = taken;
      flushed_ = target;
      done_cv_.SignalAll();
    }
  }
}

core::Status RequestFeed::AckNow(const std::vector<std::string>& acks) {
  (void)reader_.Begin();  // if it failed, the calls report
  core::Status s = spool_.Ack(acks);
  reader_.End();
  return s;
}

core::Status RequestFeed::Transaction(const std::vector<std::string>& acks,
                                      bool read, std::vector<spool::Entry>* out,
                                      bool* exhausted, bool* at_head,
                                      uint64_t* dead) {
  // The Acks, the Peek and the dead letters under one hold, kept while
  // the bodies are built and the next transactions follow (see Loop()).
  (void)reader_.Begin();  // if it failed, the calls report
  core::Status s;
  if (!acks.empty()) s = spool_.Ack(acks);
  std::vector<spool::Entry> sendable;
  if (s.ok() && read) {
    const size_t max_bytes =
        builder_.max_single_message() * options_.requests_per_peek;
    const size_t max_count =
        options_.max_batch_messages * options_.requests_per_peek;
    core::Result<std::vector<spool::Entry>> entries = reader_.Read(
        max_bytes, max_count, builder_.max_single_message(), at_head);
    if (!entries.ok()) {
      s = entries.status();
    } else if (entries->empty()) {
      *exhausted = true;
    } else {
      sendable.reserve(entries->size());
      for (spool::Entry& e : *entries) {
        if (e.json.size() <= options_.max_message_bytes &&
            e.json.size() <= builder_.max_single_message()) {
          sendable.push_back(std::move(e));
          continue;
        }
        // Segment would refuse the whole request for it: never send it.
        if (!options_.dry_run) {
          s = spool_.DeadLetter(e.key, 0,
                                "message of " + std::to_string(e.json.size()) +
                                    " bytes exceeds the " +
                                    std::to_string(options_.max_message_bytes) +
                                    "-byte limit; not sent");
          if (!s.ok()) break;
        }
        ++*dead;
      }
    }
  }
  reader_.End();
  if (s.ok()) *out = std::move(sendable);
  return s;
}

core::Status RequestFeed::PrepareOne(std::vector<spool::Entry>& entries,
                                     size_t* begin, PreparedRequest* out) {
  builder_.Clear();
  size_t end = *begin;
  while (end < entries.size() && builder_.Add(entries[end].json)) ++end;
  if (end == *begin) {  // cannot happen: oversized messages were set aside
    return core::Status::Internal("request feed: a message fits no request");
  }
  std::vector<std::string_view> messages;
  messages.reserve(end - *begin);
  for (size_t i = *begin; i < end; ++i) messages.push_back(entries[i].json);
  // The age first: read after the sentAt, it could be younger than the
  // sentAt it vouches for (the clock moving between the two reads), and a
  // stale sentAt would pass the sender's kMaxPreparedAge check.
  out->built_at = clock_.Monotonic();
  out->body = builder_.BuildFor(messages, core::FormatTimestamp(clock_.Now()));
  builder_.Clear();
  if (options_.gzip) {
    ZENML_TRY_ASSIGN(out->body, GzipCompress(out->body, options_.gzip_level));
  }
  // The body is built: the messages may move now.
  out->entries.assign(std::make_move_iterator(entries.begin() + *begin),
                      std::make_move_iterator(entries.begin() + end));
  *begin = end;
  return core::Status::OK();
}

}  // namespace zenml::uploader
