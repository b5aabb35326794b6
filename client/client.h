// Client: the front door of the library. `Track()` records one usage event in
// microseconds on the caller's thread; a background writer thread makes it
// durable in the spool (DESIGN.md promises 1, 2, 4 and 6).
//
// Lifecycle of one event:
//   Track(): consent? ─no─> OK, nothing happens (no file is ever touched)
//            validate + serialize (core::TrackEncoder: the same bytes as
//            EncodeTrackMessage; messageId, timestamp)
//            ─invalid─> InvalidArgument, counted in rejected_invalid
//            push onto the bounded queue ─full─> ResourceExhausted, counted
//            in dropped_queue_full (and recorded, below)
//   writer:  takes everything queued (group commit) ─> one Spool::Append
//            ─> durable (in the database, or an inbox file when the spool
//            stays busy past lock_wait); counted in written
//            Append failed (a full disk) ─> counted in write_errors; the
//            events are kept and retried with backoff (50 ms doubling to
//            5 s), never dropped; the queue fills meanwhile, up to its bound;
//            Flush() reports the failing write
//   ~Client: Flush(flush_on_exit_timeout), then everything not yet durable
//            goes to the inbox (Spool::AppendToInbox) so a normal exit loses
//            nothing; if even that fails (the disk is still full), those
//            events are lost and counted in dropped_disk_full; then, if due,
//            an opportunistic upload is started detached
//            (opportunistic_upload.h).
//
// Drops are recorded in the spool (c/drop/queue_full, c/drop/disk_full,
// shown by `zenml-analytics status` and `zenml-spool-dump --stats`) with
// the next Append that lands in the database: a full queue while writes
// are failing counts as disk_full, else as queue_full; events lost at exit
// count as disk_full. Drops a Client could not record before it ended go to
// the next Client of the same process on the same spool; a process that
// exits with the disk still full cannot record them anywhere.
//
// The writer keeps the spool open (Spool::Hold) while it has work and closes
// it after `idle_close_delay` without any, or as soon as another process
// says it waits for it (spool/turns.h; looked at every 10 ms while idle), so
// other processes get their turn at the one-process-at-a-time LevelDB
// database.
//
// Consent is decided at construction, and checked again before every write
// (each group commit, each inbox file, the one at exit) through a
// core::ConsentWatcher: one stat of config.yaml per write, a parse only when
// the file changed. `opt-out` replaces config.yaml (a new inode), so the
// first write after it returned sees it. Once consent is gone the queued
// events are dropped (counted in dropped_opted_out), nothing more is written,
// and Track() returns OK without queueing for the rest of the Client's life.
// Before writing, the writer also carries out a purge that `opt-out` left
// pending (client/purge_request.h). The anonymous id is read (or created)
// once, on the first Track(), from the same read of config.yaml that decided
// consent when there was one (the file is read once); the writer thread
// starts then too, so a Client that never tracks costs nothing.
//
// A synchronous Client (ClientOptions::synchronous) starts no writer thread:
// its callers write themselves. The first caller that finds no write in
// progress becomes the leader: it takes everything queued (its own event and
// whatever other callers queued meanwhile, one group commit), appends it on
// its own thread, finishes those callers, and repeats until the queue is
// empty; the others wait for their event to be finished, or for the leader
// to step down and take over. So a one-event `zenml-analytics track` pays
// for no thread, and concurrent synchronous callers still share commits. The
// spool is released when the leader steps down (no idle_close_delay). The
// leader checks consent and pending purges before each write, as the writer
// thread does.
//
// Thread safety: Track(), Flush() and stats() may be called from any number
// of threads at once. Nothing here throws into the caller.

