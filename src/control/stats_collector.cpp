#include "redmirror/control/stats_collector.h"

#include <chrono>
#include <string_view>
#include <utility>

namespace redmirror::control {

namespace {

int64_t unixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Every canary counter summed over the workers, in declaration order.
std::vector<net::CounterReading> canaryCounters(const mirror::CanaryCounterSet& set) {
  std::vector<net::CounterReading> out;
#define REDMIRROR_SUM_CANARY_COUNTER(name, help)                                                  \
  {                                                                                                \
    uint64_t total = 0;                                                                            \
    for (const mirror::CanaryCounters& counters : set.perWorker) total += counters.name.load(std::memory_order_relaxed); \
    out.push_back({#name, help, total});                                                           \
  }
  REDMIRROR_CANARY_COUNTERS(REDMIRROR_SUM_CANARY_COUNTER)
#undef REDMIRROR_SUM_CANARY_COUNTER
  return out;
}

// Sums the workers' readings name by name (every worker reads the same list).
std::vector<net::CounterReading> sumWorkers(const std::vector<std::vector<net::CounterReading>>& workers) {
  std::vector<net::CounterReading> total;
  for (const std::vector<net::CounterReading>& worker : workers) {
    if (total.empty()) {
      total = worker;
      continue;
    }
    for (size_t i = 0; i < total.size() && i < worker.size(); ++i) total[i].value += worker[i].value;
  }
  return total;
}

uint64_t valueOf(const std::vector<net::CounterReading>& readings, std::string_view name) {
  for (const net::CounterReading& reading : readings) {
    if (name == reading.name) return reading.value;
  }
  return 0;
}

}  // namespace

uint64_t CanarySnapshot::counter(std::string_view name) const { return valueOf(counters, name); }

double CanarySnapshot::divergenceRatio() const {
  if (!window || window->compared == 0) return 0.0;
  return static_cast<double>(window->diverged) / static_cast<double>(window->compared);
}

uint64_t StatsSnapshot::totalOf(std::string_view name) const { return valueOf(total, name); }

const CanarySnapshot* StatsSnapshot::canary(std::string_view name) const {
  for (const CanarySnapshot& one : canaries) {
    if (one.name == name) return &one;
  }
  return nullptr;
}

StatsCollector::StatsCollector(const CanaryReadings& canaries, WorkerCounters workers, const verdict::Judge& judge)
    : canaries_(canaries), workers_(std::move(workers)), judge_(judge), startedUnixMs_(unixNowMs()) {}

StatsSnapshot StatsCollector::snapshot(bool withWindows) const {
  StatsSnapshot snapshot;
  snapshot.atUnixMs = unixNowMs();
  snapshot.startedUnixMs = startedUnixMs_;
  snapshot.primaryReachable = canaries_.primaryReachable();
  snapshot.paused = canaries_.paused();
  snapshot.workers = workers_();
  snapshot.total = sumWorkers(snapshot.workers);
  for (CanaryReading& reading : canaries_.readCanaries(withWindows)) {
    snapshot.canaries.push_back(canarySnapshot(std::move(reading), withWindows));
  }
  return snapshot;
}

CanarySnapshot StatsCollector::canarySnapshot(CanaryReading reading, bool withWindow) const {
  const mirror::CanaryCounterSet& set = *reading.counters;
  CanarySnapshot out;
  out.name = std::move(reading.name);
  out.address = std::move(reading.address);
  out.percentHundredths = reading.percentHundredths;
  out.effectiveHundredths = mirror::effectiveHundredths(reading.percentHundredths, set);
  out.queuedBytes = set.hub.held();
  out.counters = canaryCounters(set);
  out.dropped = droppedTotals(set);
  out.skipped = skippedTotals(set);
  for (const mirror::CanaryCounters& counters : set.perWorker) {
    for (size_t i = 0; i < out.outcomes.size(); ++i) out.outcomes[i] += counters.outcomes[i].load(std::memory_order_relaxed);
    out.primaryLatency.add(counters.primaryLatency);
    out.canaryLatency.add(counters.canaryLatency);
    const int64_t up = counters.links_up.load(std::memory_order_relaxed);
    out.linksUp += up > 0 ? up : 0;
  }
  out.windowStartedUnixMs = reading.windowStartedUnixMs;
  out.windowSeconds = reading.windowSeconds;
  out.windowMirrored = reading.windowMirrored;
  out.commandTableChecked = reading.commandTableChecked;
  out.commandDifferences = std::move(reading.commandDifferences);
  if (withWindow) {
    out.window = std::move(reading.window);
    out.verdict = judge_.judge(verdict::Evidence{out.name, out.windowStartedUnixMs, out.windowSeconds, *out.window});
  }
  return out;
}

}  // namespace redmirror::control
