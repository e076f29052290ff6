// Mirroring fidelity: the canary gets exactly the primary's effects, whatever
// came before mirroring started and whatever was dropped on the way.
//  - session state (database, transactions, user) followed from the first byte,
//    and changed only as the primary confirms it;
//  - writes the primary refused (ACL, OOM) never reach the canary, and reads it
//    refused are not compared;
//  - writes dropped on the way taint their keys: later reads of them are
//    counted as `tainted`, never as divergences, also after RESET, until the
//    key is overwritten whole.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class MirrorFidelity : public MirrorTest {};


// A session that selected database 3 (and one that opened a MULTI) while its
// canary was at 0%: once the operator raises the share, the session's writes
// land in database 3 of the canary, and the transaction begun unmirrored is
// not sent in part.
TEST_F(MirrorFidelity, StateFromBeforeMirroringStartedIsKept) {
  Rig::Options options;
  options.percents = {"0"};
  Rig s(options);
  Ctx client = connectOrDie(s.proxyPort());
  Ctx transaction = connectOrDie(s.proxyPort());
  ASSERT_EQ(str(run(client.get(), {"SELECT", "3"}).get()), "OK");
  ASSERT_EQ(str(run(transaction.get(), {"MULTI"}).get()), "OK");
  ASSERT_EQ(str(run(transaction.get(), {"SET", "tx:before", "1"}).get()), "QUEUED");

  ASSERT_EQ(s.admin->text({"MIRROR", "SET", "c1", "100"}), "OK");
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx canary = connectOrDie(s.canaries[0]->port());
  ASSERT_EQ(str(run(canary.get(), {"SELECT", "3"}).get()), "OK");
  // The worker takes the new share when its loop wakes: write until the canary shows it.
  std::vector<std::string> probes = {"EXISTS"};
  const std::string failure = eventually(
      [&]() -> std::string {
        probes.push_back("probe:" + std::to_string(probes.size()));
        run(client.get(), {"SET", probes.back(), "v"});
        return run(canary.get(), probes)->integer > 0 ? "" : "not mirrored into db 3 yet";
      },
      Millis(10000), Millis(50));
  ASSERT_EQ(failure, "") << s.admin->canary("c1").dump();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(str(run(client.get(), {"SET", "db3:" + std::to_string(i), "v"}).get()), "OK");
  ASSERT_EQ(str(run(transaction.get(), {"SET", "tx:after", "2"}).get()), "QUEUED");
  Reply exec = run(transaction.get(), {"EXEC"});
  ASSERT_TRUE(exec && exec->type == REDIS_REPLY_ARRAY && exec->elements == 2) << it::describe(exec.get());
  waitMirrorQuiet(*s.admin, "c1");

  EXPECT_EQ(dbsize(s.canaries[0]->port(), 0), 0) << "the session's writes landed in db 0 of the canary";
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(str(run(canary.get(), {"GET", "db3:" + std::to_string(i)}).get()), "v") << i;
  }
  // Half a transaction is never sent: neither of its keys is on the canary.
  ASSERT_EQ(str(run(canary.get(), {"SELECT", "0"}).get()), "OK");
  EXPECT_EQ(run(canary.get(), {"EXISTS", "tx:before", "tx:after"})->integer, 0);
  const auto counters = s.admin->canary("c1");
  EXPECT_GE(counters["dropped"].value("unconfirmed", 0ULL), 1u) << counters.dump();

  // Reading them through the proxy: tainted, not diverged.
  ASSERT_EQ(s.admin->text({"RESET", "c1"}), "OK");
  ASSERT_EQ(str(run(transaction.get(), {"GET", "tx:after"}).get()), "2");
  waitMirrorQuiet(*s.admin, "c1");
  const nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  EXPECT_EQ(skippedOf(report, "tainted"), 1) << report.dump();
}