#ifndef ZENML_CLIENT_CLIENT_H_
#define ZENML_CLIENT_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>  // std::once_flag
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/opportunistic_upload.h"
#include "core/catalogue.h"
#include "core/clock.h"
#include "core/consent.h"
#include "core/consent_watcher.h"
#include "core/context.h"
#include "core/environment.h"
#include "core/global_config.h"
#include "core/message.h"
#include "core/mutex.h"
#include "core/status.h"
#include "core/thread_annotations.h"
#include "core/value.h"
#include "spool/spool.h"
#include "spool/spool_hold.h"

namespace zenml::client {

using core::Status;

class MessageQueue;  // message_queue.h
class MessageBatch;
struct Completion;

struct ClientOptions {
  // ZenML's config dir. Empty: core::ResolveConfigDir(*environment).
  std::filesystem::path config_dir;

  // The ZenML version reported in context.zenml.version. Empty: the
  // build-time default (CMake ZENML_DEFAULT_ZENML_VERSION).
  std::string zenml_version;

  // The most events waiting for the writer at once. Past it Track() returns
  // ResourceExhausted. The queue's slots are allocated and faulted in by
  // the writer thread from its start on (so Track() neither allocates nor
  // page-faults; message_queue.h): 64 bytes plus a 640-byte buffer each,
  // held for the Client's life. For the default 10,000 a Client that has
  // tracked once holds +7.7 MiB of RSS in all (docs/BENCHMARKS.md). A
  // synchronous Client prepares only the 64-byte slots, as used.
  size_t queue_capacity = 10'000;

  // How long the destructor waits for the writer before it writes what is
  // left to the inbox. Bounds how long a normal exit can be delayed.
  std::chrono::milliseconds flush_on_exit_timeout{1000};

  // How long the writer keeps the spool open after its queue ran dry. 100 ms:
  // long enough that a burst of events (a pipeline run tracks a few within
  // milliseconds) costs one open of the database (~0.7 ms), short enough
  // that another process waiting for the lock (it polls for up to lock_wait,
  // 2 s) gets in well before it gives up and falls back to the inbox.
  std::chrono::milliseconds idle_close_delay{100};

  // Synchronous mode: Track() returns only once its event is durable (the
  // Spool::Append that carried it returned), or with the error that kept it
  // from being written (the event is then not kept). Concurrent synchronous
  // callers still share group commits.
  bool synchronous = false;

  // Upper bounds of one group commit (one Spool::Append).
  size_t max_batch_count = 4096;
  size_t max_batch_bytes = 4u << 20;

  // Time source for event timestamps and the writer's timers. Not owned.
  const core::Clock* clock = &core::RealClock();

  // Environment for the config dir and consent. Not owned; never null.
  const core::Environment* environment = &core::ProcessEnvironment();

  // The spool's options. `spool.dir` empty: core::AnalyticsDir(config dir).
  spool::SpoolOptions spool;

  // Opportunistic upload at exit (opportunistic_upload.h): after the exit
  // flush, the destructor may start `zenml-upload --quiet` detached, without
  // waiting for it. The Client fills in config_dir, consent, environment,
  // clock and spool (the `spool` options above, so the check applies this
  // Client's bounds); the rest (uploader path, interval) may be set here.
  bool auto_upload = true;
  AutoUploadOptions auto_upload_options;

