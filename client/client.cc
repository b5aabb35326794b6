#include "client/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <exception>
#include <map>
#include <new>
#include <utility>

#include "client/message_queue.h"
#include "client/purge_request.h"
#include "core/backoff.h"
#include "core/config_dir.h"
#include "core/duration.h"
#include "core/global_config.h"
#include "core/message.h"
#include "core/mutex.h"
#include "core/thread_annotations.h"
#include "core/uuid.h"

namespace zenml::client {
namespace {

using namespace std::chrono_literals;

// A failed Append is retried after 50 ms, doubling up to 5 s: quick enough
// for a transient error (a full disk being cleaned), slow enough not to spin.
constexpr std::chrono::milliseconds kFirstRetryDelay{50};
constexpr std::chrono::milliseconds kMaxRetryDelay{5000};

// Each queue slot's buffer: room for a typical message (~540 bytes for a
// pipeline run with its context, bench/client_bench.cc) and some; a longer
// one grows its slot once. ClientOptions::queue_capacity gives the memory.
constexpr size_t kSlotBytes = 640;

// How long the writer sleeps with nothing to do and the spool closed; any
// Track() or the destructor wakes it earlier.
constexpr std::chrono::hours kIdleWait{1};

// With nothing to do and the spool still held (idle_close_delay), the writer
// looks this often whether another process waits for it (SpoolHold::
// YieldIdle), so a reader or a tracker waits at most this long, not
// idle_close_delay.
constexpr std::chrono::milliseconds kIdleTurnPoll{10};

// Runs `body`, turning any exception into a Status: nothing may escape into
// the host program (DESIGN.md promise 1).
template <typename F>
Status NoThrow(F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while tracking an event");
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("unexpected exception: {}", e.what()));
  } catch (...) {
    return Status::Internal("unexpected exception");
  }
}

