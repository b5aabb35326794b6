#include "client/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <exception>
#include <new>
#include <utility>

#include "client/message_queue.h"
#include "client/purge_request.h"
#include "core/config_dir.h"
#include "core/global_config.h"
#include "core/message.h"
#include "core/uuid.h"

namespace zenml::client {
namespace {

using namespace std::chrono_literals;

// A failed Append is retried after 50 ms, doubling up to 5 s: quick enough
// for a transient error (a full disk being cleaned), slow enough not to spin.
constexpr std::chrono::milliseconds kFirstRetryDelay{50};
constexpr std::chrono::milliseconds kMaxRetryDelay{5000};

// How long the writer sleeps with nothing to do and the spool closed; any
// Track() or the destructor wakes it earlier.
constexpr std::chrono::hours kIdleWait{1};

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
    consent_watcher_.emplace(config_dir_, *options_.environment,
                             *options_.clock);

    context_ = core::DetectContext(options_.zenml_version);
    queue_ = std::make_unique<MessageQueue>(options_.queue_capacity);
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
  MaybeUploadAtExit();
}

void Client::StopWriter() {
  (void)Flush(options_.flush_on_exit_timeout);

  {
    std::lock_guard<std::mutex> lock(control_mu_);
    stop_ = true;
  }
  stop_requested_.store(true, std::memory_order_release);
  control_cv_.notify_all();
  queue_->Wake();

  // Whatever still waits in the queue goes to the inbox now, without waiting
  // for a drain that may be stuck on another process's lock. A separate
  // Spool object, so this write is not serialized behind the writer's call.
  (void)NoThrow([&]() -> Status {
    Batch rest;
    for (auto& m : queue_->TakeAll()) rest.Add(m);
    if (!rest.jsons.empty()) {
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
  auto json = encoder_->Encode(event, properties, options_.clock->Now(),
                               std::string_view(id.data(), id.size()));
  if (!json.ok()) {
    rejected_invalid_.fetch_add(1, std::memory_order_relaxed);
    return json.status();
  }

  Completion completion;
  QueuedMessage message{std::move(json).value(),
                        options_.synchronous ? &completion : nullptr};
  Status pushed = queue_->Push(message);
  if (!pushed.ok()) {
    dropped_queue_full_.fetch_add(1, std::memory_order_relaxed);
    return pushed;
  }
  if (message_id != nullptr) message_id->assign(id.data(), id.size());
  if (!options_.synchronous) return Status::OK();
  WriteOrWait(completion);
  return completion.status;
}

void Client::WriteOrWait(Completion& completion) {
  std::unique_lock<std::mutex> lock(done_mu_);
  while (!completion.done) {
    if (leader_active_) {
      // The leader finishes us, or steps down and wakes us to take over.
      done_cv_.wait(lock);
      continue;
    }
    leader_active_ = true;
    lock.unlock();
    DrainInline();  // never throws
    lock.lock();
    leader_active_ = false;
    // A caller that queued after the leader's last look waits for this.
    done_cv_.notify_all();
  }
}

void Client::DrainInline() {
  Batch work;
  std::vector<QueuedMessage> incoming;
  bool holding = false;
  Status s = NoThrow([&]() -> Status {
    while (queue_->PopBatch(&incoming, options_.max_batch_count,
                            options_.max_batch_bytes,
                            std::chrono::nanoseconds(0)) > 0) {
      for (auto& m : incoming) work.Add(m);
      incoming.clear();
      Status status;
      bool to_inbox = false;
      // As in WriterLoop: consent is checked right before the write (after
      // Hold(), which may have waited for another process), and a purge that
      // `opt-out` left pending goes before anything this Client writes.
      auto opted_out = [&] {
        if (StillConsented()) return false;
        DropOptedOut(work);
        if (!options_.inbox_only) {
          (void)HonourPurgeRequest(*spool_, options_.spool.dir);
        }
        if (holding) {
          spool_->Release();
          holding = false;
        }
        return true;
      };
      if (holding && spool_->ReaderWaiting()) {  // fair turns: spool.h Hold
        spool_->Release();
        holding = false;
      }
      if (options_.inbox_only) {
        if (opted_out()) continue;
        status = spool_->AppendToInbox(work.jsons);
        to_inbox = true;
      } else if (!holding) {
        Status held = spool_->Hold(spool::Role::kWriter);
        if (held.ok()) {
          holding = true;
        } else if (held.code() == Status::Code::kBusy) {
          // Past lock_wait already: waiting again in Append would double it.
          if (opted_out()) continue;
          status = spool_->AppendToInbox(work.jsons);
          to_inbox = true;
        }
        // Other Hold errors: let Append try on its own and report.
      }
      if (!to_inbox && opted_out()) continue;
      if (!to_inbox) status = HonourPurgeRequest(*spool_, options_.spool.dir);
      if (!to_inbox && status.ok()) {
        auto appended = spool_->Append(work.jsons);
        status = appended.status();
        to_inbox = appended.ok() && *appended == spool::AppendTarget::kInbox;
      }
      const size_t n = work.jsons.size();
      if (status.ok()) {
        written_.fetch_add(n, std::memory_order_relaxed);
        if (to_inbox) written_to_inbox_.fetch_add(n, std::memory_order_relaxed);
      } else {
        // Each waiting caller gets the error and decides; nothing is kept.
        write_errors_.fetch_add(1, std::memory_order_relaxed);
        {
          std::lock_guard<std::mutex> lock(done_mu_);
          last_write_error_ = status;
        }
        if (holding) {
          spool_->Release();  // the handle may be what is broken
          holding = false;
        }
      }
      Finish(work, n, status);
    }
    return Status::OK();
  });
  if (holding)
    (void)NoThrow([&]() -> Status {
      spool_->Release();
      return Status::OK();
    });
  if (!s.ok()) {
    // Only allocation failure is plausible: whoever was taken out of the
    // queue gets the error rather than waiting for ever.
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    for (auto& m : incoming) work.Add(m);
    Finish(work, work.jsons.size(), s);
  }
}

Status Client::Flush(std::chrono::milliseconds timeout) {
  return NoThrow([&]() -> Status {
    if (!started_.load(std::memory_order_acquire)) return Status::OK();
    const uint64_t target = queue_->accepted();
    {
      std::lock_guard<std::mutex> lock(control_mu_);
      urgent_ = true;  // a write waiting for its retry goes now
    }
    control_cv_.notify_all();

    std::unique_lock<std::mutex> lock(done_mu_);
    if (done_cv_.wait_for(lock, timeout, [&] { return finished_ >= target; })) {
      return Status::OK();
    }
    std::string why;
    if (!last_write_error_.ok()) {
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
  return s;
}

void Client::Finish(Batch& batch, size_t count, const Status& status) {
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    for (size_t i = 0; i < count; ++i) {
      if (batch.completions[i] != nullptr) {
        batch.completions[i]->status = status;
        batch.completions[i]->done = true;
      }
    }
    finished_ += count;
  }
  done_cv_.notify_all();
  auto n = static_cast<ptrdiff_t>(count);
  batch.jsons.erase(batch.jsons.begin(), batch.jsons.begin() + n);
  batch.completions.erase(batch.completions.begin(),
                          batch.completions.begin() + n);
  batch.bytes = 0;
  for (const auto& j : batch.jsons) batch.bytes += j.size();
}

void Client::Batch::Add(QueuedMessage& m) {
  bytes += m.json.size();
  jsons.push_back(std::move(m.json));
  completions.push_back(m.completion);
}

bool Client::StillConsented() {
  if (opted_out_.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(consent_mu_);
  if (!consent_watcher_.has_value() || consent_watcher_->Allowed()) return true;
  opted_out_.store(true, std::memory_order_release);
  return false;
}

void Client::DropOptedOut(Batch& batch) {
  for (auto& m : queue_->TakeAll()) batch.Add(m);
  const size_t n = batch.jsons.size();
  dropped_opted_out_.fetch_add(n, std::memory_order_relaxed);
  // Not an error for a synchronous caller: consent withheld is OK (Track()).
  Finish(batch, n, Status::OK());
}

void Client::WriteToInbox(spool::Spool& spool, Batch& batch) {
  if (!StillConsented()) {
    DropOptedOut(batch);
    return;
  }
  const size_t n = batch.jsons.size();
  Status s = spool.AppendToInbox(batch.jsons);
  if (s.ok()) {
    written_.fetch_add(n, std::memory_order_relaxed);
    written_to_inbox_.fetch_add(n, std::memory_order_relaxed);
  } else {
    // Nowhere left to put them: counted, and the error kept for Flush().
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(done_mu_);
    last_write_error_ = s;
  }
  Finish(batch, n, s);
}

void Client::WriterLoop() {
  Batch work;  // oldest first; a batch whose write failed stays for a retry
  std::vector<QueuedMessage> incoming;  // swapped with the queue's buffer
  bool holding = false;
  std::chrono::milliseconds retry_delay = kFirstRetryDelay;
  std::chrono::milliseconds next_retry = kFirstRetryDelay;

  auto take = [&](std::chrono::nanoseconds timeout) {
    size_t count = work.jsons.size();
    if (count >= options_.max_batch_count) return;
    size_t room_bytes = options_.max_batch_bytes > work.bytes
                            ? options_.max_batch_bytes - work.bytes
                            : 1;  // PopBatch still takes one if none is held
    queue_->PopBatch(&incoming, options_.max_batch_count - count, room_bytes,
                     timeout);
    for (auto& m : incoming) work.Add(m);
    incoming.clear();
  };

  for (;;) {
    // Nothing may escape this thread: an exception would terminate the host.
    try {
      if (!work.jsons.empty()) {
        // The last write failed: wait for its retry time (or a Flush, or stop).
        std::unique_lock<std::mutex> lock(control_mu_);
        control_cv_.wait_for(lock, next_retry,
                             [&] { return stop_ || urgent_; });
        urgent_ = false;
        if (stop_) break;
      } else {
        std::chrono::nanoseconds timeout = kIdleWait;
        if (holding) timeout = options_.idle_close_delay;
        if (stop_requested_.load(std::memory_order_acquire)) timeout = 0ns;
        take(timeout);
        if (work.jsons.empty()) {
          // Idle: give the database back so other processes get their turn.
          if (holding) {
            spool_->Release();
            holding = false;
          }
          if (stop_requested_.load(std::memory_order_acquire)) break;
          continue;
        }
      }
      // Group commit: whatever else arrived meanwhile rides along.
      take(0ns);

      Status status;
      bool to_inbox = false;
      bool purge_failed = false;
      // Consent is checked as late as possible: after Hold() (which may wait
      // lock_wait for another process), right before the write, so an
      // opt-out that returned is seen by the very next write.
      auto opted_out = [&] {
        if (StillConsented()) return false;
        DropOptedOut(work);
        if (holding) {
          // Give the database back at once: `opt-out` may be waiting to
          // purge it. A purge it left pending is ours to carry out.
          if (!options_.inbox_only) {
            (void)HonourPurgeRequest(*spool_, options_.spool.dir);
          }
          spool_->Release();
          holding = false;
        } else if (!options_.inbox_only) {
          (void)HonourPurgeRequest(*spool_, options_.spool.dir);
        }
        return true;
      };
      if (holding && spool_->ReaderWaiting()) {  // fair turns: spool.h Hold
        spool_->Release();
        holding = false;
      }
      if (options_.inbox_only) {
        if (opted_out()) continue;
        status = spool_->AppendToInbox(work.jsons);
        to_inbox = true;
      } else if (!holding) {
        Status held = spool_->Hold(spool::Role::kWriter);
        if (held.ok()) {
          holding = true;
        } else if (held.code() == Status::Code::kBusy) {
          // Another process kept the database past lock_wait already; waiting
          // a second time in Append would only double the delay.
          if (opted_out()) continue;
          status = spool_->AppendToInbox(work.jsons);
          to_inbox = true;
        }
        // Other Hold errors: let Append try on its own and report.
      }
      if (!to_inbox && opted_out()) continue;
      if (!to_inbox && !purge_failed) {
        // `opt-out` found the database busy and left a purge for us: it goes
        // before anything we write.
        status = HonourPurgeRequest(*spool_, options_.spool.dir);
        if (!status.ok()) purge_failed = true;  // an error: retried
      }
      if (!to_inbox && !purge_failed) {
        auto appended = spool_->Append(work.jsons);
        status = appended.status();
        to_inbox = appended.ok() && *appended == spool::AppendTarget::kInbox;
      }

      const size_t n = work.jsons.size();
      if (status.ok()) {
        written_.fetch_add(n, std::memory_order_relaxed);
        if (to_inbox) written_to_inbox_.fetch_add(n, std::memory_order_relaxed);
        Finish(work, n, status);
        retry_delay = kFirstRetryDelay;
        continue;
      }

      write_errors_.fetch_add(1, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> lock(done_mu_);
        last_write_error_ = status;
      }
      if (holding) {
        spool_->Release();  // the handle may be what is broken
        holding = false;
      }
      if (options_.synchronous) {
        // Each waiting caller gets the error and decides; nothing is kept.
        Finish(work, n, status);
      } else {
        next_retry = retry_delay;
        retry_delay = std::min(retry_delay * 2, kMaxRetryDelay);
      }
    } catch (...) {
      // Only allocation failure is plausible here. Count it, keep the work
      // (it is retried), and pause so a starved process is not spun on.
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      try {
        std::lock_guard<std::mutex> lock(done_mu_);
        last_write_error_ = Status::Internal("writer: unexpected exception");
      } catch (...) {
      }
      std::unique_lock<std::mutex> lock(control_mu_);
      control_cv_.wait_for(lock, kFirstRetryDelay, [&] { return stop_; });
      if (stop_) break;
    }
  }

  (void)NoThrow([&]() -> Status {
    if (holding) spool_->Release();
    // Stopping: what is still not durable (a batch waiting for its retry,
    // and anything queued since) goes to the inbox.
    for (auto& m : queue_->TakeAll()) work.Add(m);
    if (!work.jsons.empty()) WriteToInbox(*spool_, work);
    return Status::OK();
  });
}

}  // namespace zenml::client
