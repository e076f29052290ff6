// The stats collector (sums of the workers' and the canary's counters, the
// verdict per canary), STATS and VERDICT on the admin socket, the latency
// history and the status page.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "redmirror/control/admin_server.h"
#include "redmirror/control/stats_history.h"
#include "redmirror/control/stats_json.h"
#include "redmirror/control/status_page.h"
#include "stats_fixture.h"

namespace redmirror::control {
namespace {

using nlohmann::json;

// The fixture's admin needs a MirrorControl it never calls for STATS and VERDICT.
class NoMirrorControl : public MirrorControl {
 public:
  std::string setPercent(const std::string&, uint32_t) override { return "unused"; }
  std::string addCanary(const std::string&, const std::string&) override { return "unused"; }
  std::string removeCanary(const std::string&) override { return "unused"; }
  std::string setPaused(bool) override { return "unused"; }
  bool paused() const override { return false; }
  std::vector<CanaryStatus> canaries() const override { return {}; }
  std::string report(const std::string&, std::string&) const override { return "unused"; }
  std::string resetWindow(const std::string&) override { return "unused"; }
};

// The payload of a RESP bulk reply, or the whole reply when it is not one.
std::string bulkPayload(const std::string& reply) {
  if (reply.empty() || reply[0] != '$') return reply;
  const size_t start = reply.find("\r\n") + 2;
  return reply.substr(start, reply.size() - start - 2);
}

class StatsTest : public ::testing::Test {
 protected:
  std::string run(std::vector<std::string> args) { return admin_.execute(args).encode(); }