// A session authenticated as a restricted ACL user: what the primary refuses
// (NOPERM) never runs on the canary (whose link is the default user), and the
// refused reads are not counted against the canary. Likewise writes refused
// for OOM under the primary's own maxmemory.
TEST_F(MirrorFidelity, CommandsThePrimaryRefusedNeverReachTheCanary) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  {
    Ctx primary = connectOrDie(s.primary->port());
    ASSERT_EQ(str(run(primary.get(), {"ACL", "SETUSER", "lim", "on", ">pass", "~ok:*", "+@all"}).get()), "OK");
    ASSERT_EQ(str(run(primary.get(), {"SET", "no:read", "primary-only"}).get()), "OK");
  }
  Ctx client = connectOrDie(s.proxyPort());
  ASSERT_EQ(str(run(client.get(), {"AUTH", "lim", "pass"}).get()), "OK");
  Reply refused = run(client.get(), {"SET", "no:1", "b"}, true);
  ASSERT_TRUE(refused && refused->type == REDIS_REPLY_ERROR) << it::describe(refused.get());
  EXPECT_EQ(std::string(refused->str).substr(0, 6), "NOPERM");
  Reply refusedRead = run(client.get(), {"GET", "no:read"}, true);
  ASSERT_TRUE(refusedRead && refusedRead->type == REDIS_REPLY_ERROR) << it::describe(refusedRead.get());
  ASSERT_EQ(str(run(client.get(), {"SET", "ok:1", "b"}).get()), "OK");
  ASSERT_EQ(str(run(client.get(), {"GET", "ok:1"}).get()), "b");

  // OOM: the primary at its memory limit refuses denyoom writes.
  Ctx admin = connectOrDie(s.primary->port());
  ASSERT_EQ(str(run(admin.get(), {"CONFIG", "SET", "maxmemory-policy", "noeviction"}).get()), "OK");
  ASSERT_EQ(str(run(admin.get(), {"CONFIG", "SET", "maxmemory", "1"}).get()), "OK");
  Ctx other = connectOrDie(s.proxyPort());
  Reply oom = run(other.get(), {"SET", "oom:1", "x"}, true);
  ASSERT_TRUE(oom && oom->type == REDIS_REPLY_ERROR) << it::describe(oom.get());
  EXPECT_EQ(std::string(oom->str).substr(0, 3), "OOM");
  ASSERT_EQ(str(run(admin.get(), {"CONFIG", "SET", "maxmemory", "0"}).get()), "OK");
  ASSERT_EQ(str(run(other.get(), {"SET", "after:1", "y"}).get()), "OK");
  waitMirrorQuiet(*s.admin, "c1");

  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(run(canary.get(), {"EXISTS", "no:1"})->integer, 0) << "a write refused with NOPERM ran on the canary";
  EXPECT_EQ(run(canary.get(), {"EXISTS", "oom:1"})->integer, 0) << "a write refused with OOM ran on the canary";
  EXPECT_EQ(str(run(canary.get(), {"GET", "ok:1"}).get()), "b");
  EXPECT_EQ(str(run(canary.get(), {"GET", "after:1"}).get()), "y");
  const nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  // SET no:1, GET no:read, SET oom:1.
  EXPECT_EQ(skippedOf(report, "primary_refused"), 3) << report.dump();
}

