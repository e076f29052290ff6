#pragma once
// What a reloaded configuration changes about the canaries, worked out against
// the configuration loaded before it (not against the running state), so that
// a canary the file did not change keeps what was set at run time (MIRROR SET,
// CANARY ADD), and the operator's edit is what gets applied.
#include <string>
#include <vector>

#include "redmirror/control/config.h"

namespace redmirror::control {

struct CanaryChanges {
  std::vector<std::string> removed;       // in the previous file, not in the new one
  std::vector<CanaryConfig> added;        // in the new file only
  std::vector<CanaryConfig> replaced;     // in both, with another address, credentials or limits
  std::vector<CanaryConfig> reweighted;   // in both, only the percent differs
  bool empty() const { return removed.empty() && added.empty() && replaced.empty() && reweighted.empty(); }
  // "added c2; re-weighted c1 (10% -> 25%); removed c3", or "no canary changed".
  std::string summary(const std::vector<CanaryConfig>& previous) const;
};

CanaryChanges planCanaryChanges(const std::vector<CanaryConfig>& previous, const std::vector<CanaryConfig>& next);

// Whether two canary entries connect the same way (address, credentials'
// source, limits): if so, only the percent may differ and no link is reopened.
bool sameConnection(const CanaryConfig& a, const CanaryConfig& b);

}  // namespace redmirror::control
