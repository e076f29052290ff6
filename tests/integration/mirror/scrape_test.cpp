// The HTTP side as real consumers read it: /metrics parsed by the Prometheus
// client library's own text-format parser (names, types, labels, cumulative
// histograms), and the status page rendered by headless Chromium, whose DOM
// must show the numbers REPORT gives, with a screenshot kept as an artifact.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class Scrape : public MirrorTest {};

// The Debian packages scripts/install-deps.sh installs for these tests.
constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kChromium = "chromium";

// Canaries c1 and c2 at 100%, two workers and --http; 30 SET/GET pairs, then
// one divergence on c2 (a value changed behind the proxy's back).
struct ScrapeRig {
  static constexpr int kPairs = 30;
  ScrapeRig() : port(it::freePort()), rig(options(port)), client("127.0.0.1", port) {
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
  }
  static Rig::Options options(uint16_t port) {
    Rig::Options options;
    options.canaries = 2;
    options.percents = {"100", "100"};
    options.extraArgs = {"--http", "127.0.0.1:" + std::to_string(port)};
    return options;
  }
  // Sends the traffic and waits until both canaries compared all of it.
  void traffic() {
    ASSERT_TRUE(rig.waitLinksUp("c1"));
    ASSERT_TRUE(rig.waitLinksUp("c2"));
    Ctx c = connectOrDie(rig.proxyPort());
    for (int i = 0; i < kPairs; ++i) {
      const std::string key = "scrape:" + std::to_string(i);
      EXPECT_EQ(str(run(c.get(), {"SET", key, "value"}).get()), "OK");
      EXPECT_EQ(str(run(c.get(), {"GET", key}).get()), "value");
    }
    for (const char* canary : {"c1", "c2"}) {
      ASSERT_EQ(eventually([&]() -> std::string {
                  const auto r = reportOf(*rig.admin, canary);
                  return r.value("compared", 0) == 2 * kPairs ? "" : r.dump();
                }, Millis(15000)), "") << canary;
    }
    Ctx c2 = connectOrDie(rig.canaries[1]->port());
    run(c2.get(), {"SET", "scrape:0", "other"});
    EXPECT_EQ(str(run(c.get(), {"GET", "scrape:0"}).get()), "value");
    ASSERT_EQ(eventually([&]() -> std::string {
                const auto r = reportOf(*rig.admin, "c2");
                return r.value("compared", 0) == 2 * kPairs + 1 ? "" : r.dump();
              }, Millis(15000)), "");
    ASSERT_EQ(eventually([&]() -> std::string {
                const auto r = reportOf(*rig.admin, "c1");
                return r.value("compared", 0) == 2 * kPairs + 1 ? "" : r.dump();
              }, Millis(15000)), "");
  }
  uint16_t port;
  Rig rig;
  httplib::Client client;
};

struct Sample {
  std::map<std::string, std::string> labels;
  double value;
};

struct Family {
  std::string type;
  std::map<std::string, std::vector<Sample>> samples;  // by sample name
};

// Parses a scrape with prometheus_client; a gtest failure when it does not parse
// or declares a family twice. The parser names a counter's family without
// "_total" (the OpenMetrics convention); its samples keep the name.
std::map<std::string, Family> parseWithPrometheus(const std::string& text) {
  std::map<std::string, Family> families;
  it::TempDir dir;
  const std::string path = dir.file("metrics.txt");
  std::ofstream(path) << text;
  int status = -1;
  const std::string out = shell(std::string(kPython) + " " + REDMIRROR_IT_SOURCE_DIR "/parse_metrics.py " + path +
                                    " 2>&1",
                                &status);
  EXPECT_EQ(status, 0) << "prometheus_client rejected /metrics:\n" << out;
  const auto parsed = nlohmann::json::parse(out, nullptr, false);
  EXPECT_TRUE(parsed.is_array()) << out;
  if (!parsed.is_array()) return families;
  for (const auto& family : parsed) {
    const std::string name = family["name"];
    EXPECT_EQ(families.count(name), 0u) << "family declared twice: " << name;
    Family& f = families[name];
    f.type = family["type"];
    for (const auto& s : family["samples"]) {
      f.samples[s["name"]].push_back({s["labels"].get<std::map<std::string, std::string>>(), s["value"].get<double>()});
    }
  }
  return families;
}

