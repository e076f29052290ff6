#include "redmirror/control/status_page.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace redmirror::control {

namespace {

constexpr size_t kMaxSamplesShown = 10;
constexpr size_t kMaxSampleTextBytes = 200;

const char* verdictColour(verdict::Decision decision) {
  switch (decision) {
    case verdict::Decision::kPass:
      return "#2e7d32";
    case verdict::Decision::kMarginal:
      return "#ef6c00";
    case verdict::Decision::kFail:
      return "#c62828";
    case verdict::Decision::kPending:
      break;
  }
  return "#757575";
}

const char* classColour(std::string_view name) {
  static const std::map<std::string_view, const char*> colours = {
      {"match", "#66bb6a"},          {"cold_miss", "#b0bec5"},  {"value", "#e53935"},
      {"type", "#8e24aa"},           {"lost_write", "#6d4c41"}, {"error_canary_only", "#fb8c00"},
      {"error_primary_only", "#fdd835"}, {"error_code", "#3949ab"}, {"error_text", "#00acc1"}};
  const auto found = colours.find(name);
  return found == colours.end() ? "#9e9e9e" : found->second;
}

std::string percentText(uint32_t hundredths) { return fmt::format("{:g}%", hundredths / 100.0); }

std::string durationText(double micros) {
  if (micros < 1000) return fmt::format("{:.0f} µs", micros);
  if (micros < 1000000) return fmt::format("{:.1f} ms", micros / 1000);
  return fmt::format("{:.2f} s", micros / 1000000);
}

std::string cut(std::string_view text) {
  if (text.size() <= kMaxSampleTextBytes) return escapeHtml(text);
  return escapeHtml(text.substr(0, kMaxSampleTextBytes)) + "…";
}

// Comparisons of the window as one stacked bar: matched, then each class.
std::string classBar(const diff::ReportData& window) {
  if (window.compared == 0) return "<span class=muted>nothing compared yet</span>";
  constexpr double kWidth = 200;
  std::vector<std::pair<std::string, uint64_t>> parts = {{"match", window.matched}};
  for (const auto& [name, count] : window.outcomes) parts.emplace_back(name, count);
  std::string svg = fmt::format(R"(<svg width="{}" height="12" role="img">)", kWidth);
  std::string legend;
  double x = 0;
  for (const auto& [name, count] : parts) {
    if (count == 0) continue;
    const double width = kWidth * static_cast<double>(count) / static_cast<double>(window.compared);
    svg += fmt::format(R"(<rect x="{:.2f}" y="0" width="{:.2f}" height="12" fill="{}"><title>{}: {}</title></rect>)", x,
                       width, classColour(name), escapeHtml(name), count);
    x += width;
    if (name != "match") {
      legend += fmt::format(R"(<span class=key style="color:{}">■</span>{} {} )", classColour(name), escapeHtml(name), count);
    }
  }
  return svg + "</svg><br>" + (legend.empty() ? "<span class=muted>no divergence</span>" : legend);
}

// p50 (solid) and p99 (dashed) of both sides (primary blue, canary orange)
// over the history's span, newest on the right; an interval without
// comparisons leaves a gap, a lone point shows as a dot.
std::string latencyChart(const std::vector<LatencyPoint>& points) {
  constexpr double kWidth = 240;
  constexpr double kHeight = 56;
  constexpr double kTop = 12;  // room for the label
  // A logarithmic scale: p50 and a p99 ten times higher both stay readable.
  double top = 0;
  double bottom = std::numeric_limits<double>::max();
  for (const LatencyPoint& point : points) {
    for (size_t side = 0; side < 2; ++side) {
      for (const std::optional<double>& value : {point.p50Us[side], point.p99Us[side]}) {
        if (!value) continue;
        top = std::max(top, *value);
        bottom = std::min(bottom, *value);
      }
    }
  }
  if (top <= 0) return "<span class=muted>no comparisons yet</span>";
  bottom = std::min(std::max(bottom, 1.0), top / 2);
  const double span = std::log(top / bottom);
  auto yOf = [&](double value) { return kTop + kHeight - std::log(std::max(value, bottom) / bottom) / span * kHeight; };
  const double step = kWidth / static_cast<double>(kHistoryPoints - 1);
  const double first = kWidth - step * static_cast<double>(points.size() - 1);
  std::string svg = fmt::format(R"(<svg width="{}" height="{}" role="img">)", kWidth, kTop + kHeight);
  struct Line {
    size_t side;
    bool p99;
    const char* colour;
  };
  for (const Line line : {Line{0, false, "#1e88e5"}, Line{0, true, "#1e88e5"}, Line{1, false, "#fb8c00"},
                          Line{1, true, "#fb8c00"}}) {
    std::string path;
    size_t run = 0;  // points in the current stretch without a gap
    for (size_t i = 0; i <= points.size(); ++i) {
      const std::optional<double> value =
          i == points.size() ? std::nullopt : line.p99 ? points[i].p99Us[line.side] : points[i].p50Us[line.side];
      if (!value) {
        if (run == 1) path += "h0.1 ";  // a lone point: a dot (round caps)
        run = 0;
        continue;
      }
      path += fmt::format("{}{:.1f},{:.1f} ", run == 0 ? "M" : "L", first + step * static_cast<double>(i),
                          yOf(*value));
      ++run;
    }
    if (path.empty()) continue;
    svg += fmt::format(R"(<path d="{}" fill="none" stroke="{}" stroke-width="1.5" stroke-linecap="round"{}/>)", path,
                       line.colour, line.p99 ? R"( stroke-dasharray="4 2")" : "");
  }
  svg += fmt::format(R"(<text x="0" y="9" class=axis>{} – {} (log) · last {} min</text></svg>)",
                     escapeHtml(durationText(bottom)), escapeHtml(durationText(top)),
                     kHistoryPoints * kHistoryIntervalSeconds / 60);
  auto latest = [&](size_t side) {
    for (auto point = points.rbegin(); point != points.rend(); ++point) {
      if (point->p50Us[side]) return durationText(*point->p50Us[side]) + " / " + durationText(point->p99Us[side].value_or(0));
    }
    return std::string("–");
  };
  return svg + fmt::format("<br><span class=key style=\"color:#1e88e5\">■</span>primary {} "
                           "<span class=key style=\"color:#fb8c00\">■</span>canary {}",
                           escapeHtml(latest(0)), escapeHtml(latest(1)));
}

std::string dropsText(const CanarySnapshot& canary) {
  std::string out;
  for (const auto& [reason, count] : canary.dropped) {
    if (count != 0) out += fmt::format("{} {}<br>", escapeHtml(reason), count);
  }
  return out.empty() ? "<span class=muted>none</span>" : out;
}

std::string canaryRow(const CanarySnapshot& canary, const StatsHistory& history) {
  const verdict::Decision decision = canary.verdict ? canary.verdict->decision : verdict::Decision::kPending;
  std::string reasons;
  if (canary.verdict) {
    for (const std::string& reason : canary.verdict->reasons) reasons += escapeHtml(reason) + "<br>";
  }
  const uint64_t compared = canary.window ? canary.window->compared : 0;
  const uint64_t diverged = canary.window ? canary.window->diverged : 0;
  return fmt::format(
      "<tr><td><b>{}</b><br><span class=muted>{}</span></td>"
      "<td><span class=verdict style=\"background:{}\">{}</span><br><small>{}</small></td>"
      "<td>{}<br><small>effective {}</small></td>"
      "<td>{}<br><small>diverged {} ({:.3g}%)</small></td>"
      "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
      escapeHtml(canary.name), escapeHtml(canary.address), verdictColour(decision), verdict::toString(decision),
      reasons, percentText(canary.percentHundredths), percentText(canary.effectiveHundredths), compared, diverged,
      canary.divergenceRatio() * 100, canary.window ? classBar(*canary.window) : "", latencyChart(history.of(canary.name)),
      dropsText(canary));
}

std::string canaryDetails(const CanarySnapshot& canary) {
  std::string out = fmt::format("<h3>{}</h3>\n", escapeHtml(canary.name));
  if (!canary.commandTableChecked) {
    out += "<p class=muted>command table not compared yet</p>\n";
  } else if (canary.commandDifferences.empty()) {
    out += "<p>command table: same as the primary's</p>\n";
  } else {
    out += "<p>command table differences:</p><ul>";
    for (const std::string& difference : canary.commandDifferences) out += "<li>" + escapeHtml(difference) + "</li>";
    out += "</ul>\n";
  }
  if (!canary.window || canary.window->samples.empty()) return out + "<p class=muted>no divergence samples</p>\n";
  out += "<table class=samples><tr><th>at</th><th>class</th><th>command</th><th>primary</th><th>canary</th></tr>\n";
  const auto& samples = canary.window->samples;
  const size_t shown = std::min(samples.size(), kMaxSamplesShown);
  for (size_t i = 0; i < shown; ++i) {
    const diff::DivergenceSample& sample = samples[samples.size() - 1 - i];  // newest first
    out += fmt::format(
        "<tr><td>{:%Y-%m-%d %H:%M:%S} UTC</td><td><span class=key style=\"color:{}\">■</span>{}</td>"
        "<td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
        fmt::gmtime(static_cast<std::time_t>(sample.atUnixMs / 1000)), classColour(diff::toString(sample.outcome)),
        escapeHtml(diff::toString(sample.outcome)), cut(sample.command), cut(sample.primary), cut(sample.canary));
  }
  return out + "</table>\n";
}

constexpr const char* kStyle = R"(
body{font:13px/1.4 system-ui,sans-serif;margin:1em 2em;color:#212121}
h1{font-size:20px;margin:0 0 .3em}h2{font-size:16px;margin:1.2em 0 .4em}h3{font-size:14px;margin:1em 0 .3em}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f5f5f5}.muted{color:#9e9e9e}.verdict{color:#fff;padding:1px 8px;border-radius:3px;font-weight:600}
.key{margin-right:2px}.axis{font-size:9px;fill:#757575}code{font-size:12px;word-break:break-all}
.bad{color:#c62828;font-weight:600}.samples td{max-width:28em}
)";

}  // namespace

std::string escapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string renderStatusPage(const StatsSnapshot& snapshot, const StatsHistory& history) {
  std::string out = fmt::format(
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"{}\">"
      "<title>redmirror</title><style>{}</style></head><body>\n<h1>redmirror</h1>\n",
      kStatusRefreshSeconds, kStyle);
  out += fmt::format(
      "<p>primary: {} · uptime {:.0f} s · {} worker(s){} · reloads every {} s</p>\n",
      snapshot.primaryReachable ? "reachable" : "<span class=bad>unreachable</span>",
      static_cast<double>(snapshot.atUnixMs - snapshot.startedUnixMs) / 1000.0, snapshot.workers.size(),
      snapshot.paused ? " · <span class=bad>mirroring paused</span>" : "", kStatusRefreshSeconds);
  out += fmt::format(
      "<h2>Proxy</h2>\n<table><tr><th>connections open</th><th>accepted</th><th>commands</th><th>bytes from "
      "clients</th><th>bytes from the primary</th><th>observe failures</th><th>back-pressure pauses</th></tr>\n"
      "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>\n",
      snapshot.totalOf("sessions_active"), snapshot.totalOf("connections_accepted"),
      snapshot.totalOf("commands_observed"), snapshot.totalOf("client_bytes"), snapshot.totalOf("primary_bytes"),
      snapshot.totalOf("sessions_unobservable"), snapshot.totalOf("backpressure_pauses"));
  out += "<h2>Canaries</h2>\n";
  if (snapshot.canaries.empty()) return out + "<p class=muted>no canary</p>\n</body></html>\n";
  out += "<table><tr><th>canary</th><th>verdict</th><th>share</th><th>compared (window)</th>"
         "<th>divergence classes</th><th>latency p50 / p99</th><th>drops</th></tr>\n";
  for (const CanarySnapshot& canary : snapshot.canaries) out += canaryRow(canary, history);
  out += "</table>\n";
  for (const CanarySnapshot& canary : snapshot.canaries) out += canaryDetails(canary);
  return out + "</body></html>\n";
}

}  // namespace redmirror::control