// Drops that a Client could not record before it ended (its writes kept
// failing to the end), by spool dir: the next Client of this process on the
// same spool records them with its first write. Another process never
// learns of them: on a disk that stays full nothing can carry them there.
struct DropRegistry {
  core::Mutex mu;
  std::map<std::string, spool::WriterDrops> by_dir GUARDED_BY(mu);
};
DropRegistry& ProcessDrops() {
  static auto* registry = new DropRegistry();  // never destroyed
  return *registry;
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {
  if (options_.environment == nullptr) {
    options_.environment = &core::ProcessEnvironment();
  }
  if (options_.clock == nullptr) options_.clock = &core::RealClock();
  options_.max_batch_count = std::max<size_t>(options_.max_batch_count, 1);

  init_status_ = NoThrow([&]() -> Status {
    if (options_.config_dir.empty()) {
      auto dir = core::ResolveConfigDir(*options_.environment);
      if (!dir.ok()) return dir.status();
      config_dir_ = *dir;
    } else {
      config_dir_ = options_.config_dir;
    }
    // config.yaml, if consent needs it, is read once: StartOnce takes the
    // anonymous id from the same parse.
    consent_ = core::DecideConsent(
        config_dir_, *options_.environment,
        [this]() -> core::Result<core::GlobalConfig> {
          config_.emplace(core::GlobalConfig::Load(config_dir_));
          return *config_;
        });
    if (!consent_.allowed) return Status::OK();  // build nothing else
    {
      core::MutexLock lock(&consent_mu_);  // no other thread yet
      consent_watcher_.emplace(config_dir_, *options_.environment,
                               *options_.clock);
    }

    context_ = core::DetectContext(options_.zenml_version);
    // A synchronous Client holds a few events at most: no slot buffers.
    queue_ = std::make_unique<MessageQueue>(
        options_.queue_capacity, options_.synchronous ? 0 : kSlotBytes);
    if (options_.spool.dir.empty()) {
      options_.spool.dir = core::AnalyticsDir(config_dir_);
    }
    spool_ = std::make_unique<spool::Spool>(options_.spool);  // touches nothing
    return Status::OK();
  });
  if (!init_status_.ok()) consent_.detail = init_status_.ToString();
}

Client::~Client() {
  if (!started_.load(std::memory_order_acquire)) return;
  // A synchronous Client has no writer: every Track() returned with its
  // event finished, so there is nothing to flush or stop.
  if (writer_.joinable()) StopWriter();
  (void)NoThrow([&]() -> Status {
    const spool::WriterDrops left = UnrecordedDrops();
    if (left.empty()) return Status::OK();
    DropRegistry& r = ProcessDrops();
    core::MutexLock lock(&r.mu);
    spool::WriterDrops& d = r.by_dir[options_.spool.dir.string()];
    d.queue_full += left.queue_full;
    d.disk_full += left.disk_full;
    return Status::OK();
  });
  MaybeUploadAtExit();
}

spool::WriterDrops Client::UnrecordedDrops() const {
  spool::WriterDrops d;
  d.queue_full = unrecorded_queue_full_.load(std::memory_order_relaxed);
  d.disk_full = unrecorded_disk_full_.load(std::memory_order_relaxed);
  return d;
}

void Client::ForgetDrops(const spool::WriterDrops& recorded) {
  unrecorded_queue_full_.fetch_sub(recorded.queue_full,
                                   std::memory_order_relaxed);
  unrecorded_disk_full_.fetch_sub(recorded.disk_full,
                                  std::memory_order_relaxed);
}

void Client::StopWriter() {
  (void)Flush(options_.flush_on_exit_timeout);

  {
    core::MutexLock lock(&control_mu_);
    stop_ = true;
  }
  stop_requested_.store(true, std::memory_order_release);
  control_cv_.SignalAll();
  queue_->Wake();

  // Whatever still waits in the queue goes to the inbox now, without waiting
  // for a drain that may be stuck on another process's lock. A separate
  // Spool object, so this write is not serialized behind the writer's call.
  (void)NoThrow([&]() -> Status {
    MessageBatch rest;
    queue_->TakeAll(&rest);
    if (!rest.empty()) {
      spool::Spool exit_spool(options_.spool);
      WriteToInbox(exit_spool, rest);
    }
    return Status::OK();
  });
  writer_.join();
}

void Client::MaybeUploadAtExit() {
  // Best effort: an upload that cannot start now is tried at the next exit.
  if (options_.auto_upload) {
    (void)NoThrow([&]() -> Status {
      AutoUploadOptions o = options_.auto_upload_options;
      o.config_dir = config_dir_;
      o.consent =
          consent_.allowed && !opted_out_.load(std::memory_order_acquire);
      o.environment = options_.environment;
      o.clock = options_.clock;
      // The check ingests inbox files, which applies the spool's bounds:
      // they must be ours, not the defaults.
      o.spool = options_.spool;
      return MaybeStartUpload(o).status();
    });
  }
}

Status Client::Track(core::Event event, const core::Value& properties,
                     std::string* message_id) {
  return Track(core::EventName(event), properties, message_id);
}

Status Client::Track(std::string_view event, const core::Value& properties,
                     std::string* message_id) {
  return NoThrow([&]() -> Status {
    if (!init_status_.ok()) return init_status_;
    if (!consent_.allowed) return Status::OK();
    // The writer saw an opt-out: nothing is queued any more.
    if (opted_out_.load(std::memory_order_acquire)) return Status::OK();
    std::call_once(start_once_, [this] { StartOnce(); });
    if (!start_status_.ok()) return start_status_;
    return EncodeAndQueue(event, properties, message_id);
  });
}

void Client::StartOnce() {
  // Inside call_once: if anything here throws, the next Track() tries again.
  // The id from the config.yaml consent was decided on, if it holds a valid
  // one; else (not read, absent, invalid) EnsureAnonymousId creates it or
  // reports why it cannot.
  std::optional<std::string> known;
  if (config_.has_value() && config_->ok()) {
    auto id = (*config_)->user_id();
    if (id.ok() && id->has_value() && core::IsUuid(**id)) known = **id;
  }
  config_.reset();
  {
    // What an earlier Client on this spool could not record is ours to.
    DropRegistry& r = ProcessDrops();
    core::MutexLock lock(&r.mu);
    auto it = r.by_dir.find(options_.spool.dir.string());
    if (it != r.by_dir.end()) {
      unrecorded_queue_full_.fetch_add(it->second.queue_full,
                                       std::memory_order_relaxed);
      unrecorded_disk_full_.fetch_add(it->second.disk_full,
                                      std::memory_order_relaxed);
      r.by_dir.erase(it);
    }
  }
  if (known.has_value()) {
    anonymous_id_ = std::move(*known);
  } else {
    auto id = core::EnsureAnonymousId(config_dir_);
    if (!id.ok()) {
      start_status_ = id.status();
      return;
    }
    anonymous_id_ = std::move(id).value();
  }
  // Serializes the constant part of every message once (message.h).
  auto encoder = core::TrackEncoder::Create(anonymous_id_, context_);
  if (encoder.ok()) {
    encoder_.emplace(std::move(encoder).value());
  } else {
    encoder_status_ = encoder.status();  // each Track() reports it
  }
  // Synchronous callers write themselves (WriteOrWait): no thread.
  if (!options_.synchronous) writer_ = std::thread([this] { WriterLoop(); });
  started_.store(true, std::memory_order_release);
}

Status Client::EncodeAndQueue(std::string_view event,
                              const core::Value& properties,
                              std::string* message_id) {
  if (!encoder_.has_value()) {
    rejected_invalid_.fetch_add(1, std::memory_order_relaxed);
    return encoder_status_;
  }
  const std::array<char, core::kUuidLength> id = core::NewUuid4Chars();
  // Serialized into this thread's buffer, then copied into a queue slot
  // that already has the room: no allocation once warm (message_queue.h).
  thread_local std::string json;
  Status encoded =
      encoder_->EncodeTo(event, properties, options_.clock->Now(),
                         std::string_view(id.data(), id.size()), &json);
  if (!encoded.ok()) {
    rejected_invalid_.fetch_add(1, std::memory_order_relaxed);
    return encoded;
  }

  Completion completion;
  Status pushed =
      queue_->Push(json, options_.synchronous ? &completion : nullptr);
  // One huge event must not pin its memory in this thread.
  if (json.capacity() > MessageQueue::kMaxKeptSlotBytes) {
    std::string().swap(json);
  }
  if (!pushed.ok()) {
    dropped_queue_full_.fetch_add(1, std::memory_order_relaxed);
    // Recorded in the spool with the next write: as lost to the disk when
    // the queue is full because writes are failing.
    if (writes_failing_.load(std::memory_order_relaxed)) {
      unrecorded_disk_full_.fetch_add(1, std::memory_order_relaxed);
    } else {
      unrecorded_queue_full_.fetch_add(1, std::memory_order_relaxed);
    }
    return pushed;
  }
  if (message_id != nullptr) message_id->assign(id.data(), id.size());
  if (!options_.synchronous) return Status::OK();
  WriteOrWait(completion);
  return completion.status;
}

void Client::WriteOrWait(Completion& completion) {
  done_mu_.Lock();
  while (!completion.done) {
    if (leader_active_) {
      // The leader finishes us, or steps down and wakes us to take over.
      done_cv_.Wait(&done_mu_);
      continue;
    }
    leader_active_ = true;
    done_mu_.Unlock();
    DrainInline();  // never throws
    done_mu_.Lock();
    leader_active_ = false;
    // A caller that queued after the leader's last look waits for this.
    done_cv_.SignalAll();
  }
  done_mu_.Unlock();
}

void Client::DrainInline() {
  MessageBatch work;
  spool::SpoolHold hold(*spool_, spool::Role::kWriter);  // released at return
  Status s = NoThrow([&]() -> Status {
    while (queue_->PopBatch(&work, options_.max_batch_count,
                            options_.max_batch_bytes,
                            std::chrono::nanoseconds(0)) > 0) {
      // Each waiting caller gets the error and decides; nothing is kept.
      Status status = WriteOnce(work, hold);
      if (!status.ok()) Finish(work, status);
    }
    return Status::OK();
  });
  if (!s.ok()) {
    // Only allocation failure is plausible: whoever was taken out of the
    // queue gets the error rather than waiting for ever.
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    Finish(work, s);
  }
}

Status Client::WriteOnce(MessageBatch& work, spool::SpoolHold& hold) {
  Status status;
  bool to_inbox = false;
  // Consent is checked as late as possible: after Hold() (which may wait
  // lock_wait for another process), right before the write, so an opt-out
  // that returned is seen by the very next write.
  auto opted_out = [&] {
    if (StillConsented()) return false;
    DropOptedOut(work);
    // Give the database back at once: `opt-out` may be waiting to purge it.
    // A purge it left pending is ours to carry out first.
    if (!options_.inbox_only) {
      (void)HonourPurgeRequest(*spool_, options_.spool.dir);
    }
    hold.Release();
    return true;
  };
  hold.YieldToReader();  // fair turns: spool.h Hold
  if (options_.inbox_only) {
    if (opted_out()) return Status::OK();
    status = spool_->AppendToInbox(work.jsons());
    to_inbox = true;
  } else if (!hold.held()) {
    Status held = hold.Acquire();
    if (held.code() == Status::Code::kBusy) {
      // Another process kept the database past lock_wait already; waiting
      // a second time in Append would only double the delay.
      if (opted_out()) return Status::OK();
      status = spool_->AppendToInbox(work.jsons());
      to_inbox = true;
    }
    // Other Hold errors: let Append try on its own and report.
  }
  if (!to_inbox) {
    if (opted_out()) return Status::OK();
    // `opt-out` found the database busy and left a purge for us: it goes
    // before anything we write (a failure is a write error: retried).
    status = HonourPurgeRequest(*spool_, options_.spool.dir);
  }
  if (!to_inbox && status.ok()) {
    // The drops not yet recorded ride along (recorded only if this lands
    // in the database).
    const spool::WriterDrops drops = UnrecordedDrops();
    auto appended = spool_->Append(work.jsons(), drops);
    status = appended.status();
    to_inbox = appended.ok() && *appended == spool::AppendTarget::kInbox;
    if (appended.ok() && !to_inbox) ForgetDrops(drops);
  }

  const size_t n = work.size();
  if (status.ok()) {
    writes_failing_.store(false, std::memory_order_relaxed);
    written_.fetch_add(n, std::memory_order_relaxed);
    if (to_inbox) written_to_inbox_.fetch_add(n, std::memory_order_relaxed);
    Finish(work, status);
    return status;
  }
  writes_failing_.store(true, std::memory_order_relaxed);
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  {
    core::MutexLock lock(&done_mu_);
    last_write_error_ = status;
  }
  hold.Release();  // the handle may be what is broken
  return status;
}

Status Client::Flush(std::chrono::milliseconds timeout) {
  return NoThrow([&]() -> Status {
    if (!started_.load(std::memory_order_acquire)) return Status::OK();
    const uint64_t target = queue_->accepted();
    {
      core::MutexLock lock(&control_mu_);
      urgent_ = true;  // a write waiting for its retry goes now
    }
    control_cv_.SignalAll();

    const auto deadline = core::SaturatingDeadline<std::chrono::steady_clock>(
        std::chrono::steady_clock::now(), timeout);
    core::MutexLock lock(&done_mu_);
    while (finished_ < target) {
      if (!done_cv_.WaitUntil(&done_mu_, deadline)) break;
    }
    if (finished_ >= target) return Status::OK();
    std::string why;
    if (writes_failing_.load(std::memory_order_relaxed)) {
      why = fmt::format(
          "; writes are failing (kept and retried; the disk may be full): {}",
          last_write_error_);
    } else if (!last_write_error_.ok()) {
      why = fmt::format("; last write error: {}", last_write_error_);
    }
    return Status::DeadlineExceeded(
        fmt::format("{} analytics events are not durable yet after {} ms{}",
                    target - finished_, timeout.count(), why));
  });
}

ClientStats Client::stats() const {
  ClientStats s;
  if (queue_ != nullptr) {
    s.accepted = queue_->accepted();
    s.queued = queue_->size();
  }
  s.dropped_queue_full = dropped_queue_full_.load(std::memory_order_relaxed);
  s.rejected_invalid = rejected_invalid_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.written = written_.load(std::memory_order_relaxed);
  s.written_to_inbox = written_to_inbox_.load(std::memory_order_relaxed);
  s.dropped_opted_out = dropped_opted_out_.load(std::memory_order_relaxed);
  s.dropped_disk_full = dropped_disk_full_.load(std::memory_order_relaxed);
  if (queue_ != nullptr) s.queue_prepared = queue_->prepared();
  const spool::WriterDrops unrecorded = UnrecordedDrops();
  s.unrecorded_drops = unrecorded.queue_full + unrecorded.disk_full;
  return s;
}

void Client::Finish(MessageBatch& batch, const Status& status) {
  {
    core::MutexLock lock(&done_mu_);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch.completion(i) != nullptr) {
        batch.completion(i)->status = status;
        batch.completion(i)->done = true;
      }
    }
    finished_ += batch.size();
  }
  done_cv_.SignalAll();
  batch.Clear();
}

