// CanaryHub / CanaryOutbox: the workers' hand-off to a canary's one writer.
#include "redmirror/mirror/canary_hub.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace redmirror::mirror {
namespace {

class CanaryHubTest : public ::testing::Test {
 protected:
  CanaryHubTest() {
    uv_loop_init(&loop_);
    for (uv_async_t& wake : wakes_) {
      uv_async_init(&loop_, &wake, [](uv_async_t* handle) { ++*static_cast<int*>(handle->data); });
      wake.data = &woken_;
    }
    hub_.setHome(1);
    for (size_t i = 0; i < std::size(wakes_); ++i) hub_.attach(i, &wakes_[i]);
    hub_.setUp(true);
  }
  ~CanaryHubTest() override {
    for (size_t i = 0; i < std::size(wakes_); ++i) hub_.detach(i);
    for (uv_async_t& wake : wakes_) uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  uv_loop_t loop_{};
  uv_async_t wakes_[3]{};
  int woken_ = 0;
  CanaryHub hub_{3};
};

// The home writes the batches in the order the workers handed them over,
// whichever worker handed them over: a command handed over after another one
// became visible is written after it.
TEST_F(CanaryHubTest, BatchesComeOutInHandOffOrderAcrossWorkers) {
  CanaryOutbox w0(hub_, 0, 1 << 20), w1(hub_, 1, 1 << 20), w2(hub_, 2, 1 << 20);
  EXPECT_EQ(w0.sendOwned("a", 0, 2, 1), SendResult::kSent);
  EXPECT_EQ(w2.sendOwned("b", 3, 3, 1, 7), SendResult::kSent);
  EXPECT_EQ(w2.sendOwned("cc", 3, 3, 2), SendResult::kSent);
  w2.handOver();
  w0.handOver();
  w1.handOver();  // nothing queued: nothing handed over
  EXPECT_EQ(w1.sendOwned("d", 0, 2, 1), SendResult::kSent);
  w1.handOver();
  std::vector<HandoffBatch> batches;
  hub_.takeBatches(batches);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].worker, 2u);
  EXPECT_EQ(batches[0].bytes, "bcc");
  ASSERT_EQ(batches[0].entries.size(), 2u);
  EXPECT_EQ(batches[0].entries[0].end, 1u);
  EXPECT_EQ(batches[0].entries[0].db, 3u);
  EXPECT_EQ(batches[0].entries[0].protocol, 3);
  EXPECT_EQ(batches[0].entries[0].comparison, 7u);
  EXPECT_EQ(batches[0].entries[1].end, 3u);
  EXPECT_EQ(batches[0].entries[1].replies, 2u);
  EXPECT_EQ(batches[1].worker, 0u);
  EXPECT_EQ(batches[1].bytes, "a");
  EXPECT_EQ(batches[2].worker, 1u);
  batches.clear();
  hub_.takeBatches(batches);
  EXPECT_TRUE(batches.empty());
  // Other workers' hand-offs woke the home once (the first into an empty queue).
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(woken_, 1);
}

// The budget counts the bytes of the commands (copied, not the chunks they
// came in) and the replies awaited, for all workers together.
TEST_F(CanaryHubTest, BudgetCountsBytesAndAwaitedRepliesOfAllWorkers) {
  const uint64_t budget = 100 + 2 * CanaryHub::kPendingCost;
  CanaryOutbox w0(hub_, 0, budget), w2(hub_, 2, budget);
  EXPECT_TRUE(w0.hasRoomFor(60));
  EXPECT_EQ(w0.sendOwned(std::string(60, 'x'), 0, 2, 1), SendResult::kSent);
  EXPECT_EQ(hub_.held(), 60 + CanaryHub::kPendingCost);
  EXPECT_FALSE(w2.hasRoomFor(41));
  EXPECT_EQ(w2.sendOwned(std::string(41, 'y'), 0, 2, 1), SendResult::kQueueFull);
  EXPECT_EQ(w2.sendOwned(std::string(40, 'y'), 0, 2, 1), SendResult::kSent);
  EXPECT_EQ(hub_.held(), budget);
  w0.handOver();
  std::vector<HandoffBatch> batches;
  hub_.takeBatches(batches);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].charged, 60 + CanaryHub::kPendingCost);
  // The home releases what the kernel took and each reply as it comes.
  hub_.release(batches[0].charged);
  EXPECT_EQ(w0.sendOwned(std::string(60, 'x'), 0, 2, 1), SendResult::kSent);
}

TEST_F(CanaryHubTest, NothingIsTakenWhileTheLinkIsDown) {
  CanaryOutbox w0(hub_, 0, 1 << 20);
  hub_.setUp(false);
  EXPECT_EQ(w0.sendOwned("a", 0, 2, 1), SendResult::kDisconnected);
  EXPECT_EQ(hub_.held(), 0u);
}

// A stopping home takes nothing any more: what is handed over is released.
TEST_F(CanaryHubTest, HandOffToADetachedHomeIsReleased) {
  CanaryOutbox w0(hub_, 0, 1 << 20);
  EXPECT_EQ(w0.sendOwned("abc", 0, 2, 1), SendResult::kSent);
  w0.handOver();
  EXPECT_GT(hub_.held(), 0u);
  hub_.detach(1);  // releases the batch it never took
  EXPECT_EQ(hub_.held(), 0u);
  EXPECT_EQ(w0.sendOwned("abc", 0, 2, 1), SendResult::kSent);
  w0.handOver();
  EXPECT_EQ(hub_.held(), 0u);
  hub_.attach(1, &wakes_[1]);
}

TEST_F(CanaryHubTest, MessagesReachTheirWorkerInOrder) {
  std::vector<LinkMessage> out(2);
  out[0].comparison = 4;
  out[1].comparison = 5;
  out[1].reply = "$1\r\nx\r\n";
  hub_.post(2, out);
  EXPECT_TRUE(out.empty());
  std::vector<LinkMessage> none;
  hub_.takeMessages(0, none);
  EXPECT_TRUE(none.empty());
  std::vector<LinkMessage> in;
  hub_.takeMessages(2, in);
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0].comparison, 4u);
  EXPECT_EQ(in[1].reply, "$1\r\nx\r\n");
}

// Workers hand over concurrently; each worker's batches keep their order and
// none is lost.
TEST_F(CanaryHubTest, ConcurrentHandOffsKeepEachWorkersOrder) {
  constexpr int kBatches = 2000;
  std::vector<std::thread> threads;
  for (uint32_t w : {0u, 2u}) {
    threads.emplace_back([this, w] {
      CanaryOutbox outbox(hub_, w, 1ULL << 40);
      for (int i = 0; i < kBatches; ++i) {
        outbox.sendOwned(std::to_string(i), 0, 2, 1);
        outbox.handOver();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<HandoffBatch> batches;
  hub_.takeBatches(batches);
  ASSERT_EQ(batches.size(), 2u * kBatches);
  int next[3] = {0, 0, 0};
  for (const HandoffBatch& batch : batches) {
    EXPECT_EQ(batch.bytes, std::to_string(next[batch.worker]));
    ++next[batch.worker];
  }
}

}  // namespace
}  // namespace redmirror::mirror
