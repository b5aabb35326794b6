// MessageQueue: the bounded hand-off between the threads that call
// `Client::Track()` and the one writer thread that spools what they tracked.
//
// Many producers, one consumer, a ring of `capacity` slots (Vyukov's bounded
// queue: each slot carries a sequence number saying whose turn it is). Push()
// never waits and takes no lock: it claims the next free slot with one
// compare-and-swap, copies the message's bytes into the slot's own string,
// and publishes it; it returns ResourceExhausted when `capacity` messages
// are already waiting. A producer that is preempted between claim and
// publish delays only the consumer, never another producer. The consumer
// takes messages in FIFO order, a whole group at a time (group commit),
// copying them into its MessageBatch (strings it reuses) and giving each
// slot back at once.
//
// No allocation and no page fault on the producer's side once warm: the
// slots (64 bytes each, one cache line, so neighbouring producers and the
// consumer never write the same line) and each slot's string buffer,
// `slot_bytes` reserved and touched, are prepared by PrepareChunk(), 256
// slots at a time, which the writer thread calls from its start on whenever
// it has nothing to write, until all are (so a short-lived process is not
// kept waiting for it, and events are written first). A producer that
// gets ahead of that preparation (the first events after the start)
// prepares the chunk it needs itself. A message longer than
// `slot_bytes` makes its slot's string grow once on the producer's thread
// (it keeps that capacity, up to kMaxKeptSlotBytes). Memory: capacity x
// (64 + slot_bytes + malloc's 16) bytes, allocated once and held for the
// queue's life (client.h gives the default's figure). With slot_bytes 0
// (a synchronous Client, which holds a few events at most) only the slots
// are prepared, lazily, by the producers, and strings grow as needed.
//
// The consumer is woken only when it is actually waiting, so a burst of
// Track() calls costs one futex wake, not one per call.
//
// A capacity of 1 uses a ring of 2 slots (the sequence numbers need two)
// and checks the consumer's position to refuse the second message.
//
// How it fails: only Push() reports anything (ResourceExhausted when full).
// An allocation failure (preparing a chunk, a string growing) throws
// std::bad_alloc out of Push() or PopBatch(): the Client turns it into a
// Status (client.cc, NoThrow).
//
// Thread safety: Push(), Wake(), size(), accepted(), prepared(),
// PrepareChunk() and Prepare() from any thread (preparers serialize on their
// own mutex); PopBatch() and TakeAll() from any thread, one at a time (they
// serialize on a consumer mutex the producers never take).

#ifndef ZENML_CLIENT_MESSAGE_QUEUE_H_
#define ZENML_CLIENT_MESSAGE_QUEUE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace zenml::client {

using core::Status;

// Set by the writer thread when the message it belongs to has been written
// (or has failed to be), for the synchronous mode's Track(), which waits on
// it. Lives on the waiting caller's stack.
struct Completion {
  bool done = false;  // guarded by the client's completion mutex
  Status status;
};

// Messages on the consumer's side: the JSON in one contiguous array, as
// Spool::Append takes it, and who waits for each (synchronous mode). Clear()
// keeps the strings, so once warm, taking a message only copies its bytes.
// Thread-compatible.
class MessageBatch {
 public:
  std::span<const std::string> jsons() const { return {jsons_.data(), size_}; }
  Completion* completion(size_t i) const { return completions_[i]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t bytes() const { return bytes_; }

  void Add(std::string_view json, Completion* completion);
  // Moves every message of `other` to the end of this one; clears `other`.
  void Append(MessageBatch& other);
  void Clear();

 private:
  std::vector<std::string> jsons_;  // the first size_ are in use
  std::vector<Completion*> completions_;
  size_t size_ = 0;
  size_t bytes_ = 0;
};

class MessageQueue {
 public:
  // A slot whose string grew past this (one huge event) is shrunk back when
  // the consumer takes it, so it does not pin that memory.
  static constexpr size_t kMaxKeptSlotBytes = 16 << 10;
  static constexpr size_t kChunkSlots = 256;

  // `capacity` > 0: the most messages that may wait at once. `slot_bytes`:
  // the buffer Prepare() reserves per slot (0: none).
  explicit MessageQueue(size_t capacity, size_t slot_bytes = 0);
  ~MessageQueue();
  MessageQueue(const MessageQueue&) = delete;
  MessageQueue& operator=(const MessageQueue&) = delete;