  // Write every batch as an inbox file (Spool::AppendToInbox), never opening
  // the LevelDB database. For a process forked from one that had the database
  // open: LevelDB's process state it inherited (its lock table, its
  // background thread) is not usable there. The inbox is ingested by the
  // next process that opens the database (include/zenml/analytics.h).
  bool inbox_only = false;
};

// What the client did so far; a snapshot, each field counted since
// construction.
struct ClientStats {
  uint64_t accepted = 0;            // Track() returned OK and queued it
  uint64_t dropped_queue_full = 0;  // Track() returned ResourceExhausted
  uint64_t rejected_invalid = 0;    // Track() returned InvalidArgument
  uint64_t write_errors = 0;        // failed writes (Append or inbox); the
                                    // events are kept and retried (sync
                                    // mode: returned to the caller)
  uint64_t written = 0;             // events made durable
  uint64_t written_to_inbox = 0;    // ... of which into an inbox file
  uint64_t dropped_opted_out = 0;   // accepted, then dropped unwritten:
                                    // consent was withdrawn meanwhile
  uint64_t dropped_disk_full = 0;   // accepted, then lost: still unwritten
                                    // at exit, every write having failed
                                    // (a full disk)
  uint64_t unrecorded_drops = 0;    // drops not yet recorded in the spool
  uint64_t queue_prepared = 0;      // queue slots the writer has prepared
                                    // (message_queue.h); queue_capacity
                                    // once all are
  uint64_t queued = 0;              // events waiting for the writer now
};

class Client {
 public:
  // Decides consent (core::DecideConsent) from the config dir and the
  // environment; touches no file. Never fails: a config dir that cannot be
  // resolved makes every Track() return that error.
  explicit Client(ClientOptions options = {});

  // Flushes for at most options.flush_on_exit_timeout, then writes whatever
  // is still queued to the inbox and stops the writer. A drain already
  // inside Spool::Append is let finish (Append itself gives up waiting for
  // the lock after spool.lock_wait and writes to the inbox), so the worst
  // case is flush_on_exit_timeout plus what is left of one lock_wait.
  ~Client();

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Records event `event` with `properties` (an object, or null for {}).
  // Validates and serializes on the calling thread, then queues the bytes and
  // returns at once (synchronous mode: once durable). Returns:
  //   OK                 queued (or durable), or consent is withheld and
  //                      nothing happened at all;
  //   InvalidArgument    the event is invalid (empty name, bad UTF-8, over
  //                      core::kMaxMessageBytes, ...): nothing was queued;
  //   ResourceExhausted  the queue is full: the event was dropped and counted;
  //   the config dir's error if it cannot be resolved or its anonymous id
  //   cannot be read or created; in synchronous mode, the write's error.
  // If `message_id` is given and the event was accepted, it receives the
  // event's messageId (tests and tools report it).
  Status Track(std::string_view event, const core::Value& properties = {},
               std::string* message_id = nullptr);
  Status Track(core::Event event, const core::Value& properties = {},
               std::string* message_id = nullptr);

  // Waits until every event accepted before this call is durable, at most
  // `timeout`. Returns OK then, or DeadlineExceeded naming how many are still
  // pending and the last write error, if any. OK at once when nothing is
  // pending or consent is withheld.
  Status Flush(std::chrono::milliseconds timeout);

  // Whether events are recorded at all, and why (decided at construction;
  // false too once the writer saw consent withdrawn).
  bool enabled() const {
    return consent_.allowed && init_status_.ok() &&
           !opted_out_.load(std::memory_order_acquire);
  }
  const core::Consent& consent() const { return consent_; }
  // The config dir in use (empty if it could not be resolved).
  const std::filesystem::path& config_dir() const { return config_dir_; }

  ClientStats stats() const;