bool Client::StillConsented() {
  if (opted_out_.load(std::memory_order_acquire)) return false;
  core::MutexLock lock(&consent_mu_);
  if (!consent_watcher_.has_value() || consent_watcher_->Allowed()) return true;
  opted_out_.store(true, std::memory_order_release);
  return false;
}

void Client::DropOptedOut(MessageBatch& batch) {
  queue_->TakeAll(&batch);
  dropped_opted_out_.fetch_add(batch.size(), std::memory_order_relaxed);
  // Not an error for a synchronous caller: consent withheld is OK (Track()).
  Finish(batch, Status::OK());
}

void Client::WriteToInbox(spool::Spool& spool, MessageBatch& batch) {
  if (!StillConsented()) {
    DropOptedOut(batch);
    return;
  }
  const size_t n = batch.size();
  Status s = spool.AppendToInbox(batch.jsons());
  if (s.ok()) {
    written_.fetch_add(n, std::memory_order_relaxed);
    written_to_inbox_.fetch_add(n, std::memory_order_relaxed);
  } else {
    // Nowhere left to put them (a full disk): lost, counted, and recorded
    // in the spool with the next write that succeeds (ours, or the next
    // Client's in this process); the error is kept for Flush().
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    dropped_disk_full_.fetch_add(n, std::memory_order_relaxed);
    unrecorded_disk_full_.fetch_add(n, std::memory_order_relaxed);
    core::MutexLock lock(&done_mu_);
    last_write_error_ = s;
  }
  Finish(batch, s);
}

