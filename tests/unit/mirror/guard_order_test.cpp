// Guarded writes and the pops they feed (guard_order.h): a pop waits only for
// unresolved guards framed before its reply was read, on its own keys, on any
// worker; guards resolved out of order still move the watermark exactly.
#include "redmirror/mirror/guard_order.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace redmirror::mirror {
namespace {

TEST(GuardOrder, NothingPendingWithoutGuards) {
  GuardOrder order(2);
  EXPECT_FALSE(order.pendingAtOrBefore(UINT64_MAX - 1));
  EXPECT_FALSE(order.keyPending(42));
}

TEST(GuardOrder, OnlyGuardsFramedBeforeThePopsReplyHoldIt) {
  auto order = std::make_shared<GuardOrder>(2);
  auto queue = std::make_shared<GuardQueue>(order, 1);
  PendingGuard guard(queue, 100, {7});
  EXPECT_TRUE(order->keyPending(7));
  EXPECT_FALSE(order->keyPending(8));
  EXPECT_TRUE(order->pendingAtOrBefore(100));
  EXPECT_TRUE(order->pendingAtOrBefore(150));
  EXPECT_FALSE(order->pendingAtOrBefore(99)) << "a pop read before the write was framed cannot have been fed by it";
  guard.reset();
  EXPECT_FALSE(order->keyPending(7));
  EXPECT_FALSE(order->pendingAtOrBefore(150));
}

// Replies come back in any order across sessions: the watermark is the oldest
// guard still open, whatever closed after it.
TEST(GuardQueue, WatermarkIsTheOldestOpenGuard) {
  auto order = std::make_shared<GuardOrder>(1);
  auto queue = std::make_shared<GuardQueue>(order, 0);
  auto first = std::make_unique<PendingGuard>(queue, 10, std::vector<uint64_t>{1});
  auto second = std::make_unique<PendingGuard>(queue, 20, std::vector<uint64_t>{2});
  auto third = std::make_unique<PendingGuard>(queue, 30, std::vector<uint64_t>{3});
  EXPECT_EQ(queue->unresolved(), 3u);
  second.reset();  // closes the middle one
  EXPECT_TRUE(order->pendingAtOrBefore(10));
  EXPECT_FALSE(order->keyPending(2));
  first.reset();
  EXPECT_FALSE(order->pendingAtOrBefore(29)) << "the guards framed before 30 are all resolved";
  EXPECT_TRUE(order->pendingAtOrBefore(30));
  third.reset();
  EXPECT_FALSE(order->pendingAtOrBefore(UINT64_MAX - 1));
  EXPECT_EQ(queue->unresolved(), 0u);
}

TEST(GuardQueue, EveryWorkerCounts) {
  auto order = std::make_shared<GuardOrder>(3);
  auto a = std::make_shared<GuardQueue>(order, 0);
  auto c = std::make_shared<GuardQueue>(order, 2);
  PendingGuard onA(a, 50, {5});
  PendingGuard onC(c, 40, {5});
  EXPECT_TRUE(order->pendingAtOrBefore(45));
  onC.reset();
  EXPECT_FALSE(order->pendingAtOrBefore(45));
  EXPECT_TRUE(order->keyPending(5)) << "the guard of worker 0 still holds key 5";
}

TEST(PendingGuard, MovedGuardClosesOnce) {
  auto order = std::make_shared<GuardOrder>(1);
  auto queue = std::make_shared<GuardQueue>(order, 0);
  PendingGuard original(queue, 5, {9, 9});
  PendingGuard moved(std::move(original));
  original.reset();  // moved-from: nothing to close
  EXPECT_TRUE(order->keyPending(9));
  moved.reset();
  EXPECT_FALSE(order->keyPending(9));
  moved.reset();
  EXPECT_EQ(queue->unresolved(), 0u);
}

}  // namespace
}  // namespace redmirror::mirror
