#include "client/message_queue.h"

#include <algorithm>
#include <utility>

namespace zenml::client {

void MessageBatch::Add(std::string_view json, Completion* completion) {
  if (size_ == jsons_.size()) {
    jsons_.emplace_back();
    completions_.push_back(nullptr);
  }
  jsons_[size_].assign(json.data(), json.size());  // reuses its capacity
  completions_[size_] = completion;
  ++size_;
  bytes_ += json.size();
}

void MessageBatch::Append(MessageBatch& other) {
  for (size_t i = 0; i < other.size_; ++i) {
    Add(other.jsons_[i], other.completions_[i]);
  }
  other.Clear();
}

void MessageBatch::Clear() {
  size_ = 0;
  bytes_ = 0;
}

MessageQueue::MessageQueue(size_t capacity, size_t slot_bytes)
    : capacity_(std::max<size_t>(capacity, 1)),
      ring_(std::max<size_t>(capacity_, 2)),
      slot_bytes_(slot_bytes),
      chunks_(std::make_unique<std::unique_ptr<Slot[]>[]>(
          (ring_ + kChunkSlots - 1) / kChunkSlots)) {}

MessageQueue::~MessageQueue() = default;

void MessageQueue::PrepareUpTo(uint64_t pos) {
  core::MutexLock lock(&prepare_mu_);
  uint64_t done = prepared_.load(std::memory_order_relaxed);
  while (done <= pos && done < ring_) {
    const size_t n = std::min<size_t>(kChunkSlots, ring_ - done);
    auto chunk = std::make_unique<Slot[]>(n);
    for (size_t i = 0; i < n; ++i) {
      chunk[i].seq.store(done + i, std::memory_order_relaxed);
      if (slot_bytes_ > 0) {
        // Reserved and written, so its pages are faulted in here, not on
        // the first producer that copies into it.
        chunk[i].json.reserve(slot_bytes_);
        chunk[i].json.resize(slot_bytes_);
        chunk[i].json.clear();
      }
    }
    chunks_[done / kChunkSlots] = std::move(chunk);
    done += n;
    // Publishes the chunk: a producer reads a slot only after seeing this.
    prepared_.store(done, std::memory_order_release);
  }
}

bool MessageQueue::PrepareChunk() {
  const uint64_t done = prepared_.load(std::memory_order_acquire);
  if (done < ring_) PrepareUpTo(done);
  return prepared_.load(std::memory_order_acquire) < ring_;
}

void MessageQueue::Prepare() {
  while (PrepareChunk()) {
  }
}

size_t MessageQueue::prepared() const {
  return static_cast<size_t>(
      std::min<uint64_t>(prepared_.load(std::memory_order_acquire), capacity_));
}

Status MessageQueue::Push(std::string_view json, Completion* completion,
                          uint64_t* sequence) {
  uint64_t pos = tail_.load(std::memory_order_acquire);
  Slot* slot = nullptr;
  bool slot_claimed = false;
  std::string grown;  // stays empty (no allocation) unless needed
  for (;;) {
    // Every slot of the first lap is prepared before it is read (and the
    // acquire makes the chunk pointer visible); later laps find all done.
    if (pos >= prepared_.load(std::memory_order_acquire) && pos < ring_) {
      PrepareUpTo(pos);
    }
    slot = &At(pos);
    const uint64_t seq = slot->seq.load(std::memory_order_acquire);
    const auto diff = static_cast<int64_t>(seq - pos);
    if (diff == 0) {
      // A message longer than a slot's room: the room is made before the
      // claim, so an allocation failure leaves nothing claimed (a claimed
      // slot that is never published would stop the consumer for good).
      // The slot itself is not read before the claim (another producer may
      // be claiming and filling it): every prepared slot keeps at least
      // MinRoom() (see the shrink in TakeLocked).
      if (json.size() > MinRoom() && grown.capacity() < json.size()) {
        try {
          grown.reserve(json.size());  // nothing claimed yet
        } catch (...) {
          return Status::ResourceExhausted(
              "out of memory copying the event; the event was dropped");
        }
      }
      if (ring_ != capacity_ &&
          pos - head_mirror_.load(std::memory_order_acquire) >= capacity_) {
        break;  // capacity 1 (the ring needs 2 slots): full
      }
      if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        slot_claimed = true;
        break;
      }
    } else if (diff < 0) {
      break;  // the slot still holds the message from one lap ago: full
    } else {
      pos = tail_.load(std::memory_order_acquire);
    }
  }
  if (!slot_claimed) {
    return Status::ResourceExhausted(
        "analytics queue is full; the event was dropped");
  }
  if (json.size() > slot->json.capacity()) {
    grown.assign(json.data(), json.size());  // fits: no allocation
    slot->json.swap(grown);
  } else {
    slot->json.assign(json.data(), json.size());  // fits: no allocation
  }
  slot->completion = completion;
  // seq_cst, with consumer_waiting_ below and the consumer's pair in
  // PopBatch: either it sees this message or we see it waiting.
  slot->seq.store(pos + 1, std::memory_order_seq_cst);
  if (sequence != nullptr) *sequence = pos + 1;
  if (consumer_waiting_.load(std::memory_order_seq_cst) &&
      consumer_waiting_.exchange(false)) {
    // Only the first push after the consumer went to sleep pays for a wake.
    core::MutexLock lock(&mu_);
    cv_.Signal();
  }
  return Status::OK();
}

