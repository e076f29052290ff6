// The command-table diff follows restarts: the proxy keeps its own hiredis
// connection to the primary and to each canary, and reads COMMAND again as soon
// as one of them reconnects, so an upgraded (here: reconfigured) server shows in
// REPORT within seconds, not at the next periodic refresh (a minute).
#include <chrono>
#include <thread>

#include "diff_util.h"

namespace diff_it {
namespace {

using Clock = std::chrono::steady_clock;

bool hasLine(const json& report, const std::string& line) {
  if (!report.contains("command_table")) return false;
  for (const auto& entry : report["command_table"]["differences"]) {
    if (entry.get<std::string>() == line) return true;
  }
  return false;
}

// Polls REPORT until the command table shows `line`; returns how long it took, or
// the timeout when it never did.
Millis waitForLine(DiffRig& rig, const std::string& line, Millis timeout, json& last) {
  const auto start = Clock::now();
  for (;;) {
    last = rig.report();
    const auto waited = std::chrono::duration_cast<Millis>(Clock::now() - start);
    if (hasLine(last, line) || waited >= timeout) return waited;
    std::this_thread::sleep_for(Millis(100));
  }
}

// Restarts `server` of `rig` with LPUSH renamed away and expects REPORT's
// command table to show `line` within seconds.
void restartWithoutLpush(DiffRig& rig, it::RedisServer& server, const std::string& line) {
  json r = rig.waitCommandTableChecked();
  ASSERT_TRUE(r["command_table"]["differences"].empty()) << r["command_table"].dump();
  server.stop();
  server.setExtraArgs({"--rename-command", "LPUSH", ""});
  server.start();
  const Millis waited = waitForLine(rig, line, Millis(15000), r);
  EXPECT_TRUE(hasLine(r, line)) << r["command_table"].dump();
  EXPECT_LT(waited.count(), 10000) << "the restart was noticed only by the periodic refresh";
}

TEST_F(DiffTest, CanaryRestartedWithoutACommandIsSeenWithinSeconds) {
  DiffRig rig(DiffRig::Options{});
  restartWithoutLpush(rig, *rig.canary, "removed: lpush");
}

TEST_F(DiffTest, PrimaryRestartedWithoutACommandIsReadAgainWithinSeconds) {
  DiffRig rig(DiffRig::Options{});
  // The primary's new table is read and the canary compared with it again: the
  // canary now has a command the primary lacks.
  restartWithoutLpush(rig, *rig.primary, "added: lpush");
  // Traffic still flows through the proxy to the restarted primary.
  Ctx c = mirror_it::connectOrDie(rig.proxyPort());
  Reply set = mirror_it::run(c.get(), {"SET", "after-restart", "1"});
  ASSERT_EQ(set->type, REDIS_REPLY_STATUS);
}

}  // namespace
}  // namespace diff_it
