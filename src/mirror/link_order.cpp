#include "redmirror/mirror/link_order.h"

#include <algorithm>

namespace redmirror::mirror {

LinkOrder::LinkOrder(uint32_t slots)
    : slots_(std::min(slots, kMaxSlots)), oldest_(std::make_unique<std::atomic<uint64_t>[]>(slots_)) {
  for (uint32_t i = 0; i < slots_; ++i) oldest_[i].store(kEmpty, std::memory_order_relaxed);
}

uint64_t LinkOrder::othersOldest(uint32_t slot) const {
  uint64_t oldest = kEmpty;
  for (uint32_t i = 0; i < slots_; ++i) {
    if (i != slot) oldest = std::min(oldest, oldest_[i].load(std::memory_order_acquire));
  }
  return oldest;
}

}  // namespace redmirror::mirror