bool MessageQueue::ReadyLocked() const {
  if (head_ >= prepared_.load(std::memory_order_acquire) && head_ < ring_) {
    return false;  // not even prepared: nothing can be there
  }
  return At(head_).seq.load(std::memory_order_seq_cst) == head_ + 1;
}

size_t MessageQueue::TakeLocked(MessageBatch* out, size_t max_count,
                                size_t max_bytes) {
  size_t n = 0;
  size_t bytes = 0;
  while (n < max_count && ReadyLocked()) {
    Slot& slot = At(head_);
    const size_t next = bytes + slot.json.size();
    if (n > 0 && next > max_bytes) break;
    out->Add(slot.json, slot.completion);
    bytes = next;
    if (slot.json.capacity() > kMaxKeptSlotBytes) {
      // Shrunk only to a buffer of slot_bytes_ that could be had: a slot
      // never has less room than MinRoom(), which Push relies on; and a
      // failure must not leave the message (already in *out) in its slot
      // to be taken twice.
      try {
        std::string smaller;
        smaller.reserve(slot_bytes_);
        slot.json.swap(smaller);
      } catch (...) {
        slot.json.clear();
      }
    } else {
      slot.json.clear();
    }
    slot.completion = nullptr;
    // Free for the producer one lap on.
    slot.seq.store(head_ + ring_, std::memory_order_release);
    ++head_;
    head_mirror_.store(head_, std::memory_order_release);
    ++n;
  }
  return n;
}

size_t MessageQueue::PopBatch(MessageBatch* out, size_t max_count,
                              size_t max_bytes,
                              std::chrono::nanoseconds timeout) {
  core::MutexLock consumer(&consumer_mu_);
  if (!ReadyLocked() && timeout > std::chrono::nanoseconds(0)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    core::MutexLock lock(&mu_);
    while (!wake_) {
      consumer_waiting_.store(true, std::memory_order_seq_cst);
      if (ReadyLocked()) break;
      if (!cv_.WaitUntil(&mu_, deadline)) break;
    }
    consumer_waiting_.store(false, std::memory_order_relaxed);
    wake_ = false;
  }
  return TakeLocked(out, max_count, max_bytes);
}

size_t MessageQueue::TakeAll(MessageBatch* out) {
  core::MutexLock consumer(&consumer_mu_);
  return TakeLocked(out, capacity_, SIZE_MAX);
}

void MessageQueue::Wake() {
  core::MutexLock lock(&mu_);
  wake_ = true;
  cv_.Signal();
}

size_t MessageQueue::size() const {
  // head first: the tail read after it is never behind it.
  const uint64_t head = head_mirror_.load(std::memory_order_acquire);
  const uint64_t tail = tail_.load(std::memory_order_acquire);
  return static_cast<size_t>(tail - head);
}

}  // namespace zenml::client
