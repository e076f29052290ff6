#pragma once
// Sums the workers' counters and every canary's counters into a StatsSnapshot,
// and asks the judge for each canary's verdict. Reads only atomics and what
// CanaryReadings hands out under its own locks, so any thread may call it
// (the admin socket on the control loop, HTTP on its own threads); never a
// worker's loop.
#include <cstdint>
#include <functional>
#include <vector>

#include "redmirror/control/canary_readings.h"
#include "redmirror/control/stats_snapshot.h"
#include "redmirror/net/counter.h"
#include "redmirror/verdict/verdict.h"

namespace redmirror::control {

class StatsCollector final : public StatsSource {
 public:
  // Every worker's counters by worker index; thread-safe (relaxed loads).
  using WorkerCounters = std::function<std::vector<std::vector<net::CounterReading>>()>;

  StatsCollector(const CanaryReadings& canaries, WorkerCounters workers, const verdict::Judge& judge);

  StatsSnapshot snapshot(bool withWindows) const override;
  bool primaryReachable() const override { return canaries_.primaryReachable(); }

 private:
  CanarySnapshot canarySnapshot(CanaryReading reading, bool withWindow) const;

  const CanaryReadings& canaries_;
  WorkerCounters workers_;
  const verdict::Judge& judge_;
  int64_t startedUnixMs_;
};

}  // namespace redmirror::control
