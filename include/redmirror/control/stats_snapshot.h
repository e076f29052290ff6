#pragma once
// The proxy's statistics at one moment, as the control side sums them from
// the workers' counters and the canaries' shared counters: plain data, read by
// STATS, /metrics, /verdict, the gates and the status page, so that each of
// them renders the same numbers.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/diff/comparator.h"
#include "redmirror/diff/report.h"
#include "redmirror/mirror/latency_buckets.h"
#include "redmirror/net/counter.h"
#include "redmirror/verdict/verdict.h"

namespace redmirror::control {

struct CanarySnapshot {
  std::string name;
  std::string address;
  uint32_t percentHundredths = 0;
  uint32_t effectiveHundredths = 0;  // less than the share while slots are shed
  uint64_t queuedBytes = 0;
  int64_t linksUp = 0;
  // Every counter of REDMIRROR_CANARY_COUNTERS, summed over the workers, in
  // declaration order; cumulative since the canary was added.
  std::vector<net::CounterReading> counters;
  std::array<uint64_t, diff::kOutcomeCount> outcomes{};  // comparisons by diff::Outcome, cumulative
  std::map<std::string, uint64_t> dropped;  // by reason, cumulative (as CANARY LIST)
  std::map<std::string, uint64_t> skipped;  // by reason, cumulative (REPORT's reasons)
  mirror::LatencyCounts primaryLatency;     // compared commands, cumulative
  mirror::LatencyCounts canaryLatency;

  int64_t windowStartedUnixMs = 0;
  double windowSeconds = 0;
  uint64_t windowMirrored = 0;
  bool commandTableChecked = false;
  std::vector<std::string> commandDifferences;
  // Present only in snapshots taken with windows (each worker's report lock).
  std::optional<diff::ReportData> window;
  std::optional<verdict::Verdict> verdict;

  uint64_t counter(std::string_view name) const;  // 0 when there is none of that name
  // Diverged / compared over the window (0 when nothing was compared).
  double divergenceRatio() const;
};

struct StatsSnapshot {
  int64_t atUnixMs = 0;
  int64_t startedUnixMs = 0;
  bool primaryReachable = false;
  bool paused = false;
  // Every worker's counters (proxy::readCounters), by worker index, and their sums.
  std::vector<std::vector<net::CounterReading>> workers;
  std::vector<net::CounterReading> total;
  std::vector<CanarySnapshot> canaries;

  uint64_t totalOf(std::string_view name) const;  // 0 when there is none of that name
  const CanarySnapshot* canary(std::string_view name) const;
};

// Where STATS, the HTTP endpoints and the status page get their numbers
// (StatsCollector; faked in tests). Thread-safe.
class StatsSource {
 public:
  virtual ~StatsSource() = default;
  // withWindows: also each canary's window and verdict, which takes every
  // worker's report lock and copies its maps; without, only atomic loads.
  virtual StatsSnapshot snapshot(bool withWindows) const = 0;
  virtual bool primaryReachable() const = 0;
};

}  // namespace redmirror::control
