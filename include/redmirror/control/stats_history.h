#pragma once
// Reply latencies of each canary over time, for the status page: every
// record() turns what the cumulative latency buckets gained since the previous
// one into p50 and p99 of both sides. Thread-safe (one recorder, any readers).
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "redmirror/control/stats_snapshot.h"
#include "redmirror/mirror/latency_buckets.h"

namespace redmirror::control {

struct LatencyPoint {
  enum Side : size_t { kPrimary = 0, kCanary = 1 };
  int64_t atUnixMs = 0;
  // By side; none when nothing was compared in the interval.
  std::array<std::optional<double>, 2> p50Us;
  std::array<std::optional<double>, 2> p99Us;
};

// The HTTP server records a point every kHistoryIntervalSeconds and keeps
// kHistoryPoints of them: the last ten minutes.
inline constexpr int kHistoryIntervalSeconds = 5;
inline constexpr size_t kHistoryPoints = 120;

class StatsHistory {
 public:
  explicit StatsHistory(size_t capacity = kHistoryPoints) : capacity_(capacity) {}

  // A point per canary of the snapshot; canaries no longer in it are forgotten.
  void record(const StatsSnapshot& snapshot);
  std::vector<LatencyPoint> of(const std::string& canary) const;

 private:
  struct Series {
    mirror::LatencyCounts primary;  // the readings at the previous point
    mirror::LatencyCounts canary;
    std::deque<LatencyPoint> points;
  };
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::map<std::string, Series> series_;
};

}  // namespace redmirror::control
