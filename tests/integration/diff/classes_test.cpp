// Divergence classes with real servers: lost_write (an evicting canary), error_canary_only
// (a canary that renamed a command away, also seen in the command-table diff), cold_miss
// (a canary started empty in front of a filled primary) and RESET of the window.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "diff_util.h"

namespace diff_it {
namespace {

using mirror_it::run;

TEST_F(DiffTest, EvictingCanaryShowsLostWrite) {
  DiffRig::Options options;
  options.canaryArgs = {"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"};
  DiffRig rig(options);
  constexpr int kKeys = 20000;
  const std::string value(200, 'v');
  Ctx c = mirror_it::connectOrDie(rig.proxyPort());
  std::vector<std::vector<std::string>> writes;
  for (int i = 0; i < kKeys; ++i) writes.push_back({"SET", "lw:" + std::to_string(i), value});
  // Batches small enough for the canary's queue budget.
  for (size_t start = 0; start < writes.size(); start += 1000) {
    std::vector<std::vector<std::string>> part(writes.begin() + static_cast<long>(start),
                                               writes.begin() + static_cast<long>(std::min(writes.size(), start + 1000)));
    auto replies = pipeline(c.get(), part, 200);
    ASSERT_EQ(replies.size(), part.size());
    rig.settle(0, Millis(200), Millis(5000));
  }
  rig.settle(kKeys);
  ASSERT_EQ(mirror_it::dbsize(rig.primary->port()), kKeys);
  const long onCanary = mirror_it::dbsize(rig.canary->port());
  ASSERT_LT(onCanary, kKeys) << "the canary did not evict";

  std::vector<std::vector<std::string>> reads;
  for (int i = 0; i < kKeys; ++i) reads.push_back({"GET", "lw:" + std::to_string(i)});
  auto replies = pipeline(c.get(), reads, 200);
  ASSERT_EQ(replies.size(), reads.size());
  for (const auto& reply : replies) ASSERT_EQ(reply->type, REDIS_REPLY_STRING);

  const json r = rig.settle(2 * kKeys - 2000);
  const std::string text = summary(r);
  const uint64_t lost = divergence(r, "lost_write");
  EXPECT_GT(lost, 0u) << text;
  // Every key the canary lacks was written to it by the mirror in this window (unless the
  // write itself was dropped), read on the connection that wrote it.
  if (skipped(r, "dropped") == 0) {
    EXPECT_GE(lost, static_cast<uint64_t>(kKeys - onCanary) * 9 / 10) << text;
    EXPECT_EQ(divergence(r, "cold_miss"), 0u) << text;
  }
  EXPECT_GE(r.value("diverged", 0ULL), lost) << text;
  bool sampled = false;
  for (const auto& sample : r["samples"]) {
    if (sample.value("class", "") == "lost_write") {
      sampled = true;
      EXPECT_NE(sample.value("command", "").find("GET"), std::string::npos) << sample.dump();
      EXPECT_EQ(sample.value("canary", ""), "(nil)") << sample.dump();
    }
  }
  EXPECT_TRUE(sampled) << text;
}

// The mirror wrote a key, then the canary lost it: a read of that key from another client
// connection (possibly served by another proxy worker) is a lost_write too, not a cold miss.
TEST_F(DiffTest, LostWriteSeenFromOtherConnections) {
  DiffRig rig(DiffRig::Options{});
  constexpr int kKeys = 200;
  constexpr int kReaders = 8;
  {
    Ctx writer = mirror_it::connectOrDie(rig.proxyPort());
    for (int i = 0; i < kKeys; ++i) run(writer.get(), {"SET", "ow:" + std::to_string(i), "x"});
  }
  rig.settle(kKeys);
  ASSERT_EQ(mirror_it::dbsize(rig.canary->port()), kKeys);
  {
    Ctx canary = mirror_it::connectOrDie(rig.canary->port());
    run(canary.get(), {"FLUSHALL"});  // the canary loses everything the mirror wrote
  }
  std::vector<Ctx> readers;
  for (int i = 0; i < kReaders; ++i) readers.push_back(mirror_it::connectOrDie(rig.proxyPort()));
  for (int i = 0; i < kKeys; ++i) run(readers[static_cast<size_t>(i % kReaders)].get(), {"GET", "ow:" + std::to_string(i)});
  const json r = rig.settle(2 * kKeys);
  const std::string text = summary(r);
  EXPECT_EQ(divergence(r, "lost_write"), static_cast<uint64_t>(kKeys)) << text;
  EXPECT_EQ(divergence(r, "cold_miss"), 0u) << text;
}

TEST_F(DiffTest, RenamedCommandShowsErrorCanaryOnlyAndCommandTableDifference) {
  DiffRig::Options options;
  options.canaryArgs = {"--rename-command", "LPUSH", ""};
  DiffRig rig(options);
  const json table = rig.waitCommandTableChecked();
  ASSERT_TRUE(table["command_table"].value("checked", false)) << summary(table);
  bool removed = false;
  for (const auto& line : table["command_table"]["differences"]) {
    if (line.get<std::string>() == "removed: lpush") removed = true;
  }
  EXPECT_TRUE(removed) << table["command_table"].dump();

  {
    Ctx c = mirror_it::connectOrDie(rig.proxyPort());
    for (int i = 0; i < 20; ++i) {
      Reply r = run(c.get(), {"LPUSH", "list:" + std::to_string(i), "a", "b"});
      ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);  // the client sees the primary
      EXPECT_EQ(r->integer, 2);
    }
    run(c.get(), {"SET", "plain", "1"});
  }
  const json r = rig.settle(21);
  const std::string text = summary(r);
  EXPECT_EQ(divergence(r, "error_canary_only"), 20u) << text;
  EXPECT_EQ(r.value("diverged", 0ULL), 20u) << text;
  EXPECT_EQ(r.value("matched", 0ULL), 1u) << text;
  EXPECT_GE(r["errors"].value("canary", 0ULL), 20u) << text;
  EXPECT_EQ(r["errors"].value("primary", 1ULL), 0u) << text;
  ASSERT_TRUE(r["by_command"].contains("lpush")) << text;
  EXPECT_EQ(r["by_command"]["lpush"].value("diverged", 0ULL), 20u) << text;
  bool sampled = false;
  for (const auto& sample : r["samples"]) {
    if (sample.value("class", "") == "error_canary_only") {
      sampled = true;
      EXPECT_NE(sample.value("canary", "").find("unknown command"), std::string::npos) << sample.dump();
    }
  }
  EXPECT_TRUE(sampled) << text;
}

// A canary started empty in front of a filled primary: cold misses, not held against it;
// RESET then starts a new window.
TEST_F(DiffTest, EmptyCanaryShowsColdMissThenResetStartsNewWindow) {
  DiffRig rig(DiffRig::Options{});
  constexpr int kKeys = 1000;
  {
    Ctx p = mirror_it::connectOrDie(rig.primary->port());
    std::vector<std::vector<std::string>> fill;
    for (int i = 0; i < kKeys; ++i) fill.push_back({"SET", "cm:" + std::to_string(i), "value" + std::to_string(i)});
    pipeline(p.get(), fill);
  }
  ASSERT_EQ(mirror_it::dbsize(rig.canary->port()), 0);
  Ctx c = mirror_it::connectOrDie(rig.proxyPort());
  std::vector<std::vector<std::string>> reads;
  for (int i = 0; i < kKeys; ++i) reads.push_back({"GET", "cm:" + std::to_string(i)});
  pipeline(c.get(), reads, 100);
  json r = rig.settle(kKeys);
  std::string text = summary(r);
  EXPECT_GE(divergence(r, "cold_miss"), static_cast<uint64_t>(kKeys) * 99 / 100) << text;
  EXPECT_LE(divergence(r, "cold_miss"), static_cast<uint64_t>(kKeys)) << text;
  EXPECT_EQ(r.value("diverged", 1ULL), 0u) << text;
  EXPECT_EQ(divergence(r, "lost_write"), 0u) << text;
  EXPECT_TRUE(r["samples"].empty()) << text;  // cold misses are not sampled
  EXPECT_EQ(r["by_command"]["get"].value("diverged", 1ULL), 0u) << text;
  EXPECT_GT(r.value("window_seconds", 0.0), 0.0) << text;

  // RESET: a new, empty window.
  std::this_thread::sleep_for(Millis(1500));
  EXPECT_EQ(rig.admin->text({"RESET", "c1"}), "OK");
  r = rig.report();
  text = summary(r);
  EXPECT_EQ(r.value("compared", 1ULL), 0u) << text;
  EXPECT_EQ(r.value("matched", 1ULL), 0u) << text;
  EXPECT_EQ(r.value("diverged", 1ULL), 0u) << text;
  EXPECT_EQ(r.value("mirrored", 1ULL), 0u) << text;
  EXPECT_TRUE(r["divergences"].empty()) << text;
  EXPECT_TRUE(r["by_command"].empty()) << text;
  EXPECT_TRUE(r["samples"].empty()) << text;
  EXPECT_LT(r.value("window_seconds", 99.0), 1.0) << text;
  EXPECT_EQ(r["latency_us"]["primary"].value("count", 1ULL), 0u) << text;

  // The new window counts again from zero.
  std::vector<std::vector<std::string>> some(reads.begin(), reads.begin() + 10);
  pipeline(c.get(), some);
  r = rig.settle(10);
  text = summary(r);
  EXPECT_EQ(r.value("compared", 0ULL), 10u) << text;
  EXPECT_EQ(divergence(r, "cold_miss"), 10u) << text;
}

// RESET also forgets which keys the mirror wrote: a key written before the RESET and then
// lost by the canary reads as a cold miss in the new window, a lost write in the old one.
TEST_F(DiffTest, ResetClearsWrittenKeys) {
  DiffRig rig(DiffRig::Options{});
  Ctx c = mirror_it::connectOrDie(rig.proxyPort());
  run(c.get(), {"SET", "before", "1"});
  rig.settle(1);
  {
    Ctx canary = mirror_it::connectOrDie(rig.canary->port());
    run(canary.get(), {"DEL", "before"});
  }
  run(c.get(), {"GET", "before"});
  json r = rig.settle(2);
  EXPECT_EQ(divergence(r, "lost_write"), 1u) << summary(r);

  EXPECT_EQ(rig.admin->text({"RESET", "c1"}), "OK");
  run(c.get(), {"GET", "before"});
  r = rig.settle(1);
  EXPECT_EQ(divergence(r, "lost_write"), 0u) << summary(r);
  EXPECT_EQ(divergence(r, "cold_miss"), 1u) << summary(r);
  EXPECT_EQ(r.value("compared", 0ULL), 1u) << summary(r);
}

}  // namespace
}  // namespace diff_it