void Client::WriterLoop() {
  MessageBatch work;  // oldest first; a batch whose write failed stays
  spool::SpoolHold hold(*spool_, spool::Role::kWriter);
  // Failed writes retry after 50 ms doubling to 5 s, no jitter
  // (core/backoff.h).
  core::Backoff retry({kFirstRetryDelay, kMaxRetryDelay, /*jitter=*/0.0});
  // The queue's slots are faulted in here, not on the callers' threads: a
  // chunk whenever there is nothing to write, until all are.
  bool preparing = true;
  std::chrono::milliseconds next_retry = kFirstRetryDelay;
  // Holding with nothing to do, the writer lets go at this time.
  std::chrono::steady_clock::time_point idle_close_at;

  auto take = [&](std::chrono::nanoseconds timeout) {
    size_t count = work.size();
    if (count >= options_.max_batch_count) return;
    size_t room_bytes = options_.max_batch_bytes > work.bytes()
                            ? options_.max_batch_bytes - work.bytes()
                            : 1;  // PopBatch still takes one if none is held
    queue_->PopBatch(&work, options_.max_batch_count - count, room_bytes,
                     timeout);
  };

  for (;;) {
    // Nothing may escape this thread: an exception would terminate the host.
    try {
      if (!work.empty()) {
        // The last write failed: wait for its retry time (or a Flush, or stop).
        const auto deadline = std::chrono::steady_clock::now() + next_retry;
        core::MutexLock lock(&control_mu_);
        while (!stop_ && !urgent_) {
          if (!control_cv_.WaitUntil(&control_mu_, deadline)) break;
        }
        urgent_ = false;
        if (stop_) break;
      } else {
        std::chrono::nanoseconds timeout = kIdleWait;
        if (hold.held()) {
          timeout = std::clamp<std::chrono::nanoseconds>(
              idle_close_at - std::chrono::steady_clock::now(), 0ns,
              kIdleTurnPoll);
        }
        bool polled = false;
        if (stop_requested_.load(std::memory_order_acquire)) {
          timeout = 0ns;
        } else if (preparing) {
          preparing = queue_->PrepareChunk();
          if (preparing) {
            timeout = 0ns;  // look for work, then prepare on
            polled = true;
          }
        }
        take(timeout);
        if (work.empty() && polled) continue;  // not idle yet: preparing
        if (work.empty()) {
          const bool stopping = stop_requested_.load(std::memory_order_acquire);
          // Idle: keep the database until idle_close_delay, unless another
          // process waits for it; then give it back.
          if (!stopping && hold.held() &&
              std::chrono::steady_clock::now() < idle_close_at &&
              !hold.YieldIdle()) {
            continue;
          }
          hold.Release();
          if (stopping) break;
          continue;
        }
      }
      // Group commit: whatever else arrived meanwhile rides along.
      take(0ns);

      Status status = WriteOnce(work, hold);
      idle_close_at =
          std::chrono::steady_clock::now() + options_.idle_close_delay;
      if (status.ok()) {
        retry.Reset();
      } else {
        // Kept, and retried with backoff; the queue fills meanwhile, and
        // what overflows it is counted as lost to the failing disk.
        next_retry =
            std::chrono::duration_cast<std::chrono::milliseconds>(retry.Next());
      }
    } catch (...) {
      // Only allocation failure is plausible here. Count it, keep the work
      // (it is retried), and pause so a starved process is not spun on.
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      try {
        core::MutexLock lock(&done_mu_);
        last_write_error_ = Status::Internal("writer: unexpected exception");
      } catch (...) {
      }
      const auto deadline = std::chrono::steady_clock::now() + kFirstRetryDelay;
      core::MutexLock lock(&control_mu_);
      while (!stop_) {
        if (!control_cv_.WaitUntil(&control_mu_, deadline)) break;
      }
      if (stop_) break;
    }
  }

  (void)NoThrow([&]() -> Status {
    if (hold.held()) {
      // Drops counted since the last write are recorded now, while the
      // database is ours anyway (no wait for its lock).
      spool::WriterDrops drops = UnrecordedDrops();
      if (work.empty() && !drops.empty()) {
        auto appended = spool_->Append({}, drops);
        if (appended.ok() && *appended == spool::AppendTarget::kDatabase) {
          ForgetDrops(drops);
        }
      }
      hold.Release();
    }
    // Stopping: what is still not durable (a batch waiting for its retry,
    // and anything queued since) goes to the inbox.
    queue_->TakeAll(&work);
    if (!work.empty()) WriteToInbox(*spool_, work);
    return Status::OK();
  });
}

}  // namespace zenml::client
