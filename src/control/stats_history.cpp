#include "redmirror/control/stats_history.h"

#include <iterator>

namespace redmirror::control {

void StatsHistory::record(const StatsSnapshot& snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, Series> next;
  for (const CanarySnapshot& canary : snapshot.canaries) {
    Series series;
    if (auto found = series_.find(canary.name); found != series_.end()) series = std::move(found->second);
    const mirror::LatencyCounts primary = canary.primaryLatency.since(series.primary);
    const mirror::LatencyCounts replica = canary.canaryLatency.since(series.canary);
    LatencyPoint point;
    point.atUnixMs = snapshot.atUnixMs;
    point.p50Us[LatencyPoint::kPrimary] = primary.quantileUs(0.50);
    point.p99Us[LatencyPoint::kPrimary] = primary.quantileUs(0.99);
    point.p50Us[LatencyPoint::kCanary] = replica.quantileUs(0.50);
    point.p99Us[LatencyPoint::kCanary] = replica.quantileUs(0.99);
    series.points.push_back(point);
    while (series.points.size() > capacity_) series.points.pop_front();
    series.primary = canary.primaryLatency;
    series.canary = canary.canaryLatency;
    next[canary.name] = std::move(series);
  }
  series_ = std::move(next);
}

std::vector<LatencyPoint> StatsHistory::of(const std::string& canary) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = series_.find(canary);
  if (found == series_.end()) return {};
  return {found->second.points.begin(), found->second.points.end()};
}

}  // namespace redmirror::control
