#include "redmirror/control/metrics_text.h"

#include <charconv>
#include <initializer_list>
#include <set>
#include <utility>

namespace redmirror::control {

namespace {

using Label = std::pair<std::string_view, std::string_view>;

// Writes families one at a time: the header once, then every sample of it.
class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {  // HELP text escapes only backslash and newline
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, std::initializer_list<Label> labels, std::string_view value) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, text] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        out_ += escapeLabelValue(text);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
    sample(name, labels, std::to_string(value));
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string percent(uint32_t hundredths) {
  std::string out = std::to_string(hundredths / 100);
  if (const uint32_t rest = hundredths % 100; rest != 0) {
    out += '.';
    out += static_cast<char>('0' + rest / 10);
    if (rest % 10 != 0) out += static_cast<char>('0' + rest % 10);
  }
  return out;
}

// ---------------------------------------------------------------- proxy

// How the workers' counters are exported: families named by what they count
// and labelled by side. A worker counter missing here is still exported, as
// redmirror_<name>_total (a gauge: redmirror_<name>).
struct WorkerFamily {
  const char* counter;  // a name of REDMIRROR_WORKER_COUNTERS or a level; kMirroredCommands: the canaries'
  const char* family;
  const char* type;
  const char* help;
  const char* side;  // nullptr: no side label
};

constexpr const char* kMirroredCommands = "(mirrored)";

constexpr WorkerFamily kWorkerFamilies[] = {
    {"connections_accepted", "redmirror_connections_total", "counter", "connections accepted", "client"},
    {"connections_closed", "redmirror_connections_closed_total", "counter", "connections ended", "client"},
    {"sessions_active", "redmirror_connections_open", "gauge", "connections open", "client"},
    {"primary_connect_failures", "redmirror_connect_failures_total", "counter",
     "sessions whose connection could not be opened", "primary"},
    {"primary_connect_timeouts", "redmirror_connect_timeouts_total", "counter", "connections that did not open in time",
     "primary"},
    {"client_bytes", "redmirror_bytes_total", "counter", "bytes read from a side (and forwarded to the other)",
     "client"},
    {"primary_bytes", "redmirror_bytes_total", "counter", "", "primary"},
    {"commands_observed", "redmirror_commands_total", "counter",
     "commands sent to a side: framed from clients and forwarded to the primary, or written to the canaries (all)",
     "primary"},
    {kMirroredCommands, "redmirror_commands_total", "counter", "", "canary"},
    {"replies_matched", "redmirror_replies_total", "counter", "replies matched to their commands", "primary"},
    {"sessions_unobservable", "redmirror_observe_failures_total", "counter",
     "sessions whose streams the framer or matcher stopped following (forwarding goes on, mirroring stops)", nullptr},
    {"backpressure_pauses", "redmirror_backpressure_pauses_total", "counter",
     "times reading one side paused because the other side's queue was full", nullptr},
    {"shutdown_forced_closes", "redmirror_shutdown_forced_closes_total", "counter",
     "sessions closed at the shutdown deadline", nullptr},
    {"chunk_bytes_live", "redmirror_chunk_live_bytes", "gauge", "bytes held in read chunks", nullptr},
};

uint64_t mirroredOf(const CanarySnapshot& canary) {
  return canary.counter("mirrored") + canary.counter("effects_mirrored");
}

void renderProxy(const StatsSnapshot& snapshot, Writer& out) {
  out.family("redmirror_start_time_seconds", "gauge", "when the proxy started, Unix time");
  out.sample("redmirror_start_time_seconds", {}, number(static_cast<double>(snapshot.startedUnixMs) / 1000.0));
  out.family("redmirror_workers", "gauge", "worker threads");
  out.sample("redmirror_workers", {}, static_cast<uint64_t>(snapshot.workers.size()));
  out.family("redmirror_primary_up", "gauge", "1 when the proxy's own connection to the primary answers PING");
  out.sample("redmirror_primary_up", {}, snapshot.primaryReachable ? 1u : 0u);
  out.family("redmirror_mirror_paused", "gauge", "1 while all mirroring is paused (MIRROR PAUSE)");
  out.sample("redmirror_mirror_paused", {}, snapshot.paused ? 1u : 0u);

  std::set<std::string_view> mapped;
  std::string_view current;
  for (const WorkerFamily& row : kWorkerFamilies) {
    mapped.insert(row.counter);
    if (row.family != current) {
      out.family(row.family, row.type, row.help);
      current = row.family;
    }
    uint64_t value = 0;
    if (row.counter == kMirroredCommands) {
      for (const CanarySnapshot& canary : snapshot.canaries) value += mirroredOf(canary);
    } else {
      value = snapshot.totalOf(row.counter);
    }
    if (row.side != nullptr) {
      out.sample(row.family, {{"side", row.side}}, value);
    } else {
      out.sample(row.family, {}, value);
    }
  }
  for (const net::CounterReading& reading : snapshot.total) {
    if (mapped.count(reading.name) != 0) continue;
    const std::string name = std::string("redmirror_") + reading.name + (reading.gauge ? "" : "_total");
    out.family(name, reading.gauge ? "gauge" : "counter", reading.help);
    out.sample(name, {}, reading.value);
  }
}

// ---------------------------------------------------------------- canaries

// Canary counters shown through the labelled families below; every other one
// is exported as redmirror_canary_<name>_total{canary}.
const std::set<std::string_view>& coveredCanaryCounters() {
  static const std::set<std::string_view> covered = {
      "mirrored", "effects_mirrored", "compared", "matched", "diverged", "canary_errors", "primary_errors",
      // dropped{reason}
      "dropped_queue_full", "dropped_disconnected", "dropped_timeout", "dropped_oversize", "dropped_session_closed",
      "dropped_unconfirmed", "dropped_shed", "dropped_held",
      // skipped{reason}
      "skipped_policy", "skipped_unsampled_keys", "skipped_tainted", "skipped_refused", "skipped_too_large",
      "scripts_killed", "scripts_refused"};
  return covered;
}

template <typename Each>
void perCanary(const StatsSnapshot& snapshot, Writer& out, std::string_view family, std::string_view type,
               std::string_view help, Each each) {
  if (snapshot.canaries.empty()) return;
  out.family(family, type, help);
  for (const CanarySnapshot& canary : snapshot.canaries) each(canary);
}

void renderHistogram(Writer& out, std::string_view family, const CanarySnapshot& canary, std::string_view side,
                     const mirror::LatencyCounts& counts) {
  const std::string bucket = std::string(family) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < mirror::kLatencyBoundsUs.size(); ++i) {
    cumulative += counts.counts[i];
    const std::string le = microsAsSeconds(mirror::kLatencyBoundsUs[i]);
    out.sample(bucket, {{"canary", canary.name}, {"side", side}, {"le", le}}, cumulative);
  }
  cumulative += counts.counts.back();
  out.sample(bucket, {{"canary", canary.name}, {"side", side}, {"le", "+Inf"}}, cumulative);
  out.sample(std::string(family) + "_sum", {{"canary", canary.name}, {"side", side}}, microsAsSeconds(counts.sumUs));
  out.sample(std::string(family) + "_count", {{"canary", canary.name}, {"side", side}}, cumulative);
}

