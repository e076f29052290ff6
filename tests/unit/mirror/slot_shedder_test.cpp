// The effective share of a canary that cannot keep up (slot_shedder.h): shed
// by whole slots from the top while drops happen or the budget fills, never
// below nothing, given back step by step after a calm period, and never more
// than the configured share.
#include "redmirror/mirror/slot_shedder.h"

#include <gtest/gtest.h>

namespace redmirror::mirror {
namespace {

constexpr uint64_t kBudget = 16 << 20;

SlotShedder::Input at(uint64_t ms, uint32_t threshold, uint64_t held, uint64_t drops) {
  SlotShedder::Input input;
  input.nowMs = ms;
  input.thresholdSlots = threshold;
  input.heldBytes = held;
  input.budgetBytes = kBudget;
  input.drops = drops;
  return input;
}

TEST(SlotShedder, AHealthyCanaryIsNeverShed) {
  SlotShedder shedder;
  for (uint64_t ms = 0; ms < 60000; ms += 250) {
    EXPECT_EQ(shedder.update(at(ms, 1638, 64 * 1024, 0)), 0u) << ms;
  }
}

TEST(SlotShedder, DropsBeforeTheFirstLookAreNotCounted) {
  SlotShedder shedder;
  EXPECT_EQ(shedder.update(at(0, 1638, 0, 5000)), 0u) << "cumulative drops of an earlier overload";
  EXPECT_EQ(shedder.update(at(250, 1638, 0, 5000)), 0u);
}

TEST(SlotShedder, DropsShedAnEighthOfWhatIsLeftEachTime) {
  SlotShedder shedder;
  shedder.update(at(0, 1600, 0, 0));
  EXPECT_EQ(shedder.update(at(250, 1600, 0, 10)), 200u);   // 1600 / 8
  EXPECT_EQ(shedder.update(at(500, 1600, 0, 20)), 375u);   // + 1400 / 8
  EXPECT_EQ(shedder.update(at(750, 1600, 0, 20)), 375u);   // no new drop, not calm yet: held
}

TEST(SlotShedder, AFullBudgetShedsWithoutDrops) {
  SlotShedder shedder;
  shedder.update(at(0, 1600, 0, 0));
  EXPECT_EQ(shedder.update(at(250, 1600, kBudget * 3 / 4, 0)), 200u);
}

TEST(SlotShedder, NeverShedsMoreThanTheShare) {
  SlotShedder shedder;
  uint64_t drops = 0;
  shedder.update(at(0, 20, 0, drops));
  for (int i = 1; i < 100; ++i) shedder.update(at(i * 250u, 20, 0, drops += 10));
  EXPECT_EQ(shedder.shed(), 20u);
  // The operator lowers the share below what is shed.
  EXPECT_LE(shedder.update(at(100000, 8, 0, drops)), 8u);
}

TEST(SlotShedder, ClimbsBackAfterCalmPeriods) {
  SlotShedder shedder;
  shedder.update(at(0, 1600, 0, 0));
  shedder.update(at(250, 1600, 0, 10));
  ASSERT_EQ(shedder.shed(), 200u);
  // Calm, but not for long enough yet.
  EXPECT_EQ(shedder.update(at(250 + SlotShedder::kRecoverAfterMs - 1, 1600, 0, 10)), 200u);
  EXPECT_EQ(shedder.update(at(250 + SlotShedder::kRecoverAfterMs, 1600, 0, 10)), 100u);  // 1600 / 16 back
  // Busy (between calm and pressure): no climb, and the calm period starts over.
  EXPECT_EQ(shedder.update(at(5000, 1600, kBudget / 4, 10)), 100u);
  EXPECT_EQ(shedder.update(at(5000 + SlotShedder::kRecoverAfterMs - 1, 1600, 0, 10)), 100u);
  EXPECT_EQ(shedder.update(at(5000 + 2 * SlotShedder::kRecoverAfterMs, 1600, 0, 10)), 0u);
  EXPECT_EQ(shedder.update(at(60000, 1600, 0, 10)), 0u);
}

}  // namespace
}  // namespace redmirror::mirror