// Writes dropped on the way (the canary stopped, its small budget spent) leave
// its copies of those keys wrong: after RESET, reading them compares nothing
// against the canary (`tainted`), keys never dropped still compare, and a key
// overwritten whole compares again.
TEST_F(MirrorFidelity, DroppedWritesTaintTheirKeysAndNeverCountAsDivergences) {
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) {
    return oneCanaryYaml(ports[0], 100, "    queue_budget_bytes: 262144\n    reply_timeout_ms: 120000\n");
  };
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  constexpr int kCounters = 50;
  constexpr int kClean = 20;
  Ctx client = connectOrDie(s.proxyPort());
  for (int i = 0; i < kClean; ++i) ASSERT_EQ(str(run(client.get(), {"SET", "clean:" + std::to_string(i), "v"}).get()), "OK");
  waitMirrorQuiet(*s.admin, "c1");

  const pid_t canaryPid = s.canaries[0]->pid();
  ASSERT_EQ(kill(canaryPid, SIGSTOP), 0);
  constexpr int kRounds = 150;  // 7500 INCRs: past the link's smallest budget (256 KiB)
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kCounters; ++i) redisAppendCommand(client.get(), "INCR ctr:%d", i);
    for (int i = 0; i < kCounters; ++i) {
      Reply r = it::getReply(client.get());
      ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER && r->integer == round + 1) << it::describe(r.get());
    }
  }
  const uint64_t dropped = s.admin->canary("c1")["dropped"].value("queue_full", 0ULL);
  ASSERT_EQ(kill(canaryPid, SIGCONT), 0);
  ASSERT_GT(dropped, 0u) << "the test needs drops: " << s.admin->canary("c1").dump();
  waitMirrorQuiet(*s.admin, "c1");

  // RESET starts a new window; it does not make the canary's copies right.
  ASSERT_EQ(s.admin->text({"RESET", "c1"}), "OK");
  ASSERT_EQ(str(run(client.get(), {"SET", "ctr:0", "7"}).get()), "OK");  // overwritten whole: clean again
  for (int i = 0; i < kCounters; ++i) run(client.get(), {"GET", "ctr:" + std::to_string(i)});
  for (int i = 0; i < kClean; ++i) ASSERT_EQ(str(run(client.get(), {"GET", "clean:" + std::to_string(i)}).get()), "v");
  waitMirrorQuiet(*s.admin, "c1");

  const nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  // Once the budget was spent, every round dropped an INCR of every counter:
  // all are tainted but ctr:0, overwritten whole by SET. The drops also shed
  // slots for a while (SlotShedder): reads of a shed slot are not sampled, so
  // only the sum is bounded.
  const auto taint = report.find("taint");
  ASSERT_NE(taint, report.end()) << report.dump();
  EXPECT_EQ(taint->value("keys", 0LL), kCounters - 1) << report.dump();
  const long long tainted = skippedOf(report, "tainted");
  EXPECT_GT(tainted, 0) << report.dump();
  EXPECT_LE(report.value("compared", 0LL) + tainted, 2 + (kCounters - 1) + kClean) << report.dump();
  EXPECT_GT(report.value("compared", 0LL), 0) << report.dump();
}

}  // namespace
}  // namespace mirror_it

namespace mirror_it {
namespace {

double effectivePercent(Admin& admin) { return admin.canary("c1").value("effective_percent", -1.0); }

// A canary that cannot keep up (stopped, its budget spent) is shed by whole
// slots: CANARY LIST and REPORT show the effective share below the configured
// one, writes to the shed slots are counted and taint their keys (never
// compared as divergences later), and the share climbs back once the canary
// keeps up again.
TEST_F(MirrorFidelity, ACanaryThatCannotKeepUpIsShedBySlotAndClimbsBack) {
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) {
    return oneCanaryYaml(ports[0], 100, "    queue_budget_bytes: 262144\n    reply_timeout_ms: 120000\n");
  };
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  EXPECT_EQ(effectivePercent(*s.admin), 100.0);
  Ctx client = connectOrDie(s.proxyPort());
  const pid_t canaryPid = s.canaries[0]->pid();
  ASSERT_EQ(kill(canaryPid, SIGSTOP), 0);
  int next = 0;
  const std::string shed = eventually(
      [&]() -> std::string {
        for (int i = 0; i < 500; ++i, ++next) redisAppendCommand(client.get(), "SET shed:%d v", next % 5000);
        for (int i = 0; i < 500; ++i) it::getReply(client.get());
        const auto canary = s.admin->canary("c1");
        return canary["dropped"].value("shed", 0ULL) > 0 && canary.value("effective_percent", 100.0) < 100.0
                   ? ""
                   : canary.dump();
      },
      Millis(20000), Millis(100));
  ASSERT_EQ(kill(canaryPid, SIGCONT), 0);
  ASSERT_EQ(shed, "") << "the stopped canary was never shed";
  const double lowest = effectivePercent(*s.admin);
  const nlohmann::json during = reportOf(*s.admin, "c1");
  EXPECT_LT(during.value("effective_percent", 100.0), 100.0) << during.dump();
  EXPECT_EQ(during.value("percent", 0.0), 100.0) << during.dump();

