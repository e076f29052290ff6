#include "redmirror/mirror/slot_shedder.h"

#include <algorithm>

namespace redmirror::mirror {

uint32_t SlotShedder::update(const Input& input) {
  const uint64_t newDrops = seenDrops_ && input.drops >= lastDrops_ ? input.drops - lastDrops_ : 0;
  lastDrops_ = input.drops;
  seenDrops_ = true;
  shed_ = std::min(shed_, input.thresholdSlots);  // the operator lowered the share
  const bool pressure =
      newDrops > 0 || (input.budgetBytes > 0 && input.heldBytes * 100 > input.budgetBytes * kPressurePercent);
  const bool calm = newDrops == 0 && input.heldBytes * 100 <= input.budgetBytes * kCalmPercent;
  if (pressure) {
    const uint32_t effective = input.thresholdSlots - shed_;
    if (effective > 0) shed_ += std::max<uint32_t>(1, effective / kShedDivisor);
    calmSinceMs_ = input.nowMs;
    return shed_;
  }
  if (!calm || shed_ == 0) {
    if (!calm) calmSinceMs_ = input.nowMs;
    return shed_;
  }
  if (input.nowMs - calmSinceMs_ >= kRecoverAfterMs) {
    shed_ -= std::min(shed_, std::max<uint32_t>(1, input.thresholdSlots / kClimbDivisor));
    calmSinceMs_ = input.nowMs;
  }
  return shed_;
}

}  // namespace redmirror::mirror
