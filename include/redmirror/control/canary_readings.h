#pragma once
// What the stats collector reads of mirroring: each canary's settings, its
// shared counters and its comparison window, and whether the primary answers.
// Implemented by MirrorManager (thread-safe: any thread may call it); faked in
// tests.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "redmirror/diff/report.h"
#include "redmirror/mirror/settings.h"

namespace redmirror::control {

struct CanaryReading {
  std::string name;
  std::string address;  // HOST:PORT
  uint32_t percentHundredths = 0;
  // Counters of every worker, kept alive by the reader even if the canary is
  // removed meanwhile; read with relaxed loads only.
  std::shared_ptr<const mirror::CanaryCounterSet> counters;
  int64_t windowStartedUnixMs = 0;  // start, CANARY ADD or the last RESET
  double windowSeconds = 0;
  uint64_t windowMirrored = 0;
  // The window merged over the workers, skipped counts window-relative: what
  // REPORT shows. Filled only when windows are asked for (it takes each
  // worker's report lock).
  diff::ReportData window;
  bool commandTableChecked = false;
  std::vector<std::string> commandDifferences;  // how its COMMAND differs from the primary's
};

// A canary's counters grouped by reason, summed over the workers, cumulative:
// REPORT's "skipped" (before its window is subtracted) and CANARY LIST's "dropped".
std::map<std::string, uint64_t> skippedTotals(const mirror::CanaryCounterSet& set);
std::map<std::string, uint64_t> droppedTotals(const mirror::CanaryCounterSet& set);

class CanaryReadings {
 public:
  virtual ~CanaryReadings() = default;
  virtual std::vector<CanaryReading> readCanaries(bool withWindows) const = 0;
  // Whether the last round of the proxy's own connection to the primary got an answer.
  virtual bool primaryReachable() const = 0;
  virtual bool paused() const = 0;
};

}  // namespace redmirror::control
