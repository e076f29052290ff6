// The read side of the control plane against real servers: --http's
// /metrics (exact counts after traffic), /verdict, /report, the Flagger gates,
// /healthz and /readyz following the primary, the status page, and STATS on
// the admin socket with exact per-worker and summed counts.
#include <gtest/gtest.h>
#include <httplib.h>

#include <bitset>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class Http : public MirrorTest {};

// A primary, canary c1 at 100% and a proxy with two workers and --http.
struct HttpRig {
  HttpRig() : port(it::freePort()), rig(options(port)), client("127.0.0.1", port) {
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
  }
  static Rig::Options options(uint16_t port) {
    Rig::Options options;
    options.extraArgs = {"--http", "127.0.0.1:" + std::to_string(port)};
    return options;
  }
  uint16_t port;
  Rig rig;
  httplib::Client client;
};

// The value of one sample line `series value` (series with its labels, as
// printed), or -1 when the text has no such line.
double metric(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

std::string metrics(httplib::Client& client) {
  auto result = client.Get("/metrics");
  if (!result) return "";
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  return result->body;
}

// Waits until the metric reads `expected`; "" or what it read last.
std::string waitMetric(httplib::Client& client, const std::string& series, double expected) {
  return eventually(
      [&]() -> std::string {
        const double value = metric(metrics(client), series);
        return value == expected ? "" : series + " is " + std::to_string(value);
      },
      Millis(15000));
}

nlohmann::json parseJson(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << text;
  return parsed;
}

TEST_F(Http, MetricsCountTheCommandsAndBytesExactly) {
  HttpRig h;
  ASSERT_TRUE(h.rig.waitLinksUp("c1"));
  Ctx c = connectOrDie(h.rig.proxyPort());
  constexpr int kPairs = 40;
  size_t bytes = 0;
  for (int i = 0; i < kPairs; ++i) {
    const std::vector<std::string> set = {"SET", "key:" + std::to_string(i), "value"};
    const std::vector<std::string> get = {"GET", "key:" + std::to_string(i)};
    bytes += it::cmd(set).size() + it::cmd(get).size();
    run(c.get(), set);
    EXPECT_EQ(str(run(c.get(), get).get()), "value");
  }
  EXPECT_EQ(waitMetric(h.client, R"(redmirror_commands_total{side="primary"})", 2 * kPairs), "");
  EXPECT_EQ(waitMetric(h.client, R"(redmirror_compared_total{canary="c1"})", 2 * kPairs), "");
  const std::string text = metrics(h.client);
  EXPECT_EQ(metric(text, R"(redmirror_replies_total{side="primary"})"), 2 * kPairs);
  EXPECT_EQ(metric(text, R"(redmirror_bytes_total{side="client"})"), static_cast<double>(bytes));
  EXPECT_EQ(metric(text, R"(redmirror_connections_total{side="client"})"), 1);
  EXPECT_EQ(metric(text, R"(redmirror_connections_open{side="client"})"), 1);
  EXPECT_EQ(metric(text, R"(redmirror_mirrored_total{canary="c1"})"), 2 * kPairs);
  EXPECT_EQ(metric(text, R"(redmirror_commands_total{side="canary"})"), 2 * kPairs);
  EXPECT_EQ(metric(text, R"(redmirror_matched_total{canary="c1"})"), 2 * kPairs);
  EXPECT_EQ(metric(text, R"(redmirror_diverged_total{canary="c1",class="value"})"), 0);
  EXPECT_EQ(metric(text, R"(redmirror_dropped_total{canary="c1",reason="queue_full"})"), 0);
  EXPECT_EQ(metric(text, R"(redmirror_effective_percent{canary="c1"})"), 100);
  EXPECT_EQ(metric(text, R"(redmirror_primary_up)"), 1);
  EXPECT_EQ(metric(text, R"(redmirror_workers)"), 2);
  for (const char* side : {"primary", "canary"}) {
    const std::string labels = std::string(R"({canary="c1",side=")") + side + "\"";
    EXPECT_EQ(metric(text, "redmirror_reply_latency_seconds_count" + labels + "}"), 2 * kPairs) << side;
    EXPECT_EQ(metric(text, "redmirror_reply_latency_seconds_bucket" + labels + R"(,le="+Inf"})"), 2 * kPairs) << side;
    EXPECT_GT(metric(text, "redmirror_reply_latency_seconds_sum" + labels + "}"), 0) << side;
  }
  EXPECT_EQ(metric(text, R"(redmirror_divergence_ratio{canary="c1"})"), 0);
  EXPECT_EQ(metric(text, R"(redmirror_verdict{canary="c1",verdict="pending"})"), 1);
  EXPECT_EQ(metric(text, R"(redmirror_verdict{canary="c1",verdict="pass"})"), 0);

  // A divergence shows in its class and in the window's ratio.
  Ctx canary = connectOrDie(h.rig.canaries[0]->port());
  run(canary.get(), {"SET", "key:0", "other"});
  EXPECT_EQ(str(run(c.get(), {"GET", "key:0"}).get()), "value");
  EXPECT_EQ(waitMetric(h.client, R"(redmirror_diverged_total{canary="c1",class="value"})", 1), "");
  EXPECT_DOUBLE_EQ(metric(metrics(h.client), R"(redmirror_divergence_ratio{canary="c1"})"), 1.0 / (2 * kPairs + 1));
}

TEST_F(Http, VerdictReportAndGates) {
  HttpRig h;
  ASSERT_TRUE(h.rig.waitLinksUp("c1"));
  Ctx c = connectOrDie(h.rig.proxyPort());
  for (int i = 0; i < 10; ++i) run(c.get(), {"SET", "k" + std::to_string(i), "v"});
  ASSERT_EQ(eventually([&]() -> std::string {
              const auto r = reportOf(*h.rig.admin);
              return r.value("compared", 0) == 10 ? "" : "compared " + r.dump();
            }, Millis(15000)), "");

  auto verdict = h.client.Get("/verdict?canary=c1");
  ASSERT_TRUE(verdict);
  EXPECT_EQ(verdict->status, 200);
  EXPECT_EQ(verdict->get_header_value("Content-Type"), "application/json");
  const auto v = parseJson(verdict->body);
  EXPECT_EQ(v["canary"], "c1");
  EXPECT_EQ(v["verdict"], "pending");
  EXPECT_EQ(v["pass"], false);
  EXPECT_TRUE(v["score"].is_null());
  EXPECT_EQ(v["compared"], 10);
  EXPECT_EQ(v["reasons"], nlohmann::json::array({"no judge yet"}));
  EXPECT_GT(v["since"].get<int64_t>(), 1600000000000);
  // The admin socket's VERDICT is the same JSON.
  EXPECT_EQ(parseJson(h.rig.admin->text({"VERDICT", "c1"})), v);
  auto all = h.client.Get("/verdict");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->status, 200);
  EXPECT_EQ(parseJson(all->body)["canaries"][0], v);
  auto unknown = h.client.Get("/verdict?canary=nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(parseJson(unknown->body)["error"], "unknown canary 'nope'");

  auto report = h.client.Get("/report?canary=c1");
  ASSERT_TRUE(report);
  EXPECT_EQ(report->status, 200);
  EXPECT_EQ(parseJson(report->body).value("compared", -1), 10);
  auto noReport = h.client.Get("/report?canary=nope");
  ASSERT_TRUE(noReport);
  EXPECT_EQ(noReport->status, 404);
  EXPECT_TRUE(parseJson(noReport->body).contains("error"));

  // Flagger's contract: 200 only on pass (promote) or fail (rollback), else 412
  // with one line saying why; with or without a body.
  const std::string flagger = R"({"name":"redis","namespace":"prod","phase":"Progressing","metadata":{}})";
  for (const char* gate : {"/gate/promote", "/gate/rollback"}) {
    auto bare = h.client.Post((std::string(gate) + "?canary=c1").c_str());
    ASSERT_TRUE(bare) << gate;
    EXPECT_EQ(bare->status, 412) << gate;
    EXPECT_EQ(bare->body, "verdict pending: no judge yet\n") << gate;
    auto posted = h.client.Post((std::string(gate) + "?canary=c1").c_str(), flagger, "application/json");
    ASSERT_TRUE(posted) << gate;
    EXPECT_EQ(posted->status, 412) << gate;
    auto missing = h.client.Post((std::string(gate) + "?canary=nope").c_str(), flagger, "application/json");
    ASSERT_TRUE(missing) << gate;
    EXPECT_EQ(missing->status, 404) << gate;
    EXPECT_EQ(parseJson(missing->body)["error"], "unknown canary 'nope'") << gate;
    auto unnamed = h.client.Post(gate, flagger, "application/json");
    ASSERT_TRUE(unnamed) << gate;
    EXPECT_EQ(unnamed->status, 400) << gate;
  }
  // Read-only: the gates are the only POSTs, and nothing else changes state.
  auto post = h.client.Post("/metrics", "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 404);

  auto page = h.client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<b>c1</b>"), std::string::npos);
  EXPECT_NE(page->body.find(">pending<"), std::string::npos);
}

TEST_F(Http, HealthzAndReadyzFollowThePrimary) {
  HttpRig h;
  auto status = [&](const char* path) {
    auto result = h.client.Get(path);
    return result ? result->status : -1;
  };
  EXPECT_EQ(status("/healthz"), 200);
  EXPECT_EQ(status("/readyz"), 200);
  h.rig.primary->stop();
  EXPECT_EQ(eventually([&]() -> std::string { return status("/healthz") == 503 ? "" : "still healthy"; }, Millis(15000)),
            "");
  EXPECT_EQ(status("/readyz"), 503);
  auto body = h.client.Get("/healthz");
  ASSERT_TRUE(body);
  EXPECT_EQ(parseJson(body->body)["primary"], "unreachable");
  EXPECT_EQ(metric(metrics(h.client), "redmirror_primary_up"), 0);
  h.rig.primary->start();
  EXPECT_EQ(eventually([&]() -> std::string { return status("/healthz") == 200 ? "" : "still unhealthy"; }, Millis(15000)),
            "");
  EXPECT_EQ(status("/readyz"), 200);
}

TEST_F(Http, ABusyAddressIsAStartUpError) {
  HttpRig h;
  it::RedisServer primary;
  const it::RunResult result = it::runProxyBinary(
      {"--listen", "127.0.0.1:" + std::to_string(it::freePort()), "--primary",
       "127.0.0.1:" + std::to_string(primary.port()), "--http", "127.0.0.1:" + std::to_string(h.port)});
  const std::string log = result.out + result.err;
  EXPECT_EQ(result.exitCode, 1) << log;
  EXPECT_NE(log.find("--http: cannot listen on 127.0.0.1:" + std::to_string(h.port)), std::string::npos) << log;
  const it::RunResult bad = it::runProxyBinary({"--http", "nowhere", "--check-config"});
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.err.find("--http"), std::string::npos) << bad.err;
}

TEST_F(Http, SigtermStopsTheServerWithAnIdleClientConnected) {
  HttpRig h;
  it::RawClient idle(h.port);  // connected, never sends a request
  ASSERT_TRUE(idle.connected());
  auto result = h.client.Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(h.rig.proxy->stop(), 0) << h.rig.proxy->stderrText();
}

// STATS through the admin socket (RESP, as redis-cli sends it): connection i
// sends 2^i commands, so the commands a worker counted say exactly which
// connections it served, and its other counters must agree with them.
TEST_F(Http, StatsCountsEveryWorkerExactlyAndTheirSum) {
  Rig rig;
  constexpr int kConnections = 6;
  const std::vector<std::string> ping = {"PING", "stats"};
  const size_t commandBytes = it::cmd(ping).size();
  const size_t replyBytes = std::string("$5\r\nstats\r\n").size();
  for (int i = 0; i < kConnections; ++i) {
    Ctx c = connectOrDie(rig.proxyPort());
    for (int n = 0; n < (1 << i); ++n) EXPECT_EQ(str(run(c.get(), ping).get()), "stats");
  }
  constexpr uint64_t kCommands = (1u << kConnections) - 1;
  nlohmann::json stats;
  ASSERT_EQ(eventually([&]() -> std::string {
              stats = parseJson(rig.admin->text({"STATS"}));
              const auto& total = stats["total"];
              return total.value("commands_observed", 0ULL) == kCommands &&
                             total.value("connections_closed", 0ULL) == kConnections
                         ? ""
                         : "total " + total.dump();
            }, Millis(15000)), "");
  ASSERT_EQ(stats["workers"].size(), 2u) << stats.dump();
  std::map<std::string, uint64_t> sums;
  uint64_t served = 0;
  for (size_t w = 0; w < 2; ++w) {
    const auto& worker = stats["workers"][w];
    EXPECT_EQ(worker["worker"], w);
    const uint64_t commands = worker["commands_observed"];
    EXPECT_EQ(commands & served, 0u) << "two workers served one connection: " << stats.dump();
    served |= commands;
    const uint64_t connections = std::bitset<kConnections>(commands).count();
    EXPECT_EQ(worker["connections_accepted"], connections) << worker.dump();
    EXPECT_EQ(worker["connections_closed"], connections) << worker.dump();
    EXPECT_EQ(worker["replies_matched"], commands) << worker.dump();
    EXPECT_EQ(worker["client_bytes"], commands * commandBytes) << worker.dump();
    EXPECT_EQ(worker["primary_bytes"], commands * replyBytes) << worker.dump();
    EXPECT_EQ(worker["sessions_active"], 0) << worker.dump();
    EXPECT_EQ(worker["sessions_unobservable"], 0) << worker.dump();
    for (const auto& [name, value] : worker.items()) {
      if (name != "worker") sums[name] += value.get<uint64_t>();
    }
  }
  EXPECT_EQ(served, kCommands);
  for (const auto& [name, sum] : sums) EXPECT_EQ(stats["total"][name], sum) << name;
  EXPECT_EQ(stats["total"]["client_bytes"], kCommands * commandBytes);
  EXPECT_EQ(stats["primary_reachable"], true);
}

}  // namespace
}  // namespace mirror_it
