// A stats collector over hand-set counters: two workers' real WorkerStats and
// one canary's real CanaryCounterSet, with a fake source for the canary's
// settings and window.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "redmirror/control/canary_readings.h"
#include "redmirror/control/stats_collector.h"
#include "redmirror/mirror/settings.h"
#include "redmirror/proxy/stats.h"
#include "redmirror/verdict/verdict.h"

namespace redmirror::control::testing {

class FakeCanaryReadings : public CanaryReadings {
 public:
  std::vector<CanaryReading> readCanaries(bool withWindows) const override {
    std::vector<CanaryReading> out = readings;
    if (!withWindows) {
      for (CanaryReading& reading : out) reading.window = {};
    }
    return out;
  }
  bool primaryReachable() const override { return reachable; }
  bool paused() const override { return false; }

  std::vector<CanaryReading> readings;
  bool reachable = true;
};

struct StatsFixture {
  static constexpr int64_t kSince = 1700000000123;

  StatsFixture() {
    proxy::WorkerStats& w0 = workers[0];
    w0.connections_accepted = 3;
    w0.client_bytes = 100;
    w0.primary_bytes = 40;
    w0.commands_observed = 7;
    w0.replies_matched = 7;
    w0.sessions_unobservable = 1;
    w0.backpressure_pauses = 2;
    w0.sessions_active = 1;
    proxy::WorkerStats& w1 = workers[1];
    w1.connections_accepted = 2;
    w1.connections_closed = 2;
    w1.client_bytes = 50;
    w1.primary_bytes = 10;
    w1.commands_observed = 5;
    w1.replies_matched = 4;

    mirror::CanaryCounters& c0 = counters->perWorker[0];
    c0.mirrored = 6;
    c0.effects_mirrored = 1;
    c0.compared = 4;
    c0.matched = 3;
    c0.diverged = 1;
    c0.dropped_queue_full = 2;
    c0.dropped_shed = 1;
    c0.skipped_policy = 5;
    c0.reconnects = 1;
    c0.links_up = 1;
    c0.outcomes[static_cast<size_t>(diff::Outcome::kMatch)] = 3;
    c0.outcomes[static_cast<size_t>(diff::Outcome::kValue)] = 1;
    for (uint64_t us : {40, 120, 3000, 90}) c0.primaryLatency.record(us);
    for (uint64_t us : {60, 200, 30000000, 2000}) c0.canaryLatency.record(us);
    mirror::CanaryCounters& c1 = counters->perWorker[1];
    c1.mirrored = 4;
    c1.compared = 2;
    c1.matched = 1;
    c1.outcomes[static_cast<size_t>(diff::Outcome::kMatch)] = 1;
    c1.outcomes[static_cast<size_t>(diff::Outcome::kColdMiss)] = 1;
    c1.primaryLatency.record(50);
    c1.primaryLatency.record(70);
    c1.canaryLatency.record(80);
    c1.canaryLatency.record(1000);

    CanaryReading reading;
    reading.name = "c1";
    reading.address = "127.0.0.1:6381";
    reading.percentHundredths = 2550;
    reading.counters = counters;
    reading.windowStartedUnixMs = kSince;
    reading.windowSeconds = 12.5;
    reading.windowMirrored = 11;
    reading.window.compared = 6;
    reading.window.matched = 4;
    reading.window.diverged = 1;
    reading.window.outcomes = {{"value", 1}, {"cold_miss", 1}};
    reading.commandTableChecked = true;
    reading.commandDifferences = {"removed: lpush"};
    readings.readings.push_back(reading);
  }

  StatsSnapshot snapshot(bool withWindows = true) const { return collector.snapshot(withWindows); }

  proxy::WorkerStats workers[2];
  std::shared_ptr<mirror::CanaryCounterSet> counters = std::make_shared<mirror::CanaryCounterSet>(2, 1024);
  FakeCanaryReadings readings;
  verdict::PendingJudge judge;
  StatsCollector collector{readings,
                           [this] {
                             return std::vector<std::vector<net::CounterReading>>{proxy::readCounters(workers[0]),
                                                                                  proxy::readCounters(workers[1])};
                           },
                           judge};
};

}  // namespace redmirror::control::testing