  // Calm again: the share climbs back, a slot range at a time, to the whole of it.
  const std::string climbed = eventually(
      [&]() -> std::string {
        run(client.get(), {"PING"});
        return effectivePercent(*s.admin) > lowest ? "" : "still " + std::to_string(effectivePercent(*s.admin));
      },
      Millis(20000), Millis(200));
  EXPECT_EQ(climbed, "");
  const std::string recovered = eventually(
      [&]() -> std::string {
        run(client.get(), {"PING"});
        return effectivePercent(*s.admin) == 100.0 ? "" : "still " + std::to_string(effectivePercent(*s.admin));
      },
      Millis(60000), Millis(200));
  ASSERT_EQ(recovered, "");
  waitMirrorQuiet(*s.admin, "c1");

  // What was written while shed is tainted, not blamed. One GET at a time: the
  // small budget holds every comparison, so each tainted key is looked at.
  ASSERT_EQ(s.admin->text({"RESET", "c1"}), "OK");
  for (int i = 0; i < 5000; ++i) run(client.get(), {"GET", "shed:" + std::to_string(i)});
  waitMirrorQuiet(*s.admin, "c1");
  const nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  EXPECT_EQ(report["skipped"].value("dropped", -1), 0) << report.dump();
  EXPECT_GT(skippedOf(report, "tainted"), 0) << report.dump() << s.admin->canary("c1").dump();
}

}  // namespace
}  // namespace mirror_it

namespace mirror_it {
namespace {

// Commands held behind an effect (here: pipelined after a BLPOP that blocks)
// are bounded like a canary's queue: past the bound they are dropped, counted
// and their keys tainted, never held without limit nor blamed on the canary.
TEST_F(MirrorFidelity, CommandsHeldBehindAnEffectAreBounded) {
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) {
    return oneCanaryYaml(ports[0], 100, "    queue_budget_bytes: 262144\n");
  };
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx blocked = connectOrDie(s.proxyPort());
  redisAppendCommand(blocked.get(), "BLPOP q 0");
  const std::string value(10000, 'v');
  constexpr int kWrites = 100;  // 1 MB behind the pop: more than the bound (128 KiB per worker)
  for (int i = 0; i < kWrites; ++i) {
    redisAppendCommand(blocked.get(), "SET held:%d %b", i, value.data(), value.size());
  }
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(blocked.get(), &done), REDIS_OK);
  ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
  const std::string counted = eventually(
      [&]() -> std::string {
        const auto canary = s.admin->canary("c1");
        return canary["dropped"].value("held", 0ULL) > 0 ? "" : canary.dump();
      },
      Millis(10000));
  ASSERT_EQ(counted, "") << "commands past the bound were not dropped";
  Ctx producer = connectOrDie(s.proxyPort());
  ASSERT_EQ(run(producer.get(), {"LPUSH", "q", "job"})->integer, 1);
  Reply popped = it::getReply(blocked.get());
  ASSERT_TRUE(popped && popped->type == REDIS_REPLY_ARRAY) << it::describe(popped.get());
  for (int i = 0; i < kWrites; ++i) {
    Reply r = it::getReply(blocked.get());
    ASSERT_EQ(str(r.get()), "OK") << i;
  }
  waitMirrorQuiet(*s.admin, "c1");
  ASSERT_EQ(s.admin->text({"RESET", "c1"}), "OK");
  for (int i = 0; i < kWrites; ++i) run(producer.get(), {"STRLEN", "held:" + std::to_string(i)});
  waitMirrorQuiet(*s.admin, "c1");
  const nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  EXPECT_GT(skippedOf(report, "tainted"), 0) << report.dump();
  EXPECT_GT(report.value("compared", 0LL), 0) << "the writes held within the bound reached the canary";
}

}  // namespace
}  // namespace mirror_it

