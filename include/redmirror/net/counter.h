#pragma once
// Counters with one writer: each worker bumps only its own (plain load+store,
// no locked instruction on the data path); readers use relaxed loads.
#include <atomic>
#include <cstdint>

namespace redmirror::net {

// One counter's value as the control side reads it: the name and help text
// its X-macro declares. Lets a module export its counters to another without
// either including the other (a worker's counters reach STATS and /metrics
// through the composition root).
struct CounterReading {
  const char* name;
  const char* help;
  uint64_t value;
  bool gauge = false;  // a level (may go down), not a count of events
};

inline void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

}  // namespace redmirror::net
