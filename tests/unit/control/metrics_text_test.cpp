// GET /metrics' text: parseable as the Prometheus text format, one header per
// family, histograms cumulative, and the exact sums of the counters behind it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "redmirror/control/metrics_text.h"
#include "stats_fixture.h"

namespace redmirror::control {
namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Parsed {
  std::map<std::string, std::string> types;  // family -> type
  std::map<std::string, std::string> helps;
  std::vector<Sample> samples;
  std::vector<std::string> errors;
};

// The family a sample belongs to: a histogram's _bucket/_sum/_count are its own.
std::string familyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto found = types.find(base);
      if (found != types.end() && found->second == "histogram") return base;
    }
  }
  return name;
}

// A strict reader of the text format: every line is # HELP, # TYPE or a
// sample; a family's header comes once, before its samples, and its samples
// are not interleaved with another family's.
Parsed parse(const std::string& text) {
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)$)");
  static const std::regex kLabel(R"(^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)\"(,|$))");
  Parsed parsed;
  std::set<std::string> finished;  // families whose samples ended
  std::string current;
  std::istringstream lines(text);
  std::string line;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(lines, line)) {
    std::smatch match;
    if (std::regex_match(line, match, kHelp)) {
      if (!parsed.helps.emplace(match[1], match[2]).second) parsed.errors.push_back("HELP twice: " + line);
      continue;
    }
    if (std::regex_match(line, match, kType)) {
      const std::string family = match[1];
      if (!parsed.types.emplace(family, match[2]).second) parsed.errors.push_back("TYPE twice: " + line);
      if (parsed.helps.count(family) == 0) parsed.errors.push_back("TYPE before HELP: " + line);
      continue;
    }
    if (!std::regex_match(line, match, kSample)) {
      parsed.errors.push_back("not a sample: " + line);
      continue;
    }
    Sample sample;
    sample.name = match[1];
    std::string labels = match[3];
    while (!labels.empty()) {
      std::smatch label;
      if (!std::regex_search(labels, label, kLabel)) {
        parsed.errors.push_back("bad labels: " + line);
        break;
      }
      sample.labels[label[1]] = label[2];
      labels = label.suffix();
    }
    const std::string value = match[4];
    char* end = nullptr;
    sample.value = value == "+Inf" ? INFINITY : std::strtod(value.c_str(), &end);
    if (value != "+Inf" && (end == nullptr || *end != '\0')) parsed.errors.push_back("bad value: " + line);
    const std::string family = familyOf(sample.name, parsed.types);
    if (parsed.types.count(family) == 0) parsed.errors.push_back("sample before its TYPE: " + line);
    if (family != current) {
      if (finished.count(family) != 0) parsed.errors.push_back("family interleaved: " + line);
      if (!current.empty()) finished.insert(current);
      current = family;
    }
    parsed.samples.push_back(std::move(sample));
  }
  return parsed;
}

// The value of the one sample with this name and these labels (NaN if none or several).
double valueOf(const Parsed& parsed, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  double value = NAN;
  int found = 0;
  for (const Sample& sample : parsed.samples) {
    if (sample.name == name && sample.labels == labels) {
      value = sample.value;
      ++found;
    }
  }
  return found == 1 ? value : NAN;
}

class MetricsTextTest : public ::testing::Test {
 protected:
  testing::StatsFixture fixture_;
};