namespace mirror_it {
namespace {

// Restricted user `lim` (keys ok:*) on the primary, set up directly.
void addLimitedUser(uint16_t primaryPort, const std::vector<std::string>& extra = {}) {
  Ctx primary = connectOrDie(primaryPort);
  std::vector<std::string> command{"ACL", "SETUSER", "lim", "reset", "on", ">pass", "~ok:*", "+@all"};
  command.insert(command.end(), extra.begin(), extra.end());
  ASSERT_EQ(str(run(primary.get(), command).get()), "OK");
}

long long existsOn(uint16_t port, const std::string& key) {
  Ctx c = connectOrDie(port);
  return run(c.get(), {"EXISTS", key})->integer;
}

// A transaction reaches the canary only as EXEC ran it on the primary. EXEC
// refused after every member was queued (an ACL without EXEC for a restricted
// user; OOM for the default user) runs nothing there, and a member EXEC
// skipped (the user's ACL changed since it was queued: NOPERM in EXEC's reply)
// runs nowhere either.
TEST_F(MirrorFidelity, TransactionsReachTheCanaryOnlyAsThePrimaryRanThem) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  addLimitedUser(s.primary->port());
  Ctx admin = connectOrDie(s.primary->port());
  Ctx client = connectOrDie(s.proxyPort());
  ASSERT_EQ(str(run(client.get(), {"AUTH", "lim", "pass"}).get()), "OK");

  ASSERT_EQ(str(run(client.get(), {"MULTI"}).get()), "OK");
  ASSERT_EQ(str(run(client.get(), {"SET", "ok:tx:skipped", "1"}).get()), "QUEUED");
  ASSERT_EQ(str(run(client.get(), {"SET", "ok:tx:ran", "1"}).get()), "QUEUED");
  ASSERT_EQ(str(run(admin.get(), {"ACL", "SETUSER", "lim", "resetkeys", "~ok:tx:ran"}).get()), "OK");
  Reply exec = run(client.get(), {"EXEC"});
  ASSERT_TRUE(exec && exec->type == REDIS_REPLY_ARRAY && exec->elements == 2) << it::describe(exec.get());
  ASSERT_EQ(exec->element[0]->type, REDIS_REPLY_ERROR);
  ASSERT_EQ(std::string(exec->element[0]->str).substr(0, 6), "NOPERM");
  ASSERT_EQ(str(exec->element[1]), "OK");

  ASSERT_EQ(str(run(admin.get(), {"ACL", "SETUSER", "lim", "~ok:*", "-exec"}).get()), "OK");
  ASSERT_EQ(str(run(client.get(), {"MULTI"}).get()), "OK");
  ASSERT_EQ(str(run(client.get(), {"SET", "ok:tx:refused", "1"}).get()), "QUEUED");
  Reply refused = run(client.get(), {"EXEC"}, true);
  ASSERT_TRUE(refused && refused->type == REDIS_REPLY_ERROR) << it::describe(refused.get());
  EXPECT_EQ(std::string(refused->str).substr(0, 9), "EXECABORT");