// The value of the sample `name` with exactly `labels`, or -1 when there is none.
double valueOf(const std::map<std::string, Family>& families, const std::string& family, const std::string& name,
               const std::map<std::string, std::string>& labels) {
  const auto f = families.find(family);
  if (f == families.end()) return -1;
  const auto s = f->second.samples.find(name);
  if (s == f->second.samples.end()) return -1;
  for (const Sample& sample : s->second) {
    if (sample.labels == labels) return sample.value;
  }
  return -1;
}

// The label sets of a family's samples called `name`, each as "k=v,k=v".
std::set<std::string> labelSets(const Family& family, const std::string& name) {
  std::set<std::string> out;
  const auto s = family.samples.find(name);
  if (s == family.samples.end()) return out;
  for (const Sample& sample : s->second) {
    std::string text;
    for (const auto& [key, value] : sample.labels) text += (text.empty() ? "" : ",") + key + "=" + value;
    out.insert(text);
  }
  return out;
}

TEST_F(Scrape, MetricsParseWithThePrometheusClientParser) {
  ASSERT_TRUE(std::filesystem::exists(kPython) && shell(std::string(kPython) + " -c 'import prometheus_client' 2>&1").empty())
      << "python3-prometheus-client is not installed (scripts/install-deps.sh installs it)";
  ScrapeRig h;
  h.traffic();
  if (HasFatalFailure()) return;
  auto scrape = h.client.Get("/metrics");
  ASSERT_TRUE(scrape);
  ASSERT_EQ(scrape->status, 200);
  const auto families = parseWithPrometheus(scrape->body);
  ASSERT_FALSE(families.empty());
  const double pairs = ScrapeRig::kPairs;

  // Counters by side.
  for (const auto& [family, sides] : std::map<std::string, std::set<std::string>>{
           {"redmirror_commands", {"side=primary", "side=canary"}},
           {"redmirror_bytes", {"side=client", "side=primary"}},
           {"redmirror_connections", {"side=client"}}}) {
    ASSERT_EQ(families.count(family), 1u) << family;
    EXPECT_EQ(families.at(family).type, "counter") << family;
    EXPECT_EQ(labelSets(families.at(family), family + "_total"), sides) << family;
  }
  EXPECT_EQ(valueOf(families, "redmirror_commands", "redmirror_commands_total", {{"side", "primary"}}), 2 * pairs + 1);
  EXPECT_EQ(valueOf(families, "redmirror_commands", "redmirror_commands_total", {{"side", "canary"}}),
            2 * (2 * pairs + 1));
  EXPECT_GT(valueOf(families, "redmirror_bytes", "redmirror_bytes_total", {{"side", "client"}}), 0);
  EXPECT_EQ(valueOf(families, "redmirror_connections", "redmirror_connections_total", {{"side", "client"}}), 1);

  // Per canary: mirrored, compared, diverged by class, skipped and dropped by reason.
  for (const char* canary : {"c1", "c2"}) {
    const auto report = reportOf(*h.rig.admin, canary);
    for (const char* family : {"redmirror_mirrored", "redmirror_compared"}) {
      ASSERT_EQ(families.count(family), 1u) << family;
      EXPECT_EQ(families.at(family).type, "counter") << family;
      EXPECT_EQ(valueOf(families, family, std::string(family) + "_total", {{"canary", canary}}), 2 * pairs + 1)
          << family << " " << canary;
    }
    const double diverged = std::string(canary) == "c2" ? 1 : 0;
    EXPECT_EQ(valueOf(families, "redmirror_diverged", "redmirror_diverged_total", {{"canary", canary}, {"class", "value"}}),
              diverged)
        << canary;
    for (const char* reason : {"policy", "unsampled_keys", "tainted"}) {
      EXPECT_EQ(valueOf(families, "redmirror_skipped", "redmirror_skipped_total", {{"canary", canary}, {"reason", reason}}),
                static_cast<double>(skippedOf(report, reason)))
          << canary << " " << reason;
    }
    for (const char* reason : {"queue_full", "disconnected", "timeout", "oversize", "session_closed"}) {
      EXPECT_EQ(valueOf(families, "redmirror_dropped", "redmirror_dropped_total", {{"canary", canary}, {"reason", reason}}),
                0)
          << canary << " " << reason;
    }
    EXPECT_EQ(valueOf(families, "redmirror_effective_percent", "redmirror_effective_percent", {{"canary", canary}}), 100);
    EXPECT_DOUBLE_EQ(valueOf(families, "redmirror_divergence_ratio", "redmirror_divergence_ratio", {{"canary", canary}}),
                     diverged / (2 * pairs + 1))
        << canary;
    for (const char* verdict : {"pending", "pass", "marginal", "fail"}) {
      EXPECT_EQ(valueOf(families, "redmirror_verdict", "redmirror_verdict", {{"canary", canary}, {"verdict", verdict}}),
                std::string(verdict) == "pending" ? 1 : 0)
          << canary << " " << verdict;
    }
  }
  for (const char* family : {"redmirror_diverged", "redmirror_skipped", "redmirror_dropped"}) {
    ASSERT_EQ(families.count(family), 1u) << family;
    EXPECT_EQ(families.at(family).type, "counter") << family;
  }
  for (const char* family : {"redmirror_effective_percent", "redmirror_divergence_ratio", "redmirror_verdict"}) {
    ASSERT_EQ(families.count(family), 1u) << family;
    EXPECT_EQ(families.at(family).type, "gauge") << family;
  }

  // Latency: a real histogram per canary and side, buckets cumulative, +Inf = count.
  const std::string latency = "redmirror_reply_latency_seconds";
  ASSERT_EQ(families.count(latency), 1u);
  const Family& histogram = families.at(latency);
  EXPECT_EQ(histogram.type, "histogram");
  EXPECT_EQ(labelSets(histogram, latency + "_count"),
            (std::set<std::string>{"canary=c1,side=canary", "canary=c1,side=primary", "canary=c2,side=canary",
                                   "canary=c2,side=primary"}));
  for (const char* canary : {"c1", "c2"}) {
    for (const char* side : {"primary", "canary"}) {
      std::vector<std::pair<double, double>> buckets;  // (le, count) in scrape order
      for (const Sample& s : histogram.samples.at(latency + "_bucket")) {
        if (s.labels.at("canary") != canary || s.labels.at("side") != side) continue;
        const std::string le = s.labels.at("le");
        buckets.emplace_back(le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le), s.value);
      }
      ASSERT_GE(buckets.size(), 2u) << canary << " " << side;
      for (size_t i = 1; i < buckets.size(); ++i) {
        EXPECT_LT(buckets[i - 1].first, buckets[i].first) << "le not increasing, " << canary << " " << side;
        EXPECT_LE(buckets[i - 1].second, buckets[i].second) << "buckets not cumulative, " << canary << " " << side;
      }
      EXPECT_TRUE(std::isinf(buckets.back().first)) << "no +Inf bucket, " << canary << " " << side;
      const std::map<std::string, std::string> labels = {{"canary", canary}, {"side", side}};
      EXPECT_EQ(valueOf(families, latency, latency + "_count", labels), 2 * pairs + 1) << canary << " " << side;
      EXPECT_EQ(buckets.back().second, 2 * pairs + 1) << canary << " " << side;
      EXPECT_GT(valueOf(families, latency, latency + "_sum", labels), 0) << canary << " " << side;
    }
  }
}


