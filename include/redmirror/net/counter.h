#pragma once
// Counters with one writer: each worker bumps only its own (plain load+store,
// no locked instruction on the data path); readers use relaxed loads.
#include <atomic>
#include <cstdint>

namespace redmirror::net {

inline void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

}  // namespace redmirror::net