  Ctx other = connectOrDie(s.proxyPort());
  ASSERT_EQ(str(run(other.get(), {"MULTI"}).get()), "OK");
  ASSERT_EQ(str(run(other.get(), {"SET", "oom:tx", "1"}).get()), "QUEUED");
  ASSERT_EQ(str(run(admin.get(), {"CONFIG", "SET", "maxmemory-policy", "noeviction"}).get()), "OK");
  ASSERT_EQ(str(run(admin.get(), {"CONFIG", "SET", "maxmemory", "1"}).get()), "OK");
  Reply oom = run(other.get(), {"EXEC"}, true);
  ASSERT_EQ(str(run(admin.get(), {"CONFIG", "SET", "maxmemory", "0"}).get()), "OK");
  ASSERT_TRUE(oom && oom->type == REDIS_REPLY_ERROR) << it::describe(oom.get());
  EXPECT_EQ(std::string(oom->str).substr(0, 9), "EXECABORT");
  ASSERT_EQ(str(run(other.get(), {"MULTI"}).get()), "OK");
  ASSERT_EQ(str(run(other.get(), {"SET", "after:tx", "1"}).get()), "QUEUED");
  ASSERT_TRUE(run(other.get(), {"EXEC"}));
  waitMirrorQuiet(*s.admin, "c1");

  const uint16_t canary = s.canaries[0]->port();
  EXPECT_EQ(existsOn(canary, "ok:tx:skipped"), 0) << "a member EXEC skipped ran on the canary";
  EXPECT_EQ(existsOn(canary, "ok:tx:refused"), 0) << "a transaction whose EXEC was refused ran on the canary";
  EXPECT_EQ(existsOn(canary, "oom:tx"), 0) << "a transaction aborted for OOM ran on the canary";
  EXPECT_EQ(existsOn(canary, "ok:tx:ran"), 1) << "the member EXEC ran did not reach the canary";
  EXPECT_EQ(existsOn(canary, "after:tx"), 1);
  const nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  EXPECT_EQ(skippedOf(report, "primary_refused"), 1) << "the member skipped with NOPERM: " << report.dump();
}

// A script of a restricted user that failed while it ran may have stopped on
// the user's ACL after writing: the canary's link, as its own user, would run
// it whole. It is not mirrored (REPORT skipped `acl_user`) and what it may
// have written is tainted; the user's scripts that succeed are mirrored.
TEST_F(MirrorFidelity, AUsersScriptThatFailedWhileRunningNeverRunsOnTheCanary) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  addLimitedUser(s.primary->port());
  Ctx client = connectOrDie(s.proxyPort());
  ASSERT_EQ(str(run(client.get(), {"AUTH", "lim", "pass"}).get()), "OK");
  // Keys it does not declare: Redis checks them as the script calls them.
  Reply failed = run(client.get(), {"EVAL", "redis.call('set', 'ok:s1', '1') redis.call('set', 'no:s2', '2')", "0"}, true);
  ASSERT_TRUE(failed && failed->type == REDIS_REPLY_ERROR) << it::describe(failed.get());
  ASSERT_NE(std::string(failed->str).find(" script: "), std::string::npos) << failed->str;
  ASSERT_EQ(str(run(client.get(), {"EVAL", "return redis.call('set', KEYS[1], '3')", "1", "ok:s3"}).get()), "OK");
  waitMirrorQuiet(*s.admin, "c1");

  const uint16_t canary = s.canaries[0]->port();
  EXPECT_EQ(existsOn(canary, "no:s2"), 0) << "a write the primary refused to the script ran on the canary";
  EXPECT_EQ(existsOn(canary, "ok:s1"), 0);
  EXPECT_EQ(existsOn(canary, "ok:s3"), 1) << "the user's script that succeeded was not mirrored";
  nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(skippedOf(report, "acl_user"), 1) << report.dump();

  // What the failed script wrote on the primary is tainted, not blamed.
  ASSERT_EQ(s.admin->text({"RESET", "c1"}), "OK");
  Ctx reader = connectOrDie(s.proxyPort());
  ASSERT_EQ(str(run(reader.get(), {"GET", "ok:s1"}).get()), "1");
  waitMirrorQuiet(*s.admin, "c1");
  report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  EXPECT_EQ(skippedOf(report, "tainted"), 1) << report.dump();
}

