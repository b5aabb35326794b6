#include "client/message_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace zenml::client {
namespace {

using namespace std::chrono_literals;

// Allocation failure on demand: while armed, an allocation of at least
// kBigAllocation bytes throws std::bad_alloc (after running `during`, once).
constexpr size_t kBigAllocation = 4096;
std::atomic<bool> g_fail_big_allocations{false};
void (*g_during_failure)() = nullptr;

}  // namespace
}  // namespace zenml::client

void* operator new(size_t size) {
  using namespace zenml::client;
  if (size >= kBigAllocation &&
      g_fail_big_allocations.exchange(false, std::memory_order_relaxed)) {
    if (g_during_failure != nullptr) g_during_failure();
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC cannot see that these pair with the operator new above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace zenml::client {
namespace {

std::vector<std::string> Jsons(const MessageBatch& b) {
  return {b.jsons().begin(), b.jsons().end()};
}

TEST(MessageQueueTest, PushReturnsResourceExhaustedWhenFull) {
  MessageQueue queue(2);
  ASSERT_TRUE(queue.Push("a").ok());
  ASSERT_TRUE(queue.Push("b").ok());
  Status full = queue.Push("c");
  EXPECT_EQ(full.code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue.accepted(), 2u);
}

TEST(MessageQueueTest, ACapacityOfOneHoldsOneMessageAtATime) {
  MessageQueue queue(1);
  MessageBatch out;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(queue.Push(std::to_string(i)).ok());
    EXPECT_EQ(queue.Push("over").code(), Status::Code::kResourceExhausted);
    EXPECT_EQ(queue.size(), 1u);
    out.Clear();
    ASSERT_EQ(queue.TakeAll(&out), 1u);
    EXPECT_EQ(out.jsons()[0], std::to_string(i));
  }
  EXPECT_EQ(queue.accepted(), 5u);
}

TEST(MessageQueueTest, PushNumbersMessagesInAcceptanceOrder) {
  MessageQueue queue(10);
  uint64_t seq = 0;
  ASSERT_TRUE(queue.Push("a", nullptr, &seq).ok());
  EXPECT_EQ(seq, 1u);
  ASSERT_TRUE(queue.Push("b", nullptr, &seq).ok());
  EXPECT_EQ(seq, 2u);
}

TEST(MessageQueueTest, PopBatchTakesEverythingInFifoOrder) {
  MessageQueue queue(10);
  for (std::string s : {"1", "2", "3"}) ASSERT_TRUE(queue.Push(s).ok());
  MessageBatch out;
  EXPECT_EQ(queue.PopBatch(&out, 100, 1 << 20, 0ns), 3u);
  EXPECT_EQ(Jsons(out), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(queue.size(), 0u);
  // Room again after the drain.
  EXPECT_TRUE(queue.Push("4").ok());
}

TEST(MessageQueueTest, PopBatchHonoursCountAndByteLimitsButTakesAtLeastOne) {
  MessageQueue queue(10);
  for (std::string s : {"aaaa", "bbbb", "cccc", "dddd"}) {
    ASSERT_TRUE(queue.Push(s).ok());
  }
  MessageBatch out;
  EXPECT_EQ(queue.PopBatch(&out, 2, 1 << 20, 0ns), 2u);
  EXPECT_EQ(Jsons(out), (std::vector<std::string>{"aaaa", "bbbb"}));
  out.Clear();
  EXPECT_EQ(queue.PopBatch(&out, 100, 1, 0ns), 1u);  // over the bytes: one
  EXPECT_EQ(Jsons(out), (std::vector<std::string>{"cccc"}));
  // PopBatch appends to what the batch holds.
  EXPECT_EQ(queue.PopBatch(&out, 100, 1 << 20, 0ns), 1u);
  EXPECT_EQ(Jsons(out), (std::vector<std::string>{"cccc", "dddd"}));
  EXPECT_EQ(out.bytes(), 8u);
}

TEST(MessageQueueTest, WakeReturnsAWaitingPopBatchEmptyHanded) {
  MessageQueue queue(10);
  std::thread waker([&] {
    std::this_thread::sleep_for(20ms);
    queue.Wake();
  });
  MessageBatch out;
  EXPECT_EQ(queue.PopBatch(&out, 10, 1 << 20, 60s), 0u);
  waker.join();
}

TEST(MessageQueueTest, APushWakesAWaitingConsumer) {
  MessageQueue queue(10);
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(queue.Push("x").ok());
  });
  MessageBatch out;
  EXPECT_EQ(queue.PopBatch(&out, 10, 1 << 20, 60s), 1u);
  producer.join();
}

TEST(MessageQueueTest, TakeAllEmptiesTheQueue) {
  MessageQueue queue(10);
  ASSERT_TRUE(queue.Push("a").ok());
  ASSERT_TRUE(queue.Push("b").ok());
  MessageBatch all;
  EXPECT_EQ(queue.TakeAll(&all), 2u);
  EXPECT_EQ(Jsons(all), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(MessageQueueTest, CompletionsTravelWithTheirMessages) {
  MessageQueue queue(4);
  Completion c1, c2;
  ASSERT_TRUE(queue.Push("a", &c1).ok());
  ASSERT_TRUE(queue.Push("b").ok());
  ASSERT_TRUE(queue.Push("c", &c2).ok());
  MessageBatch out;
  ASSERT_EQ(queue.TakeAll(&out), 3u);
  EXPECT_EQ(out.completion(0), &c1);
  EXPECT_EQ(out.completion(1), nullptr);
  EXPECT_EQ(out.completion(2), &c2);
}

TEST(MessageQueueTest, PreparedSlotsKeepTheirRoomAcrossLaps) {
  // Capacity over one chunk and not a multiple of it; several laps.
  MessageQueue queue(MessageQueue::kChunkSlots + 3, 64);
  queue.Prepare();
  MessageBatch out;
  uint64_t next = 0;
  for (int lap = 0; lap < 5; ++lap) {
    size_t n = 0;
    while (queue.Push(std::to_string(next + n)).ok()) ++n;
    EXPECT_EQ(n, queue.capacity());
    out.Clear();
    EXPECT_EQ(queue.TakeAll(&out), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(out.jsons()[i], std::to_string(next + i));
    }
    next += n;
  }
  // A message longer than a slot's room goes through whole.
  std::string big(100'000, 'x');
  ASSERT_TRUE(queue.Push(big).ok());
  out.Clear();
  ASSERT_EQ(queue.TakeAll(&out), 1u);
  EXPECT_EQ(out.jsons()[0], big);
}

TEST(MessageQueueTest, APushWhoseCopyFailsReportsItAndBlocksNothing) {
  // The slot is claimed before its string can grow: an allocation failure
  // there must not leave a claimed slot that is never published, which
  // would stop the consumer at it for good (every later message stuck).
  MessageQueue queue(4);
  ASSERT_TRUE(queue.Push("a").ok());
  const std::string big(2 * kBigAllocation, 'x');
  g_fail_big_allocations = true;
  Status failed;
  EXPECT_NO_THROW(failed = queue.Push(big));
  g_fail_big_allocations = false;
  EXPECT_EQ(failed.code(), Status::Code::kResourceExhausted);
  ASSERT_TRUE(queue.Push("b").ok());
  EXPECT_EQ(queue.accepted(), 2u);
  MessageBatch out;
  EXPECT_EQ(queue.PopBatch(&out, 10, 1 << 20, 0ns), 2u);
  EXPECT_EQ(Jsons(out), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(queue.size(), 0u);
}

MessageQueue* g_racing_queue = nullptr;

TEST(MessageQueueTest, APushThatFailsAfterALaterClaimIsSkipped) {
  // Another producer claims (and publishes) the next slot while the copy
  // fails: the failed slot cannot be handed back, so it must be skipped.
  MessageQueue queue(4);
  ASSERT_TRUE(queue.Push("a").ok());
  g_racing_queue = &queue;
  g_during_failure = [] { ASSERT_TRUE(g_racing_queue->Push("b").ok()); };
  const std::string big(2 * kBigAllocation, 'x');
  g_fail_big_allocations = true;
  Status failed;
  EXPECT_NO_THROW(failed = queue.Push(big));
  g_fail_big_allocations = false;
  g_during_failure = nullptr;
  EXPECT_EQ(failed.code(), Status::Code::kResourceExhausted);
  ASSERT_TRUE(queue.Push("c").ok());
  EXPECT_EQ(queue.accepted(), 3u);  // a, b, c: the failed one is not
  MessageBatch out;
  EXPECT_EQ(queue.PopBatch(&out, 10, 1 << 20, 0ns), 3u);
  EXPECT_EQ(Jsons(out), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(queue.size(), 0u);
  // The ring still laps normally afterwards.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(queue.Push(std::to_string(i)).ok());
    out.Clear();
    ASSERT_EQ(queue.TakeAll(&out), 1u);
    EXPECT_EQ(out.jsons()[0], std::to_string(i));
  }
}

TEST(MessageQueueTest, ManyProducersOneConsumerLoseAndDuplicateNothing) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  // Small, unprepared (producers prepare the chunks): they hit "full" and
  // retry, and lap the ring many times.
  MessageQueue queue(300, 16);
  std::atomic<int> producers_left{kThreads};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string m = std::to_string(t) + ":" + std::to_string(i);
        while (!queue.Push(m).ok()) std::this_thread::yield();
      }
      --producers_left;
    });
  }
  std::set<std::string> seen;
  std::vector<int> last(kThreads, -1);
  MessageBatch out;
  while (producers_left > 0 || queue.size() > 0) {
    out.Clear();
    queue.PopBatch(&out, 64, 1 << 20, 1ms);
    for (const std::string& m : out.jsons()) {
      EXPECT_TRUE(seen.insert(m).second) << m;
      auto colon = m.find(':');
      int t = std::stoi(m.substr(0, colon));
      int i = std::stoi(m.substr(colon + 1));
      EXPECT_GT(i, last[t]);  // each producer's order is kept
      last[t] = i;
    }
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace zenml::client
