#include "redmirror/control/stats_json.h"

namespace redmirror::control {

namespace {

using Json = nlohmann::ordered_json;

Json countersJson(const std::vector<net::CounterReading>& readings) {
  Json out = Json::object();
  for (const net::CounterReading& reading : readings) out[reading.name] = reading.value;
  return out;
}

Json verdictOf(const CanarySnapshot& canary) {
  if (canary.verdict) return verdict::toJson(*canary.verdict);
  // Without its window a canary has no verdict: say so in the same shape.
  verdict::Verdict pending;
  pending.canary = canary.name;
  pending.sinceUnixMs = canary.windowStartedUnixMs;
  pending.reasons.emplace_back("window not read");
  return verdict::toJson(pending);
}

}  // namespace

Json statsJson(const StatsSnapshot& snapshot) {
  Json workers = Json::array();
  for (size_t i = 0; i < snapshot.workers.size(); ++i) {
    Json worker = Json::object();
    worker["worker"] = i;
    worker.update(countersJson(snapshot.workers[i]));
    workers.push_back(std::move(worker));
  }
  return Json{{"uptime_seconds", static_cast<double>(snapshot.atUnixMs - snapshot.startedUnixMs) / 1000.0},
              {"primary_reachable", snapshot.primaryReachable},
              {"paused", snapshot.paused},
              {"workers", std::move(workers)},
              {"total", countersJson(snapshot.total)}};
}

std::string verdictJson(const StatsSnapshot& snapshot, const std::string& canary, Json& json) {
  if (!canary.empty()) {
    const CanarySnapshot* one = snapshot.canary(canary);
    if (one == nullptr) return "unknown canary '" + canary + "'";
    json = verdictOf(*one);
    return "";
  }
  Json all = Json::array();
  for (const CanarySnapshot& one : snapshot.canaries) all.push_back(verdictOf(one));
  json = Json{{"canaries", std::move(all)}};
  return "";
}

}  // namespace redmirror::control
