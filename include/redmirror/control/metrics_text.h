#pragma once
// GET /metrics: a StatsSnapshot in the Prometheus text exposition format
// (version 0.0.4). Every family has one # HELP and one # TYPE line followed
// by all its samples; names start with redmirror_ and carry their unit
// (_total, _seconds, _bytes, _percent, _ratio).
#include <cstdint>
#include <string>
#include <string_view>

#include "redmirror/control/stats_snapshot.h"

namespace redmirror::control {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string renderMetrics(const StatsSnapshot& snapshot);

// A label value escaped as the format wants (\\, \", \n).
std::string escapeLabelValue(std::string_view value);
// Microseconds as seconds in plain decimal, exactly ("0.00005", "2.5", "10").
std::string microsAsSeconds(uint64_t micros);

}  // namespace redmirror::control