 private:
  // First Track(): reads or creates the anonymous id and starts the writer.
  void StartOnce();
  Status EncodeAndQueue(std::string_view event, const core::Value& properties,
                        std::string* message_id);
  void WriterLoop();
  // ~Client's parts: flush and stop the writer thread; the opportunistic
  // upload.
  void StopWriter();
  void MaybeUploadAtExit();
  // Synchronous mode: waits until `completion` is done, writing on this
  // thread whenever no other caller is (the header comment).
  void WriteOrWait(Completion& completion);
  // The leader's part: appends what is queued until nothing is.
  void DrainInline();
  // One write of `batch`, the writer thread's and the leader's: consent
  // (gone: `batch` is dropped, OK), Hold (busy: an inbox file), a pending
  // purge, Append with the unrecorded drops. OK: `batch` is durable and
  // finished. Else the error, counted and kept for Flush(), `hold`
  // released, and `batch` left to the caller (retry or finish). `hold`
  // (a writer's, on spool_) is kept from one write to the next.
  Status WriteOnce(MessageBatch& batch, spool::SpoolHold& hold);
  // The drops counted but not yet in the spool (c/drop/...); ForgetDrops
  // subtracts what a write recorded.
  spool::WriterDrops UnrecordedDrops() const;
  void ForgetDrops(const spool::WriterDrops& recorded);
  // The messages of `batch` are done with `status`: wakes their
  // synchronous callers, advances finished_, clears `batch`.
  void Finish(MessageBatch& batch, const Status& status);
  // Writes all of `batch` to an inbox file through `spool` and finishes it
  // (drops it instead if consent is gone).
  void WriteToInbox(spool::Spool& spool, MessageBatch& batch);
  // Whether consent still holds, as of now (one stat; see above). Once it
  // returns false it always does. Any thread.
  bool StillConsented();
  // Consent is gone: `batch` and everything queued are dropped, counted in
  // dropped_opted_out, and their waiters (synchronous mode) get OK.
  void DropOptedOut(MessageBatch& batch);

  ClientOptions options_;
  std::filesystem::path config_dir_;
  Status init_status_;
  core::Consent consent_;
  // config.yaml as read for consent (set only if the environment did not
  // decide), kept until StartOnce takes the anonymous id from it.
  std::optional<core::Result<core::GlobalConfig>> config_;
  core::Context context_;

  std::once_flag start_once_;
  Status start_status_;       // written once inside start_once_
  std::string anonymous_id_;  // written once inside start_once_
  // Written once inside start_once_: the encoder for anonymous_id_ and
  // context_, or why there is none (a context field that is not UTF-8).
  std::optional<core::TrackEncoder> encoder_;
  Status encoder_status_;

  std::unique_ptr<MessageQueue> queue_;
  std::unique_ptr<spool::Spool> spool_;
  std::thread writer_;
  std::atomic<bool> started_{false};  // the writer runs

  // Writer → waiters: progress, completions of synchronous events.
  mutable core::Mutex done_mu_;
  core::CondVar done_cv_;
  // Events out of the queue for good (durable, or failed synchronously).
  uint64_t finished_ GUARDED_BY(done_mu_) = 0;
  Status last_write_error_ GUARDED_BY(done_mu_);
  // A synchronous caller is writing (DrainInline).
  bool leader_active_ GUARDED_BY(done_mu_) = false;

  // Controller → writer: stop, retry now.
  core::Mutex control_mu_;
  core::CondVar control_cv_;
  bool stop_ GUARDED_BY(control_mu_) = false;
  bool urgent_ GUARDED_BY(control_mu_) = false;  // a Flush() is waiting
  std::atomic<bool> stop_requested_{false};

  // Re-checks consent before each write. Guarded by consent_mu_ (the writer
  // and the destructor's exit-time inbox write may ask at once).
  core::Mutex consent_mu_;
  std::optional<core::ConsentWatcher> consent_watcher_ GUARDED_BY(consent_mu_);
  std::atomic<bool> opted_out_{false};  // consent withdrawn since construction

  std::atomic<uint64_t> dropped_queue_full_{0};
  std::atomic<uint64_t> dropped_disk_full_{0};
  // Set by a failed write, cleared by one that succeeds: a full queue
  // meanwhile counts as lost to the disk.
  std::atomic<bool> writes_failing_{false};
  // Drops not yet recorded in the spool (Spool::Append's WriterDrops).
  std::atomic<uint64_t> unrecorded_queue_full_{0};
  std::atomic<uint64_t> unrecorded_disk_full_{0};
  std::atomic<uint64_t> dropped_opted_out_{0};
  std::atomic<uint64_t> rejected_invalid_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> written_to_inbox_{0};
};

}  // namespace zenml::client

#endif  // ZENML_CLIENT_CLIENT_H_
