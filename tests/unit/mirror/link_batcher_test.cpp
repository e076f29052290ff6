// LinkBatcher on a real libuv loop: when do a link's queued bytes go out?
#include "redmirror/mirror/link_batcher.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <vector>

namespace redmirror::mirror {
namespace {

class FakeLink final : public BatchedLink {
 public:
  explicit FakeLink(LinkBatcher& batcher) : batcher_(batcher) {}
  ~FakeLink() override { batcher_.forget(*this); }
  void queue(size_t bytes) {
    if (queued_ == 0) batcher_.schedule(*this);
    queued_ += bytes;
  }
  bool flushBatch(uint64_t nowUs) override {
    if (heldBack) {  // a link that cannot write everything yet
      ++attempts;
      return false;
    }
    flushes.push_back(nowUs);
    queued_ = 0;
    return true;
  }
  bool heldBack = false;
  int attempts = 0;
  size_t unflushedBytes() const override { return queued_; }
  std::vector<uint64_t> flushes;

 private:
  LinkBatcher& batcher_;
  size_t queued_ = 0;
};

class LinkBatcherTest : public ::testing::Test {
 protected:
  LinkBatcherTest() { uv_loop_init(&loop_); }
  ~LinkBatcherTest() override {
    batcher_.close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_TRUE(batcher_.closed());
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  uv_loop_t loop_{};
  LinkBatcher batcher_{&loop_};
};

uint64_t nowUs() { return uv_hrtime() / 1000; }

TEST_F(LinkBatcherTest, ZeroDelayWritesEveryTurn) {
  batcher_.configure(0, 16384);
  FakeLink link(batcher_);
  link.queue(10);
  batcher_.onTurnEnd();
  ASSERT_EQ(link.flushes.size(), 1u);
  link.queue(10);
  batcher_.onTurnEnd();
  EXPECT_EQ(link.flushes.size(), 2u);
}

TEST_F(LinkBatcherTest, SmallBatchWaitsForTheDelayThenTheTimerWritesIt) {
  batcher_.configure(20000, 16384);  // 20 ms
  FakeLink link(batcher_);
  const uint64_t queuedAt = nowUs();
  link.queue(100);
  batcher_.onTurnEnd();
  EXPECT_TRUE(link.flushes.empty()) << "a small batch went out before its delay";
  link.queue(100);  // joins the same batch
  batcher_.onTurnEnd();
  EXPECT_TRUE(link.flushes.empty());
  // Nothing else runs on the loop: only the batcher's timer can write it.
  uv_run(&loop_, UV_RUN_ONCE);
  ASSERT_EQ(link.flushes.size(), 1u);
  EXPECT_GE(link.flushes[0] - queuedAt, 19000u);
  EXPECT_LT(link.flushes[0] - queuedAt, 200000u);
}

TEST_F(LinkBatcherTest, FullBatchGoesAtTheEndOfTheTurn) {
  batcher_.configure(1000000, 4096);  // 1 s: only the size can trigger it
  FakeLink link(batcher_);
  link.queue(1000);
  batcher_.onTurnEnd();
  EXPECT_TRUE(link.flushes.empty());
  link.queue(5000);
  batcher_.onTurnEnd();
  EXPECT_EQ(link.flushes.size(), 1u);
}

TEST_F(LinkBatcherTest, DueBatchGoesAtTheEndOfABusyTurn) {
  batcher_.configure(2000, 1 << 20);
  FakeLink link(batcher_);
  link.queue(10);
  batcher_.onTurnEnd();
  const uint64_t start = nowUs();
  while (nowUs() - start < 3000) {
  }  // a busy loop turn longer than the delay
  batcher_.onTurnEnd();
  EXPECT_EQ(link.flushes.size(), 1u);
}

TEST_F(LinkBatcherTest, LinkHeldBackByOtherLinksIsRetriedEachTurnAndByTheTimer) {
  batcher_.configure(0, 16384);
  FakeLink link(batcher_);
  link.heldBack = true;
  link.queue(10);
  batcher_.onTurnEnd();
  EXPECT_EQ(link.attempts, 1);
  batcher_.onTurnEnd();  // still queued: tried again
  EXPECT_EQ(link.attempts, 2);
  EXPECT_TRUE(link.flushes.empty());
  link.heldBack = false;  // the other links wrote their older commands
  uv_run(&loop_, UV_RUN_ONCE);  // an idle loop: the timer retries it
  ASSERT_EQ(link.flushes.size(), 1u);
  batcher_.onTurnEnd();
  EXPECT_EQ(link.flushes.size(), 1u) << "a written link stays queued";
}

// Effects held for a moment (a pop waiting for the move that fed it) must run
// even when nothing else happens on the loop: the timer calls the wake handler.
TEST_F(LinkBatcherTest, WakeHandlerRunsFromTheTimerOnAnIdleLoop) {
  batcher_.configure(0, 16384);
  int wakes = 0;
  batcher_.setWakeHandler([&] { ++wakes; });
  const uint64_t start = nowUs();
  batcher_.wakeAt(start + 3000);
  batcher_.wakeAt(start + 50000);  // a later request does not postpone the earlier one
  uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_EQ(wakes, 1);
  EXPECT_GE(nowUs() - start, 2000u);
  EXPECT_LT(nowUs() - start, 40000u);
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(wakes, 1) << "one request, one wake";
}

TEST_F(LinkBatcherTest, ForgottenLinkIsNeverFlushed) {
  batcher_.configure(1000, 16384);
  {
    FakeLink gone(batcher_);
    gone.queue(10);
    batcher_.onTurnEnd();
  }  // destroyed with a batch pending: it must not be called back
  FakeLink kept(batcher_);
  kept.queue(10);
  batcher_.onTurnEnd();
  uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_EQ(kept.flushes.size(), 1u);
}

}  // namespace
}  // namespace redmirror::mirror