// SELECT 99 refused in a pipeline: the commands after it run in the database
// the session was in, and the mirror never sends them (nor its link's SELECT)
// into database 99 of the canary; what ran is tainted, and the session's later
// writes land where they belong.
TEST_F(MirrorFidelity, ARefusedSelectMovesNothing) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx client = connectOrDie(s.proxyPort());
  redisAppendCommand(client.get(), "SELECT 99");
  redisAppendCommand(client.get(), "SET sel:k v");
  redisAppendCommand(client.get(), "GET sel:k");
  Reply select = it::getReply(client.get());
  ASSERT_TRUE(select && select->type == REDIS_REPLY_ERROR) << it::describe(select.get());
  ASSERT_EQ(str(it::getReply(client.get()).get()), "OK");
  ASSERT_EQ(str(it::getReply(client.get()).get()), "v");
  ASSERT_EQ(str(run(client.get(), {"SET", "sel:after", "w"}).get()), "OK");
  waitMirrorQuiet(*s.admin, "c1");

  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(str(run(canary.get(), {"GET", "sel:after"}).get()), "w") << "the session's write went elsewhere";
  const auto counters = s.admin->canary("c1");
  EXPECT_EQ(counters.value("protocol_errors", 0ULL), 0u) << "the link was sent SELECT 99: " << counters.dump();
  ASSERT_EQ(s.admin->text({"RESET", "c1"}), "OK");
  ASSERT_EQ(str(run(client.get(), {"GET", "sel:k"}).get()), "v");
  waitMirrorQuiet(*s.admin, "c1");
  const nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  EXPECT_EQ(report.value("matched", 0LL) + skippedOf(report, "tainted"), 1) << report.dump();
}

// A restricted user may not run MULTI: pipelined, its "members" run as plain
// commands and EXEC is refused. What they wrote reaches the canary or is
// tainted; a later read never finds the canary short of it unexplained.
TEST_F(MirrorFidelity, ARefusedMultiLeavesItsMembersPlainCommands) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  addLimitedUser(s.primary->port(), {"-multi"});
  Ctx client = connectOrDie(s.proxyPort());
  ASSERT_EQ(str(run(client.get(), {"AUTH", "lim", "pass"}).get()), "OK");
  redisAppendCommand(client.get(), "MULTI");
  redisAppendCommand(client.get(), "SET ok:m 1");
  redisAppendCommand(client.get(), "EXEC");
  Reply multi = it::getReply(client.get());
  ASSERT_TRUE(multi && multi->type == REDIS_REPLY_ERROR) << it::describe(multi.get());
  ASSERT_EQ(str(it::getReply(client.get()).get()), "OK") << "ran as a plain command";
  Reply exec = it::getReply(client.get());
  ASSERT_TRUE(exec && exec->type == REDIS_REPLY_ERROR) << it::describe(exec.get());
  // Interactive, the MULTI's refusal is known before the next command.
  Reply again = run(client.get(), {"MULTI"}, true);
  ASSERT_TRUE(again && again->type == REDIS_REPLY_ERROR);
  ASSERT_EQ(str(run(client.get(), {"SET", "ok:plain", "2"}).get()), "OK");
  waitMirrorQuiet(*s.admin, "c1");

  EXPECT_EQ(existsOn(s.canaries[0]->port(), "ok:plain"), 1) << "a plain write was taken for a transaction member";
  ASSERT_EQ(s.admin->text({"RESET", "c1"}), "OK");
  ASSERT_EQ(str(run(client.get(), {"GET", "ok:m"}).get()), "1");
  waitMirrorQuiet(*s.admin, "c1");
  const nlohmann::json report = reportOf(*s.admin, "c1");
  EXPECT_EQ(report.value("diverged", -1), 0) << report.dump();
  EXPECT_EQ(report["divergences"].value("cold_miss", 0LL), 0) << "the canary missed a write unexplained: " << report.dump();
  EXPECT_EQ(report.value("matched", 0LL) + skippedOf(report, "tainted"), 1) << report.dump();
}

}  // namespace
}  // namespace mirror_it