namespace diff_it {
namespace {

// --warm-canary: cold misses are repaired from the primary (DUMP/RESTORE, TTL kept), so a
// second read of the same keys matches.
TEST_F(DiffTest, WarmCanaryRepairsColdMisses) {
  DiffRig::Options options;
  options.proxyArgs = {"--warm-canary"};
  DiffRig rig(options);
  constexpr int kKeys = 150;
  {
    Ctx p = mirror_it::connectOrDie(rig.primary->port());
    std::vector<std::vector<std::string>> fill;
    for (int i = 0; i < kKeys; ++i) {
      fill.push_back({"SET", "wc:" + std::to_string(i), "value" + std::to_string(i)});
      if (i % 2 == 0) fill.back().insert(fill.back().end(), {"EX", "1000"});
    }
    pipeline(p.get(), fill);
  }
  Ctx c = mirror_it::connectOrDie(rig.proxyPort());
  std::vector<std::vector<std::string>> reads;
  for (int i = 0; i < kKeys; ++i) reads.push_back({"GET", "wc:" + std::to_string(i)});
  pipeline(c.get(), reads);
  json r = rig.settle(kKeys);
  EXPECT_EQ(divergence(r, "cold_miss"), static_cast<uint64_t>(kKeys)) << summary(r);

  // Repairs are rate-limited (a token bucket of 100/s per worker by default): misses over
  // the rate are not repaired, later reads of the same keys (live traffic) repair them.
  const std::string failure = mirror_it::eventually(
      [&]() -> std::string {
        const long n = mirror_it::dbsize(rig.canary->port());
        if (n == kKeys) return "";
        pipeline(c.get(), reads);
        return "canary holds " + std::to_string(n) + " keys";
      },
      Millis(15000), Millis(1100));
  ASSERT_EQ(failure, "");
  EXPECT_EQ(mirror_it::compareDb(rig.primary->port(), rig.canary->port(), 0), "");

  EXPECT_EQ(rig.admin->text({"RESET", "c1"}), "OK");
  pipeline(c.get(), reads);
  r = rig.settle(kKeys);
  EXPECT_EQ(divergence(r, "cold_miss"), 0u) << summary(r);
  EXPECT_EQ(r.value("matched", 0ULL), static_cast<uint64_t>(kKeys)) << summary(r);
  EXPECT_EQ(r.value("diverged", 1ULL), 0u) << summary(r);
}

}  // namespace
}  // namespace diff_it