  testing::StatsFixture fixture_;
  NoMirrorControl mirror_;
  AdminCommands admin_{mirror_};
};

TEST_F(StatsTest, SnapshotSumsWorkersAndCanaryCounters) {
  const StatsSnapshot snapshot = fixture_.snapshot();
  ASSERT_EQ(snapshot.workers.size(), 2u);
  EXPECT_EQ(snapshot.totalOf("commands_observed"), 12u);
  EXPECT_EQ(snapshot.totalOf("client_bytes"), 150u);
  EXPECT_TRUE(snapshot.primaryReachable);
  const CanarySnapshot* c1 = snapshot.canary("c1");
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(snapshot.canary("nope"), nullptr);
  EXPECT_EQ(c1->counter("mirrored"), 10u);
  EXPECT_EQ(c1->counter("compared"), 6u);
  EXPECT_EQ(c1->outcomes[static_cast<size_t>(diff::Outcome::kMatch)], 4u);
  EXPECT_EQ(c1->dropped.at("queue_full"), 2u);
  EXPECT_EQ(c1->skipped.at("policy"), 5u);
  EXPECT_EQ(c1->primaryLatency.count(), 6u);
  EXPECT_EQ(c1->canaryLatency.count(), 6u);
  EXPECT_EQ(c1->linksUp, 1);
  EXPECT_EQ(c1->effectiveHundredths, 2550u);
  ASSERT_TRUE(c1->verdict.has_value());
  EXPECT_EQ(c1->verdict->decision, verdict::Decision::kPending);
  EXPECT_EQ(c1->verdict->compared, 6u);  // the window's, not the cumulative counter
  EXPECT_EQ(c1->verdict->sinceUnixMs, testing::StatsFixture::kSince);

  const StatsSnapshot light = fixture_.snapshot(false);
  EXPECT_FALSE(light.canaries.front().verdict.has_value());
  EXPECT_FALSE(light.canaries.front().window.has_value());
  EXPECT_EQ(light.canaries.front().counter("compared"), 6u);

  fixture_.readings.reachable = false;
  EXPECT_FALSE(fixture_.snapshot(false).primaryReachable);
  EXPECT_FALSE(fixture_.collector.primaryReachable());
}

TEST_F(StatsTest, StatsShowsEveryWorkerAndTheSums) {
  EXPECT_EQ(run({"STATS"}), "-ERR 'STATS' has no statistics source\r\n");
  admin_.setStats(fixture_.collector);
  const json stats = json::parse(bulkPayload(run({"stats"})));
  ASSERT_EQ(stats["workers"].size(), 2u) << stats.dump();
  EXPECT_EQ(stats["workers"][0]["worker"], 0);
  EXPECT_EQ(stats["workers"][0]["commands_observed"], 7);
  EXPECT_EQ(stats["workers"][1]["worker"], 1);
  EXPECT_EQ(stats["workers"][1]["commands_observed"], 5);
  EXPECT_EQ(stats["total"]["commands_observed"], 12);
  EXPECT_EQ(stats["total"]["connections_accepted"], 5);
  EXPECT_EQ(stats["total"]["client_bytes"], 150);
  EXPECT_EQ(stats["total"]["primary_bytes"], 50);
  EXPECT_EQ(stats["total"]["sessions_unobservable"], 1);
  EXPECT_EQ(stats["total"]["backpressure_pauses"], 2);
  EXPECT_EQ(stats["total"]["sessions_active"], 1);
  EXPECT_EQ(stats["primary_reachable"], true);
  EXPECT_TRUE(stats["uptime_seconds"].is_number());
  // Every worker counter is there, in every worker and in the total.
  for (const net::CounterReading& reading : proxy::readCounters(proxy::WorkerStats{})) {
    EXPECT_TRUE(stats["total"].contains(reading.name)) << reading.name;
    EXPECT_TRUE(stats["workers"][1].contains(reading.name)) << reading.name;
  }
  EXPECT_EQ(run({"STATS", "x"}), "-ERR wrong number of arguments for 'stats'\r\n");
}

TEST_F(StatsTest, VerdictOfOneCanaryOrAll) {
  EXPECT_EQ(run({"VERDICT"}), "-ERR 'VERDICT' has no statistics source\r\n");
  admin_.setStats(fixture_.collector);
  const std::string one = bulkPayload(run({"VERDICT", "c1"}));
  EXPECT_EQ(one, R"({"canary":"c1","verdict":"pending","pass":false,"score":null,"compared":6,)"
                 R"("reasons":["no judge yet"],"since":1700000000123})");
  const json all = json::parse(bulkPayload(run({"verdict"})));
  ASSERT_EQ(all["canaries"].size(), 1u);
  EXPECT_EQ(all["canaries"][0].dump(), json::parse(one).dump());
  EXPECT_EQ(run({"VERDICT", "nope"}), "-ERR unknown canary 'nope'\r\n");
  EXPECT_EQ(run({"VERDICT", "a", "b"}), "-ERR wrong number of arguments for 'verdict'\r\n");
}

TEST(StatsHistoryTest, PercentilesOfEachIntervalNotOfAllTime) {
  mirror::LatencyBuckets primary;
  StatsSnapshot snapshot;
  snapshot.canaries.emplace_back();
  CanarySnapshot& canary = snapshot.canaries.back();
  canary.name = "c1";
  StatsHistory history(3);
  for (int i = 0; i < 100; ++i) primary.record(40);  // the first interval: fast
  canary.primaryLatency.add(primary);
  snapshot.atUnixMs = 1000;
  history.record(snapshot);
  for (int i = 0; i < 100; ++i) primary.record(20000);  // the second: slow
  canary.primaryLatency = {};
  canary.primaryLatency.add(primary);
  snapshot.atUnixMs = 2000;
  history.record(snapshot);
  snapshot.atUnixMs = 3000;  // the third: nothing compared
  history.record(snapshot);

  std::vector<LatencyPoint> points = history.of("c1");
  ASSERT_EQ(points.size(), 3u);
  EXPECT_LE(*points[0].p50Us[LatencyPoint::kPrimary], 50);
  EXPECT_GT(*points[1].p50Us[LatencyPoint::kPrimary], 10000);  // not diluted by the first 100
  EXPECT_LE(*points[1].p50Us[LatencyPoint::kPrimary], 25000);
  EXPECT_FALSE(points[2].p50Us[LatencyPoint::kPrimary].has_value());
  EXPECT_FALSE(points[0].p50Us[LatencyPoint::kCanary].has_value());
  snapshot.atUnixMs = 4000;
  history.record(snapshot);
  points = history.of("c1");
  ASSERT_EQ(points.size(), 3u);  // bounded: the oldest went
  EXPECT_EQ(points.front().atUnixMs, 2000);

  snapshot.canaries.clear();  // a removed canary is forgotten
  history.record(snapshot);
  EXPECT_TRUE(history.of("c1").empty());
}

TEST(LatencyCountsTest, QuantilesInterpolateInsideTheirBucket) {
  mirror::LatencyBuckets buckets;
  mirror::LatencyCounts empty;
  EXPECT_FALSE(empty.quantileUs(0.5).has_value());
  for (int i = 0; i < 10; ++i) buckets.record(300);  // (250, 500]
  mirror::LatencyCounts counts;
  counts.add(buckets);
  EXPECT_EQ(counts.count(), 10u);
  EXPECT_EQ(counts.sumUs, 3000u);
  EXPECT_DOUBLE_EQ(*counts.quantileUs(0.5), 375);  // halfway through the bucket
  EXPECT_DOUBLE_EQ(*counts.quantileUs(1.0), 500);
  buckets.record(50000000);  // above the last bound: +Inf answers its lower bound
  counts = {};
  counts.add(buckets);
  EXPECT_DOUBLE_EQ(*counts.quantileUs(1.0), 25000000);
  // A reading that went down (a canary replaced under the same name) counts whole.
  mirror::LatencyCounts later;
  later.counts[0] = 1;
  EXPECT_EQ(later.since(counts).count(), 1u);
  EXPECT_EQ(counts.since(counts).count(), 0u);
}

TEST(StatusPageTest, SelfContainedEscapedAndComplete) {
  testing::StatsFixture fixture;
  fixture.readings.readings.front().window.samples.push_back(
      diff::DivergenceSample{1700000000000, "GET h:1234", "h:1234", diff::Outcome::kValue, "",
                             "\"<script>alert(1)</script>\"", "\"ok\""});
  StatsHistory history;
  history.record(fixture.snapshot(false));
  const std::string page = renderStatusPage(fixture.snapshot(true), history);
  EXPECT_EQ(page.rfind("<!doctype html>", 0), 0u);
  EXPECT_NE(page.find("http-equiv=\"refresh\""), std::string::npos);
  // Nothing is fetched from elsewhere: no scripts, no links, no external sources.
  for (const char* external : {"<script", "<link", "src=", "href=", "url(", "@import"}) {
    EXPECT_EQ(page.find(external), std::string::npos) << external;
  }
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("<b>c1</b>"), std::string::npos);
  EXPECT_NE(page.find(">pending<"), std::string::npos);
  EXPECT_NE(page.find("no judge yet"), std::string::npos);
  EXPECT_NE(page.find("25.5%"), std::string::npos);
  EXPECT_NE(page.find("removed: lpush"), std::string::npos);  // command-table differences
  EXPECT_NE(page.find("queue_full 2"), std::string::npos);    // drops by reason
  EXPECT_NE(page.find("<title>value: 1</title>"), std::string::npos);  // the class bar
  EXPECT_NE(page.find("<path d=\"M"), std::string::npos);     // a latency chart
  EXPECT_NE(page.find("2023-11-14 22:13:20 UTC"), std::string::npos);
  EXPECT_EQ(escapeHtml(R"(<a href="x">'&')"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;");
}

}  // namespace
}  // namespace redmirror::control
