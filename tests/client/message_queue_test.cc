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

QueuedMessage Msg(std::string json) { return QueuedMessage{std::move(json)}; }

TEST(MessageQueueTest, PushReturnsResourceExhaustedWhenFullAndKeepsTheMessage) {
  MessageQueue queue(2);
  auto a = Msg("a");
  auto b = Msg("b");
  auto c = Msg("c");
  ASSERT_TRUE(queue.Push(a).ok());
  ASSERT_TRUE(queue.Push(b).ok());
  Status full = queue.Push(c);
  EXPECT_EQ(full.code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(c.json, "c");  // untouched, the caller still owns it
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue.accepted(), 2u);
}

TEST(MessageQueueTest, PushNumbersMessagesInAcceptanceOrder) {
  MessageQueue queue(10);
  uint64_t seq = 0;
  auto a = Msg("a");
  ASSERT_TRUE(queue.Push(a, &seq).ok());
  EXPECT_EQ(seq, 1u);
  auto b = Msg("b");
  ASSERT_TRUE(queue.Push(b, &seq).ok());
  EXPECT_EQ(seq, 2u);
}

TEST(MessageQueueTest, PopBatchTakesEverythingInFifoOrder) {
  MessageQueue queue(10);
  for (std::string s : {"1", "2", "3"}) {
    auto m = Msg(s);
    ASSERT_TRUE(queue.Push(m).ok());
  }
  std::vector<QueuedMessage> out;
  EXPECT_EQ(queue.PopBatch(&out, 100, 1 << 20, 0ns), 3u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].json, "1");
  EXPECT_EQ(out[2].json, "3");
  EXPECT_EQ(queue.size(), 0u);
  // Room again after the drain.
  auto m = Msg("4");
  EXPECT_TRUE(queue.Push(m).ok());
}

TEST(MessageQueueTest, PopBatchHonoursCountAndByteLimitsButTakesAtLeastOne) {
  MessageQueue queue(10);
  for (std::string s : {"aaaa", "bbbb", "cccc", "dddd"}) {
    auto m = Msg(s);
    ASSERT_TRUE(queue.Push(m).ok());
  }
  std::vector<QueuedMessage> out;
  EXPECT_EQ(queue.PopBatch(&out, 3, 9, 0ns), 2u);  // 8 bytes fit, 12 do not
  EXPECT_EQ(out[0].json, "aaaa");
  EXPECT_EQ(out[1].json, "bbbb");
  EXPECT_EQ(queue.PopBatch(&out, 1, 100, 0ns), 1u);
  EXPECT_EQ(out[0].json, "cccc");
  EXPECT_EQ(queue.PopBatch(&out, 5, 1, 0ns), 1u);  // over the byte limit alone
  EXPECT_EQ(out[0].json, "dddd");
  EXPECT_EQ(queue.PopBatch(&out, 5, 100, 0ns), 0u);
}

TEST(MessageQueueTest, WakeReturnsAWaitingPopBatchEmptyHanded) {
  MessageQueue queue(10);
  std::atomic<bool> returned{false};
  std::thread consumer([&] {
    std::vector<QueuedMessage> out;
    EXPECT_EQ(queue.PopBatch(&out, 10, 100, std::chrono::hours(1)), 0u);
    returned = true;
  });
  queue.Wake();
  consumer.join();  // hangs (test timeout) if Wake did not work
  EXPECT_TRUE(returned);
}

TEST(MessageQueueTest, APushWakesAWaitingConsumer) {
  MessageQueue queue(10);
  std::thread consumer([&] {
    std::vector<QueuedMessage> out;
    EXPECT_EQ(queue.PopBatch(&out, 10, 100, std::chrono::hours(1)), 1u);
  });
  auto m = Msg("x");
  ASSERT_TRUE(queue.Push(m).ok());
  consumer.join();
}

TEST(MessageQueueTest, TakeAllEmptiesTheQueue) {
  MessageQueue queue(10);
  auto a = Msg("a");
  auto b = Msg("b");
  ASSERT_TRUE(queue.Push(a).ok());
  ASSERT_TRUE(queue.Push(b).ok());
  auto all = queue.TakeAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].json, "b");
  EXPECT_EQ(queue.size(), 0u);
}

TEST(MessageQueueTest, ManyProducersOneConsumerLoseAndDuplicateNothing) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  MessageQueue queue(256);  // small: producers hit "full" and retry
  std::atomic<int> producers_left{kThreads};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto m = Msg(std::to_string(t) + ":" + std::to_string(i));
        while (!queue.Push(m).ok()) std::this_thread::yield();
      }
      --producers_left;
    });
  }
  std::set<std::string> seen;
  std::vector<int> last(kThreads, -1);
  std::vector<QueuedMessage> out;
  while (producers_left > 0 || queue.size() > 0) {
    queue.PopBatch(&out, 64, 1 << 20, 1ms);
    for (auto& m : out) {
      EXPECT_TRUE(seen.insert(m.json).second) << m.json;
      auto colon = m.json.find(':');
      int t = std::stoi(m.json.substr(0, colon));
      int i = std::stoi(m.json.substr(colon + 1));
      EXPECT_GT(i, last[t]);  // each producer's order is kept
      last[t] = i;
    }
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace zenml::client
