#pragma once
// GET /: one self-contained HTML page (inline CSS and server-side SVG, nothing
// fetched from elsewhere) in the spirit of HAProxy's stats page: the proxy's
// totals, then a row per canary (verdict, shares, comparisons, divergence
// classes, latency over time, drops) and its command-table differences and
// latest redacted samples. It reloads itself every few seconds.
#include <string>

#include "redmirror/control/stats_history.h"
#include "redmirror/control/stats_snapshot.h"

namespace redmirror::control {

inline constexpr int kStatusRefreshSeconds = 5;

// `snapshot` taken with windows.
std::string renderStatusPage(const StatsSnapshot& snapshot, const StatsHistory& history);

// Text made safe inside HTML elements and attribute values.
std::string escapeHtml(std::string_view text);

}  // namespace redmirror::control
