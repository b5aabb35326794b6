#include "client/message_queue.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace zenml::client {

MessageQueue::MessageQueue(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)) {}

Status MessageQueue::Push(QueuedMessage& message, uint64_t* sequence) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (items_.size() >= capacity_) {
      return Status::ResourceExhausted(
          "analytics queue is full; the event was dropped");
    }
    items_.push_back(std::move(message));
    ++accepted_;
    if (sequence != nullptr) *sequence = accepted_;
    // Only the first push after the consumer went to sleep pays for a wake.
    if (consumer_waiting_) {
      consumer_waiting_ = false;
      wake = true;
    }
  }
  if (wake) cv_.notify_one();
  return Status::OK();
}

size_t MessageQueue::PopBatch(std::vector<QueuedMessage>* out, size_t max_count,
                              size_t max_bytes,
                              std::chrono::nanoseconds timeout) {
  out->clear();
  std::unique_lock<std::mutex> lock(mu_);
  // No wait at all for a zero timeout: a condition-variable wait whose
  // deadline has passed still sleeps in the kernel until a timer fires, and
  // a synchronous writer (Client::DrainInline) looks once more after its
  // write, on every Track().
  if (items_.empty() && !wake_ && timeout > std::chrono::nanoseconds::zero()) {
    consumer_waiting_ = true;
    cv_.wait_for(lock, timeout, [&] { return !items_.empty() || wake_; });
    consumer_waiting_ = false;
  }
  wake_ = false;
  if (items_.empty()) return 0;

  size_t n = 0;
  size_t bytes = 0;
  while (n < items_.size() && n < max_count) {
    size_t next = bytes + items_[n].json.size();
    if (n > 0 && next > max_bytes) break;
    bytes = next;
    ++n;
  }
  if (n == items_.size()) {
    // The common case: take everything by swapping buffers, so the producers
    // keep pushing into the consumer's old (cleared, still allocated) vector.
    std::swap(*out, items_);
  } else {
    out->reserve(n);
    std::move(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(n),
              std::back_inserter(*out));
    items_.erase(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(n));
  }
  return n;
}

std::vector<QueuedMessage> MessageQueue::TakeAll() {
  std::vector<QueuedMessage> out;
  std::lock_guard<std::mutex> lock(mu_);
  std::swap(out, items_);
  return out;
}

void MessageQueue::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

size_t MessageQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_.size();
}

uint64_t MessageQueue::accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

}  // namespace zenml::client
