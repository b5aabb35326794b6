#include "client/message_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace zenml::client {
namespace {

using namespace std::chrono_literals;

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