  // Copies `json` into the queue unless `capacity` messages are waiting
  // already; then returns ResourceExhausted. Never throws: a message longer
  // than its slot gets its room before the slot is claimed, so running out
  // of memory returns ResourceExhausted with nothing claimed. On success
  // `*sequence` (if given) receives the message's 1-based position among all
  // messages ever accepted, which Flush() uses as a watermark.
  Status Push(std::string_view json, Completion* completion = nullptr,
              uint64_t* sequence = nullptr);

  // Consumer side. Waits up to `timeout` for at least one message (returns
  // early on Wake()), then appends the oldest waiting messages to `*out`:
  // all of them, or as many as fit `max_count` and `max_bytes` of JSON
  // (always at least one). Returns how many it moved; 0 after a timeout or
  // a Wake() with nothing waiting. A message claimed but not yet published
  // by its producer (it is copying) ends the group.
  size_t PopBatch(MessageBatch* out, size_t max_count, size_t max_bytes,
                  std::chrono::nanoseconds timeout);

  // Appends every published message to `*out`, oldest first; returns how
  // many.
  size_t TakeAll(MessageBatch* out);

  // Prepares the next chunk of slots not prepared yet (see above); returns
  // whether any is left. For the writer thread, between its writes.
  bool PrepareChunk();
  // Prepares every slot not prepared yet.
  void Prepare();
  // How many slots are prepared (capacity() once all are).
  size_t prepared() const;

  // Makes a PopBatch() that is waiting (or the next one) return at once.
  void Wake();

  // Messages accepted and not yet taken by the consumer.
  size_t size() const;
  size_t capacity() const { return capacity_; }
  // How many messages Push() has accepted so far.
  uint64_t accepted() const { return tail_.load(std::memory_order_acquire); }

 private:
  struct alignas(64) Slot {
    // pos + 1: holds the message at position pos (published); pos (mod the
    // laps): free for the producer of position pos.
    std::atomic<uint64_t> seq{0};
    Completion* completion = nullptr;
    std::string json;
  };

  Slot& At(uint64_t pos) const {
    const uint64_t i = pos % ring_;
    return chunks_[i / kChunkSlots][i % kChunkSlots];
  }
  // Prepares chunks until position `pos` is prepared.
  void PrepareUpTo(uint64_t pos);
  size_t TakeLocked(MessageBatch* out, size_t max_count, size_t max_bytes)
      REQUIRES(consumer_mu_);
  bool ReadyLocked() const REQUIRES(consumer_mu_);

  const size_t capacity_;
  // The slots: capacity_, but at least 2 (with one, "published" and "free
  // for the next lap" would be the same sequence number).
  const size_t ring_;
  const size_t slot_bytes_;
  // The least room any prepared slot has: slot_bytes_, or a std::string's
  // own inline room when that is larger.
  size_t MinRoom() const {
    static const size_t kInline = std::string().capacity();
    return slot_bytes_ > kInline ? slot_bytes_ : kInline;
  }
  const std::unique_ptr<std::unique_ptr<Slot[]>[]> chunks_;  // chunk pointers

  // Producers' line: the next position to claim (= messages accepted).
  alignas(64) std::atomic<uint64_t> tail_{0};
  // Read by every Push, written only while preparing: slots below it (and
  // their chunks) are prepared.
  alignas(64) std::atomic<uint64_t> prepared_{0};
  core::Mutex prepare_mu_;  // one preparer at a time
  // The consumer's: set while it waits for a message.
  alignas(64) std::atomic<bool> consumer_waiting_{false};
  // Mirror of head_ for size(), written by the consumer only.
  alignas(64) std::atomic<uint64_t> head_mirror_{0};
  core::Mutex consumer_mu_;
  uint64_t head_ GUARDED_BY(consumer_mu_) = 0;  // next position to take

  core::Mutex mu_;  // the consumer's sleep
  core::CondVar cv_;
  bool wake_ GUARDED_BY(mu_) = false;
};

}  // namespace zenml::client

#endif  // ZENML_CLIENT_MESSAGE_QUEUE_H_
