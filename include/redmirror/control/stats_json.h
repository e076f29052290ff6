#pragma once
// The JSON the admin socket's STATS and VERDICT and the HTTP endpoints return,
// rendered from one StatsSnapshot.
#include <string>

#include <nlohmann/json.hpp>

#include "redmirror/control/stats_snapshot.h"

namespace redmirror::control {

// STATS: {"uptime_seconds","primary_reachable","paused","workers":[{"worker":i,
// counter:value...}],"total":{counter:value...}}, counters by their declared names.
nlohmann::ordered_json statsJson(const StatsSnapshot& snapshot);

// VERDICT: one canary's verdict JSON, or {"canaries":[...]} for all ("").
// Returns "" with the JSON in `json`, or why not ("unknown canary 'x'").
// The snapshot must have been taken with windows.
std::string verdictJson(const StatsSnapshot& snapshot, const std::string& canary, nlohmann::ordered_json& json);

}  // namespace redmirror::control