TEST_F(MetricsTextTest, EveryLineIsHelpTypeOrSampleAndFamiliesAreWhole) {
  const std::string text = renderMetrics(fixture_.snapshot());
  const Parsed parsed = parse(text);
  for (const std::string& error : parsed.errors) ADD_FAILURE() << error;
  EXPECT_GT(parsed.samples.size(), 50u);
  for (const auto& [family, type] : parsed.types) {
    EXPECT_EQ(family.rfind("redmirror_", 0), 0u) << family;
    EXPECT_EQ(parsed.helps.count(family), 1u) << family;
    EXPECT_FALSE(parsed.helps.at(family).empty()) << family;
    const bool total = family.size() > 6 && family.compare(family.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(type == "counter", total) << family << " is a " << type;
  }
}

TEST_F(MetricsTextTest, ExactSumsOfTheWorkersAndCanaryCounters) {
  const Parsed parsed = parse(renderMetrics(fixture_.snapshot()));
  EXPECT_EQ(valueOf(parsed, "redmirror_workers"), 2);
  EXPECT_EQ(valueOf(parsed, "redmirror_primary_up"), 1);
  EXPECT_EQ(valueOf(parsed, "redmirror_connections_total", {{"side", "client"}}), 5);
  EXPECT_EQ(valueOf(parsed, "redmirror_connections_closed_total", {{"side", "client"}}), 2);
  EXPECT_EQ(valueOf(parsed, "redmirror_connections_open", {{"side", "client"}}), 1);
  EXPECT_EQ(valueOf(parsed, "redmirror_bytes_total", {{"side", "client"}}), 150);
  EXPECT_EQ(valueOf(parsed, "redmirror_bytes_total", {{"side", "primary"}}), 50);
  EXPECT_EQ(valueOf(parsed, "redmirror_commands_total", {{"side", "primary"}}), 12);
  EXPECT_EQ(valueOf(parsed, "redmirror_commands_total", {{"side", "canary"}}), 11);  // 6 + 1 effect + 4
  EXPECT_EQ(valueOf(parsed, "redmirror_replies_total", {{"side", "primary"}}), 11);
  EXPECT_EQ(valueOf(parsed, "redmirror_observe_failures_total"), 1);
  EXPECT_EQ(valueOf(parsed, "redmirror_backpressure_pauses_total"), 2);

  const std::map<std::string, std::string> c1 = {{"canary", "c1"}};
  EXPECT_EQ(valueOf(parsed, "redmirror_mirror_percent", c1), 25.5);
  EXPECT_EQ(valueOf(parsed, "redmirror_effective_percent", c1), 25.5);
  EXPECT_EQ(valueOf(parsed, "redmirror_mirrored_total", c1), 11);
  EXPECT_EQ(valueOf(parsed, "redmirror_compared_total", c1), 6);
  EXPECT_EQ(valueOf(parsed, "redmirror_matched_total", c1), 4);
  EXPECT_EQ(valueOf(parsed, "redmirror_diverged_total", {{"canary", "c1"}, {"class", "value"}}), 1);
  EXPECT_EQ(valueOf(parsed, "redmirror_diverged_total", {{"canary", "c1"}, {"class", "lost_write"}}), 0);
  EXPECT_TRUE(std::isnan(valueOf(parsed, "redmirror_diverged_total", {{"canary", "c1"}, {"class", "cold_miss"}})));
  EXPECT_EQ(valueOf(parsed, "redmirror_cold_misses_total", c1), 1);
  EXPECT_EQ(valueOf(parsed, "redmirror_dropped_total", {{"canary", "c1"}, {"reason", "queue_full"}}), 2);
  EXPECT_EQ(valueOf(parsed, "redmirror_dropped_total", {{"canary", "c1"}, {"reason", "shed"}}), 1);
  EXPECT_EQ(valueOf(parsed, "redmirror_skipped_total", {{"canary", "c1"}, {"reason", "policy"}}), 5);
  EXPECT_EQ(valueOf(parsed, "redmirror_skipped_total", {{"canary", "c1"}, {"reason", "dropped"}}), 2);
  EXPECT_EQ(valueOf(parsed, "redmirror_links_up", c1), 1);
  // Counters without a labelled family of their own still come out, once.
  EXPECT_EQ(valueOf(parsed, "redmirror_canary_reconnects_total", c1), 1);
  EXPECT_EQ(valueOf(parsed, "redmirror_canary_keys_tainted_total", c1), 0);
  EXPECT_TRUE(std::isnan(valueOf(parsed, "redmirror_canary_mirrored_total", c1)));
  // The window and the verdict.
  EXPECT_DOUBLE_EQ(valueOf(parsed, "redmirror_divergence_ratio", c1), 1.0 / 6.0);
  EXPECT_EQ(valueOf(parsed, "redmirror_window_comparisons", c1), 6);
  EXPECT_EQ(valueOf(parsed, "redmirror_verdict", {{"canary", "c1"}, {"verdict", "pending"}}), 1);
  for (const char* other : {"pass", "marginal", "fail"}) {
    EXPECT_EQ(valueOf(parsed, "redmirror_verdict", {{"canary", "c1"}, {"verdict", other}}), 0) << other;
  }
}

TEST_F(MetricsTextTest, LatencyHistogramsAreCumulativeAndEndAtTheirCount) {
  const Parsed parsed = parse(renderMetrics(fixture_.snapshot()));
  for (const char* side : {"primary", "canary"}) {
    std::vector<std::pair<double, double>> buckets;  // le, count
    for (const Sample& sample : parsed.samples) {
      if (sample.name != "redmirror_reply_latency_seconds_bucket" || sample.labels.at("side") != side) continue;
      const std::string le = sample.labels.at("le");
      buckets.emplace_back(le == "+Inf" ? INFINITY : std::stod(le), sample.value);
    }
    ASSERT_GT(buckets.size(), 10u) << side;
    for (size_t i = 1; i < buckets.size(); ++i) {
      EXPECT_LT(buckets[i - 1].first, buckets[i].first) << side;
      EXPECT_LE(buckets[i - 1].second, buckets[i].second) << side;
    }
    EXPECT_TRUE(std::isinf(buckets.back().first)) << side;
    const std::map<std::string, std::string> labels = {{"canary", "c1"}, {"side", side}};
    EXPECT_EQ(buckets.back().second, valueOf(parsed, "redmirror_reply_latency_seconds_count", labels)) << side;
    EXPECT_EQ(buckets.back().second, 6) << side;
  }
  const std::map<std::string, std::string> primary = {{"canary", "c1"}, {"side", "primary"}, {"le", "0.00005"}};
  EXPECT_EQ(valueOf(parsed, "redmirror_reply_latency_seconds_bucket", primary), 2);  // 40 and 50 µs
  const std::map<std::string, std::string> canary = {{"canary", "c1"}, {"side", "canary"}, {"le", "25"}};
  EXPECT_EQ(valueOf(parsed, "redmirror_reply_latency_seconds_bucket", canary), 5);  // not the 30 s one
  EXPECT_DOUBLE_EQ(valueOf(parsed, "redmirror_reply_latency_seconds_sum", {{"canary", "c1"}, {"side", "primary"}}),
                   (40 + 120 + 3000 + 90 + 50 + 70) / 1e6);
}

TEST_F(MetricsTextTest, WithoutWindowsNoVerdictOrRatioIsInvented) {
  const Parsed parsed = parse(renderMetrics(fixture_.snapshot(false)));
  for (const std::string& error : parsed.errors) ADD_FAILURE() << error;
  EXPECT_EQ(parsed.types.count("redmirror_verdict"), 0u);
  EXPECT_EQ(parsed.types.count("redmirror_divergence_ratio"), 0u);
  EXPECT_EQ(valueOf(parsed, "redmirror_compared_total", {{"canary", "c1"}}), 6);
}

TEST(MetricsText, NoCanaryMeansNoCanaryFamilies) {
  StatsSnapshot snapshot;
  snapshot.workers.push_back({{"connections_accepted", "h", 1}});
  snapshot.total = snapshot.workers.front();
  const Parsed parsed = parse(renderMetrics(snapshot));
  for (const std::string& error : parsed.errors) ADD_FAILURE() << error;
  EXPECT_EQ(parsed.types.count("redmirror_mirrored_total"), 0u);
  EXPECT_EQ(valueOf(parsed, "redmirror_connections_total", {{"side", "client"}}), 1);
}

TEST(MetricsText, LabelValuesAndSecondsAreWrittenExactly) {
  EXPECT_EQ(escapeLabelValue(R"(a"b\c)" "\n"), R"(a\"b\\c\n)");
  EXPECT_EQ(microsAsSeconds(50), "0.00005");
  EXPECT_EQ(microsAsSeconds(2500000), "2.5");
  EXPECT_EQ(microsAsSeconds(10000000), "10");
  EXPECT_EQ(microsAsSeconds(0), "0");
  EXPECT_EQ(microsAsSeconds(1234567), "1.234567");
}

}  // namespace
}  // namespace redmirror::control
