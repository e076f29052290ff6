#pragma once
// Reply latencies of compared commands in fixed buckets, cumulative since the
// canary was added (never reset by RESET): what Prometheus histograms need
// (`_bucket{le}`, `_sum`, `_count`), and what the status page turns into
// percentiles over time by subtracting two readings. The report's log-linear
// LatencyHistogram is finer but per window, so it cannot serve either.
//
// One writer per block (the worker that resolved the comparison: plain
// load+store, no locked instruction); the control side reads with relaxed
// loads and sums the workers.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "redmirror/net/counter.h"

namespace redmirror::mirror {

// Upper bounds of the buckets in microseconds (a 1-2.5-5 series from 50 µs to
// 10 s: a loopback reply takes ~50 µs, a canary's includes its link's batching
// delay of 2 ms); one more bucket above the last bound is +Inf.
inline constexpr std::array<uint64_t, 18> kLatencyBoundsUs = {
    50,     100,    250,    500,     1000,    2500,    5000,    10000,   25000,
    50000,  100000, 250000, 500000,  1000000, 2500000, 5000000, 10000000, 25000000};
inline constexpr size_t kLatencyBuckets = kLatencyBoundsUs.size() + 1;

struct LatencyBuckets {
  std::array<std::atomic<uint64_t>, kLatencyBuckets> counts{};  // per bucket, not cumulative
  std::atomic<uint64_t> sumUs{0};

  void record(uint64_t micros) {
    const auto bound = std::lower_bound(kLatencyBoundsUs.begin(), kLatencyBoundsUs.end(), micros);
    net::bump(counts[static_cast<size_t>(bound - kLatencyBoundsUs.begin())]);
    net::bump(sumUs, micros);
  }
};

// A reading of one or more LatencyBuckets (summed over workers).
struct LatencyCounts {
  std::array<uint64_t, kLatencyBuckets> counts{};  // per bucket, not cumulative
  uint64_t sumUs = 0;

  void add(const LatencyBuckets& buckets) {
    for (size_t i = 0; i < kLatencyBuckets; ++i) counts[i] += buckets.counts[i].load(std::memory_order_relaxed);
    sumUs += buckets.sumUs.load(std::memory_order_relaxed);
  }
  uint64_t count() const {
    uint64_t total = 0;
    for (uint64_t n : counts) total += n;
    return total;
  }
  // What was recorded after `earlier` (a previous reading of the same
  // buckets); a bucket that went down (the canary was replaced) counts whole.
  LatencyCounts since(const LatencyCounts& earlier) const;
  // The q-quantile (0 < q <= 1) in microseconds, interpolated linearly inside
  // its bucket as Prometheus's histogram_quantile does (the +Inf bucket
  // answers its lower bound); nullopt when nothing was recorded.
  std::optional<double> quantileUs(double q) const;
};

inline LatencyCounts LatencyCounts::since(const LatencyCounts& earlier) const {
  LatencyCounts out;
  bool replaced = false;
  for (size_t i = 0; i < kLatencyBuckets; ++i) replaced = replaced || counts[i] < earlier.counts[i];
  if (replaced || sumUs < earlier.sumUs) return *this;
  for (size_t i = 0; i < kLatencyBuckets; ++i) out.counts[i] = counts[i] - earlier.counts[i];
  out.sumUs = sumUs - earlier.sumUs;
  return out;
}

inline std::optional<double> LatencyCounts::quantileUs(double q) const {
  const uint64_t total = count();
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    if (counts[i] == 0 || static_cast<double>(below + counts[i]) < rank) {
      below += counts[i];
      continue;
    }
    const double lower = i == 0 ? 0.0 : static_cast<double>(kLatencyBoundsUs[i - 1]);
    if (i == kLatencyBoundsUs.size()) return lower;
    const double upper = static_cast<double>(kLatencyBoundsUs[i]);
    const double within = (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
    return lower + (upper - lower) * std::clamp(within, 0.0, 1.0);
  }
  return static_cast<double>(kLatencyBoundsUs.back());
}

}  // namespace redmirror::mirror