// The cells of the status page's canary row for `name` in a DOM dump ("" each
// when there is no such row).
std::vector<std::string> rowCells(const std::string& dom, const std::string& name) {
  const size_t start = dom.find("<tr><td><b>" + name + "</b>");
  if (start == std::string::npos) return {};
  const std::string row = dom.substr(start, dom.find("</tr>", start) - start);
  std::vector<std::string> cells;
  for (size_t at = row.find("<td"); at != std::string::npos; at = row.find("<td", at + 1)) {
    const size_t open = row.find('>', at) + 1;
    cells.push_back(row.substr(open, row.find("</td>", open) - open));
  }
  return cells;
}

std::string chromium(const std::string& dir, const std::string& args) {
  int status = -1;
  const std::string out = shell("timeout 180 " + std::string(kChromium) +
                                    " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir=" +
                                    dir + "/profile " + args + " 2>" + dir + "/chromium.err",
                                &status);
  std::ifstream err(dir + "/chromium.err");
  const std::string errText((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_EQ(status, 0) << "chromium " << args << " failed:\n" << errText;
  return out;
}

TEST_F(Scrape, StatusPageInHeadlessChromiumShowsWhatReportSays) {
  ASSERT_TRUE(haveProgram(kChromium)) << "chromium is not installed (scripts/install-deps.sh installs it)";
  ScrapeRig h;
  h.traffic();
  if (HasFatalFailure()) return;
  it::TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(h.port) + "/";
  const std::string dom = chromium(dir.path(), "--dump-dom " + url);
  ASSERT_NE(dom.find("<h1>redmirror</h1>"), std::string::npos) << dom;

  for (const char* canary : {"c1", "c2"}) {
    const auto report = reportOf(*h.rig.admin, canary);
    const auto cells = rowCells(dom, canary);
    ASSERT_EQ(cells.size(), 7u) << "no row of 7 cells for " << canary << " in:\n" << dom;
    EXPECT_NE(cells[0].find("127.0.0.1:" + std::to_string(h.rig.canaries[canary == std::string("c1") ? 0 : 1]->port())),
              std::string::npos)
        << cells[0];
    EXPECT_NE(cells[1].find(">pending<"), std::string::npos) << cells[1];
    EXPECT_EQ(cells[2].rfind("100%<br>", 0), 0u) << cells[2];
    std::smatch numbers;
    ASSERT_TRUE(std::regex_search(cells[3], numbers, std::regex(R"(^(\d+)<br><small>diverged (\d+) \()")))
        << cells[3];
    EXPECT_EQ(std::stoll(numbers[1]), report.value("compared", -1LL)) << canary << " REPORT " << report.dump();
    EXPECT_EQ(std::stoll(numbers[2]), report.value("diverged", -1LL)) << canary << " REPORT " << report.dump();
  }
  EXPECT_EQ(reportOf(*h.rig.admin, "c2").value("diverged", -1), 1) << "the test's divergence did not count";

  // The screenshot, kept in the build directory for a person to look at.
  const std::string artifacts = REDMIRROR_IT_ARTIFACTS_DIR;
  std::filesystem::create_directories(artifacts);
  const std::string png = artifacts + "/status-page.png";
  std::filesystem::remove(png);
  chromium(dir.path(), "--hide-scrollbars --window-size=1280,900 --screenshot=" + png + " " + url);
  ASSERT_TRUE(std::filesystem::exists(png)) << png;
  std::ifstream in(png, std::ios::binary);
  std::string magic(8, '\0');
  in.read(magic.data(), 8);
  EXPECT_EQ(magic, std::string("\x89PNG\r\n\x1a\n", 8)) << png << " is not a PNG";
  EXPECT_GT(std::filesystem::file_size(png), 10000u) << png;
  std::cout << "status page screenshot: " << png << std::endl;
  RecordProperty("screenshot", png);
}

}  // namespace
}  // namespace mirror_it