void renderCanaries(const StatsSnapshot& snapshot, Writer& out) {
  using diff::Outcome;
  perCanary(snapshot, out, "redmirror_mirror_percent", "gauge", "share of the key space mirrored to the canary (MIRROR SET)",
            [&](const CanarySnapshot& c) { out.sample("redmirror_mirror_percent", {{"canary", c.name}}, percent(c.percentHundredths)); });
  perCanary(snapshot, out, "redmirror_effective_percent", "gauge",
            "share mirrored now: less than the set share while slots are shed",
            [&](const CanarySnapshot& c) { out.sample("redmirror_effective_percent", {{"canary", c.name}}, percent(c.effectiveHundredths)); });
  perCanary(snapshot, out, "redmirror_mirrored_total", "counter", "commands and effects written to the canary",
            [&](const CanarySnapshot& c) { out.sample("redmirror_mirrored_total", {{"canary", c.name}}, mirroredOf(c)); });
  perCanary(snapshot, out, "redmirror_compared_total", "counter", "replies of both sides compared",
            [&](const CanarySnapshot& c) { out.sample("redmirror_compared_total", {{"canary", c.name}}, c.counter("compared")); });
  perCanary(snapshot, out, "redmirror_matched_total", "counter", "comparisons that found the same reply",
            [&](const CanarySnapshot& c) { out.sample("redmirror_matched_total", {{"canary", c.name}}, c.counter("matched")); });
  perCanary(snapshot, out, "redmirror_diverged_total", "counter", "comparisons that found different replies, by class",
            [&](const CanarySnapshot& c) {
              for (size_t i = 0; i < c.outcomes.size(); ++i) {
                const auto outcome = static_cast<Outcome>(i);
                if (outcome == Outcome::kMatch || outcome == Outcome::kColdMiss) continue;
                out.sample("redmirror_diverged_total", {{"canary", c.name}, {"class", diff::toString(outcome)}},
                           c.outcomes[i]);
              }
            });
  perCanary(snapshot, out, "redmirror_cold_misses_total", "counter",
            "reads of keys the mirror never wrote to the canary (predate mirroring; not divergences)",
            [&](const CanarySnapshot& c) {
              out.sample("redmirror_cold_misses_total", {{"canary", c.name}},
                         c.outcomes[static_cast<size_t>(Outcome::kColdMiss)]);
            });
  perCanary(snapshot, out, "redmirror_skipped_total", "counter", "commands not compared, by reason",
            [&](const CanarySnapshot& c) {
              for (const auto& [reason, count] : c.skipped) out.sample("redmirror_skipped_total", {{"canary", c.name}, {"reason", reason}}, count);
            });
  perCanary(snapshot, out, "redmirror_dropped_total", "counter", "mirrored commands dropped, by reason",
            [&](const CanarySnapshot& c) {
              for (const auto& [reason, count] : c.dropped) out.sample("redmirror_dropped_total", {{"canary", c.name}, {"reason", reason}}, count);
            });
  perCanary(snapshot, out, "redmirror_error_replies_total", "counter", "error replies to mirrored commands, by side",
            [&](const CanarySnapshot& c) {
              out.sample("redmirror_error_replies_total", {{"canary", c.name}, {"side", "primary"}}, c.counter("primary_errors"));
              out.sample("redmirror_error_replies_total", {{"canary", c.name}, {"side", "canary"}}, c.counter("canary_errors"));
            });
  perCanary(snapshot, out, "redmirror_reply_latency_seconds", "histogram",
            "reply time of compared commands as the proxy saw it, by side (the canary's includes its link's batching)",
            [&](const CanarySnapshot& c) {
              renderHistogram(out, "redmirror_reply_latency_seconds", c, "primary", c.primaryLatency);
              renderHistogram(out, "redmirror_reply_latency_seconds", c, "canary", c.canaryLatency);
            });
  perCanary(snapshot, out, "redmirror_queued_bytes", "gauge", "bytes held for the canary now, against its budget",
            [&](const CanarySnapshot& c) { out.sample("redmirror_queued_bytes", {{"canary", c.name}}, c.queuedBytes); });
  perCanary(snapshot, out, "redmirror_links_up", "gauge", "canary connections up and answering",
            [&](const CanarySnapshot& c) { out.sample("redmirror_links_up", {{"canary", c.name}}, static_cast<uint64_t>(c.linksUp)); });
  for (const net::CounterReading& reading : snapshot.canaries.empty() ? std::vector<net::CounterReading>{}
                                                                        : snapshot.canaries.front().counters) {
    if (coveredCanaryCounters().count(reading.name) != 0) continue;
    const std::string family = std::string("redmirror_canary_") + reading.name + "_total";
    perCanary(snapshot, out, family, "counter", reading.help,
              [&](const CanarySnapshot& c) { out.sample(family, {{"canary", c.name}}, c.counter(reading.name)); });
  }

  // The window (since the last RESET): what Flagger and Kayenta judge on.
  std::vector<const CanarySnapshot*> judged;
  for (const CanarySnapshot& canary : snapshot.canaries) {
    if (canary.window && canary.verdict) judged.push_back(&canary);
  }
  if (judged.empty()) return;
  out.family("redmirror_divergence_ratio", "gauge", "diverged / compared in the canary's window (0 before any comparison)");
  for (const CanarySnapshot* c : judged) out.sample("redmirror_divergence_ratio", {{"canary", c->name}}, number(c->divergenceRatio()));
  out.family("redmirror_window_comparisons", "gauge", "comparisons in the canary's window");
  for (const CanarySnapshot* c : judged) out.sample("redmirror_window_comparisons", {{"canary", c->name}}, c->window->compared);
  out.family("redmirror_window_seconds", "gauge", "age of the canary's window (since start, CANARY ADD or RESET)");
  for (const CanarySnapshot* c : judged) out.sample("redmirror_window_seconds", {{"canary", c->name}}, number(c->windowSeconds));
  out.family("redmirror_verdict", "gauge", "1 for the canary's current verdict, 0 for the others");
  for (const CanarySnapshot* c : judged) {
    for (verdict::Decision decision : verdict::kDecisions) {
      out.sample("redmirror_verdict", {{"canary", c->name}, {"verdict", verdict::toString(decision)}},
                 c->verdict->decision == decision ? 1u : 0u);
    }
  }
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string microsAsSeconds(uint64_t micros) {
  std::string out = std::to_string(micros / 1000000);
  uint64_t fraction = micros % 1000000;
  if (fraction == 0) return out;
  std::string digits = std::to_string(fraction);
  digits.insert(0, 6 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

std::string renderMetrics(const StatsSnapshot& snapshot) {
  Writer out;
  renderProxy(snapshot, out);
  renderCanaries(snapshot, out);
  return out.take();
}

}  // namespace redmirror::control
