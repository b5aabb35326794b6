// MessageQueue: the bounded hand-off between the threads that call
// `Client::Track()` and the one writer thread that spools what they tracked.
//
// Many producers, one consumer. Push() never waits for the consumer: it takes
// a mutex for the length of a vector push_back and returns ResourceExhausted
// when `capacity` messages are already waiting. The consumer takes messages in
// FIFO order, a whole group at a time (group commit), and the two sides swap
// buffers so that, once warm, neither allocates for the vector itself.
//
// The consumer is woken only when it is actually waiting (the first push after
// it went to sleep), so a burst of Track() calls costs one futex wake, not one
// per call.
//
// Thread safety: Push(), Wake(), size() from any thread; PopBatch() and
// TakeAll() from one consumer thread at a time.

#ifndef ZENML_CLIENT_MESSAGE_QUEUE_H_
#define ZENML_CLIENT_MESSAGE_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace zenml::client {

using core::Status;

// Set by the writer thread when the message it belongs to has been written
// (or has failed to be), for the synchronous mode's Track(), which waits on
// it. Lives on the waiting caller's stack.
struct Completion {
  bool done = false;  // guarded by the client's completion mutex
  Status status;
};

struct QueuedMessage {
  std::string json;                  // the serialized track message
  Completion* completion = nullptr;  // synchronous mode only; else nullptr
};

class MessageQueue {
 public:
  // `capacity` > 0: the most messages that may wait at once.
  explicit MessageQueue(size_t capacity);
  MessageQueue(const MessageQueue&) = delete;
  MessageQueue& operator=(const MessageQueue&) = delete;

  // Appends `message` unless `capacity` messages are waiting already; then
  // returns ResourceExhausted and leaves `message` untouched. On success
  // `*sequence` (if given) receives the message's 1-based position among all
  // messages ever accepted, which Flush() uses as a watermark.
  Status Push(QueuedMessage& message, uint64_t* sequence = nullptr);

  // Consumer side. Waits up to `timeout` for at least one message (returns
  // early on Wake()), then moves the oldest waiting messages into `*out`
  // (cleared first): all of them, or as many as fit `max_count` and
  // `max_bytes` of JSON (always at least one). Returns how many it moved;
  // 0 after a timeout or a Wake() with nothing waiting.
  size_t PopBatch(std::vector<QueuedMessage>* out, size_t max_count,
                  size_t max_bytes, std::chrono::nanoseconds timeout);

  // Moves every waiting message into the returned vector, oldest first.
  std::vector<QueuedMessage> TakeAll();

  // Makes a PopBatch() that is waiting (or the next one) return at once.
  void Wake();

  size_t size() const;
  size_t capacity() const { return capacity_; }
  // How many messages Push() has accepted so far.
  uint64_t accepted() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<QueuedMessage> items_;  // guarded by mu_
  uint64_t accepted_ = 0;             // guarded by mu_
  bool consumer_waiting_ = false;     // guarded by mu_
  bool wake_ = false;                 // guarded by mu_
};

}  // namespace zenml::client

#endif  // ZENML_CLIENT_MESSAGE_QUEUE_H_
