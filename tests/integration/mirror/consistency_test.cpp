// At 100% mirroring the canary ends up with the primary's data: a mixed workload from
// several client connections, several databases, transactions (one aborted by WATCH),
// scripts, SPOP and blocking pops, then a key-by-key comparison and DEBUG DIGEST.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class MirrorConsistency : public MirrorTest {};

// Sends a command without waiting for its reply.
void send(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  ASSERT_EQ(redisAppendCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()), REDIS_OK);
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(c, &done), REDIS_OK);
}

// Waits for the canary to catch up, then compares databases 0..maxDb key by key and,
// after PERSISTing volatile keys on both sides, the whole-dataset DEBUG DIGEST.
void expectSameData(Rig& s, int maxDb, bool persistAndDigest = true) {
  waitMirrorQuiet(*s.admin, "c1");
  const uint16_t p = s.primary->port();
  const uint16_t c = s.canaries[0]->port();
  const std::string diff = eventually(
      [&] {
        std::string all;
        for (int db = 0; db <= maxDb; ++db) all += compareDb(p, c, db);
        return all;
      },
      Millis(8000), Millis(200));
  EXPECT_EQ(diff, "") << "the canary's data differs from the primary's:\n" << diff;
  if (!diff.empty() || !persistAndDigest) return;
  persistAll(p, maxDb);
  persistAll(c, maxDb);
  EXPECT_EQ(digest(p), digest(c)) << "DEBUG DIGEST differs after PERSIST";
}

TEST_F(MirrorConsistency, MixedWorkloadAtFullMirroringLeavesCanaryEqual) {
  // One worker: the workload has cross-connection causality (WATCH broken by a
  // second client, BLPOP served by another's push), which the canary's one
  // stream keeps in order exactly, across workers too (CanaryHub).
  Rig::Options options;
  options.workers = 1;
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1")) << it::describe(s.admin->run({"CANARY", "LIST"}).get());
  const uint16_t port = s.proxyPort();
  Ctx a = connectOrDie(port);  // database 0: most data types
  Ctx b = connectOrDie(port);  // databases 1 and 2
  Ctx c = connectOrDie(port);  // database 3 (FLUSHDB) and WATCH interference
  Ctx d = connectOrDie(port);  // blocking pops

  // Strings and expirations (TTLs far beyond the test's duration).
  run(a.get(), {"SET", "str:a", "hello"});
  run(a.get(), {"APPEND", "str:a", " world"});
  run(a.get(), {"SETRANGE", "str:a", "0", "J"});
  for (int i = 0; i < 5; ++i) run(a.get(), {"INCR", "ctr:a"});
  run(a.get(), {"INCRBY", "ctr:a", "10"});
  run(a.get(), {"INCRBYFLOAT", "flt:a", "1.5"});
  run(a.get(), {"SETEX", "ttl:a", "3600", "v"});
  run(a.get(), {"SET", "ttl:b", "v"});
  run(a.get(), {"EXPIRE", "ttl:b", "3600"});
  run(a.get(), {"SET", "ttl:c", "v", "EX", "7200"});
  run(a.get(), {"SET", "ttl:d", "v"});
  run(a.get(), {"PEXPIRE", "ttl:d", "5000000"});
  run(a.get(), {"SET", "ttl:e", "v", "EX", "3600"});
  run(a.get(), {"PERSIST", "ttl:e"});
  run(a.get(), {"MSET", "{m}a", "1", "{m}b", "2", "{m}c", "3"});
  run(a.get(), {"RENAME", "{m}a", "{m}z"});
  run(a.get(), {"DEL", "{m}b"});
  run(a.get(), {"GETDEL", "{m}c"});
  // Hashes.
  run(a.get(), {"HSET", "h:a", "f1", "v1", "f2", "v2", "f3", "v3"});
  run(a.get(), {"HINCRBY", "h:a", "n", "7"});
  run(a.get(), {"HDEL", "h:a", "f2"});
  run(a.get(), {"HSETNX", "h:a", "f4", "v4"});
  // Sets, with SPOP (its effect is only known from the primary's reply).
  std::vector<std::string> sadd = {"SADD", "s:a"};
  for (int i = 0; i < 20; ++i) sadd.push_back("m" + std::to_string(i));
  run(a.get(), sadd);
  Reply popped = run(a.get(), {"SPOP", "s:a"});
  ASSERT_TRUE(popped && popped->type == REDIS_REPLY_STRING) << it::describe(popped.get());
  Reply poppedMany = run(a.get(), {"SPOP", "s:a", "3"});
  ASSERT_TRUE(poppedMany && poppedMany->type == REDIS_REPLY_ARRAY && poppedMany->elements == 3)
      << it::describe(poppedMany.get());
  run(a.get(), {"SREM", "s:a", "m5"});
  run(a.get(), {"SADD", "s:b", "m1", "m2", "m3", "m4", "m6", "m7", "m8"});
  run(a.get(), {"SINTERSTORE", "s:c", "s:a", "s:b"});
  run(a.get(), {"SADD", "s:small", "only"});
  run(a.get(), {"SPOP", "s:small", "5"});  // empties (and deletes) the set
  // Sorted sets.
  run(a.get(), {"ZADD", "z:a", "1", "a", "2", "b", "3", "c", "4", "d"});
  run(a.get(), {"ZINCRBY", "z:a", "10", "a"});
  run(a.get(), {"ZREM", "z:a", "b"});
  run(a.get(), {"ZADD", "z:b", "5", "x", "6", "c"});
  run(a.get(), {"ZUNIONSTORE", "z:u", "2", "z:a", "z:b", "WEIGHTS", "1", "2"});
  run(a.get(), {"ZPOPMIN", "z:b"});
  // Lists.
  run(a.get(), {"RPUSH", "l:a", "a", "b", "c", "d", "e", "f"});
  run(a.get(), {"LPOP", "l:a"});
  run(a.get(), {"RPOP", "l:a", "2"});
  run(a.get(), {"LSET", "l:a", "0", "X"});
  run(a.get(), {"LINSERT", "l:a", "BEFORE", "X", "W"});
  run(a.get(), {"LMOVE", "l:a", "l:b", "LEFT", "RIGHT"});
  run(a.get(), {"LMPOP", "2", "l:none", "l:a", "LEFT", "COUNT", "1"});
  // Streams (explicit IDs: an automatic ID is the subject of another test).
  run(a.get(), {"XADD", "st:a", "1-1", "f", "v1"});
  run(a.get(), {"XADD", "st:a", "2-1", "f", "v2", "g", "w2"});
  run(a.get(), {"XADD", "st:a", "3-1", "f", "v3"});
  run(a.get(), {"XDEL", "st:a", "2-1"});
  run(a.get(), {"XADD", "st:a", "MAXLEN", "10", "4-1", "f", "v4"});
  // A committed transaction and a discarded one.
  run(a.get(), {"MULTI"});
  run(a.get(), {"SET", "tx:a", "1"});
  run(a.get(), {"INCR", "tx:n"});
  run(a.get(), {"HSET", "tx:h", "f", "v"});
  run(a.get(), {"LPUSH", "tx:l", "x", "y"});
  Reply exec = run(a.get(), {"EXEC"});
  ASSERT_TRUE(exec && exec->type == REDIS_REPLY_ARRAY && exec->elements == 4) << it::describe(exec.get());
  run(a.get(), {"MULTI"});
  run(a.get(), {"SET", "tx:discarded", "1"});
  run(a.get(), {"DISCARD"});
  // A transaction aborted by WATCH: another connection changes the watched key.
  run(a.get(), {"SET", "w:k", "start"});
  run(a.get(), {"WATCH", "w:k"});
  run(c.get(), {"SET", "w:k", "changed-by-c"});
  run(a.get(), {"MULTI"});
  run(a.get(), {"SET", "w:k", "from-aborted-tx"});
  run(a.get(), {"INCR", "w:n"});
  run(a.get(), {"SET", "w:other", "x"});
  Reply aborted = run(a.get(), {"EXEC"});
  ASSERT_TRUE(aborted && aborted->type == REDIS_REPLY_NIL) << it::describe(aborted.get());
  // Scripts: SCRIPT LOAD then EVALSHA, and a plain EVAL.
  Reply sha = run(a.get(), {"SCRIPT", "LOAD",
                            "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])"});
  ASSERT_TRUE(sha && sha->type == REDIS_REPLY_STRING) << it::describe(sha.get());
  const std::string digestSha = str(sha.get());
  run(a.get(), {"EVALSHA", digestSha, "2", "{e}:a", "{e}:b", "val1"});
  run(a.get(), {"EVALSHA", digestSha, "2", "{e}:a", "{e}:b", "val2"});
  run(a.get(), {"EVAL", "return redis.call('RPUSH', KEYS[1], ARGV[1], ARGV[2])", "1", "ev:l", "x", "y"});
  run(a.get(), {"EVAL", "redis.call('HSET', KEYS[1], 'f', ARGV[1]); return 1", "1", "ev:h", "z"});

  // Other databases: the same key names with other contents, so that a command mirrored
  // to the wrong database shows.
  run(b.get(), {"SELECT", "1"});
  run(b.get(), {"SET", "str:a", "db1"});
  run(b.get(), {"HSET", "h:a", "x", "y"});
  run(b.get(), {"SADD", "s:a", "p", "q", "r", "s", "t"});
  run(b.get(), {"SPOP", "s:a", "2"});
  run(b.get(), {"SPOP", "s:a"});
  run(b.get(), {"MULTI"});
  run(b.get(), {"SET", "tx:a", "db1"});
  run(b.get(), {"INCRBY", "tx:n", "5"});
  run(b.get(), {"EXEC"});
  run(b.get(), {"SELECT", "2"});
  run(b.get(), {"SET", "str:a", "db2"});
  run(b.get(), {"RPUSH", "l:a", "q", "r"});
  run(b.get(), {"ZADD", "z:a", "1", "one", "2", "two"});
  run(b.get(), {"EXPIRE", "str:a", "3600"});
  run(b.get(), {"XADD", "st:a", "5-5", "db", "2"});
  run(b.get(), {"EVALSHA", digestSha, "2", "{e}:a", "{e}:b", "in-db2"});
  run(b.get(), {"SELECT", "1"});
  run(b.get(), {"SET", "back:1", "v"});
  run(c.get(), {"SELECT", "3"});
  run(c.get(), {"SET", "f:1", "gone"});
  run(c.get(), {"SET", "f:2", "gone"});
  run(c.get(), {"FLUSHDB"});
  run(c.get(), {"SET", "f:after", "kept"});
  run(c.get(), {"HSET", "h:3", "a", "1"});

  // Blocking pops: served by another connection's push, timed out, and served at once.
  send(d.get(), {"BLPOP", "bl:a", "10"});
  ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
  run(a.get(), {"RPUSH", "bl:a", "x", "y", "z"});
  Reply blpop = it::getReply(d.get());
  ASSERT_TRUE(blpop && blpop->type == REDIS_REPLY_ARRAY && blpop->elements == 2) << it::describe(blpop.get());
  EXPECT_EQ(str(blpop->element[1]), "x");
  Reply timedOut = run(d.get(), {"BLPOP", "bl:none", "0.1"});
  ASSERT_TRUE(timedOut && timedOut->type == REDIS_REPLY_NIL) << it::describe(timedOut.get());
  run(a.get(), {"RPUSH", "bl:late", "1"});  // pushed after the timeout: must stay
  send(d.get(), {"BZPOPMIN", "bz:a", "10"});
  ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
  run(a.get(), {"ZADD", "bz:a", "1", "m1", "2", "m2", "3", "m3"});
  Reply bz = it::getReply(d.get());
  ASSERT_TRUE(bz && bz->type == REDIS_REPLY_ARRAY && bz->elements == 3) << it::describe(bz.get());
  EXPECT_EQ(str(bz->element[1]), "m1");
  send(d.get(), {"BLMOVE", "bm:src", "bm:dst", "LEFT", "RIGHT", "10"});
  ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
  run(a.get(), {"RPUSH", "bm:src", "a", "b", "c"});
  Reply blmove = it::getReply(d.get());
  ASSERT_TRUE(blmove && blmove->type == REDIS_REPLY_STRING) << it::describe(blmove.get());
  EXPECT_EQ(str(blmove.get()), "a");
  Reply blmoveNow = run(d.get(), {"BLMOVE", "bm:src", "bm:dst", "RIGHT", "LEFT", "1"});
  EXPECT_EQ(str(blmoveNow.get()), "c");
  run(d.get(), {"BZPOPMAX", "bz:a", "1"});
  Reply bzTimedOut = run(d.get(), {"BZPOPMAX", "bz:none", "0.1"});
  EXPECT_TRUE(bzTimedOut && bzTimedOut->type == REDIS_REPLY_NIL);
  run(d.get(), {"SELECT", "2"});
  run(d.get(), {"RPUSH", "bl2", "a", "b", "c"});
  run(d.get(), {"BRPOP", "bl2", "1"});
  run(d.get(), {"BRPOPLPUSH", "bl2", "bl2:dst", "1"});

  expectSameData(s, 3);
  // The aborted and discarded transactions did not reach the canary.
  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(str(run(canary.get(), {"GET", "w:k"}).get()), "changed-by-c");
  EXPECT_EQ(run(canary.get(), {"EXISTS", "w:n", "w:other", "tx:discarded"})->integer, 0);
  const auto status = s.admin->canary("c1");
  EXPECT_EQ(dropsOf(status), 0u) << status.dump();
  EXPECT_GT(status.value("matched", 0ULL), 0u) << status.dump();
  EXPECT_EQ(status.value("diverged", 0ULL), 0u) << "replies compared unequal: " << status.dump();
}

// Blocking pops are mirrored as their non-blocking effect whatever the letter case the
// client spells the command in (clients commonly send upper case).
TEST_F(MirrorConsistency, BlockingPopEffectsWhateverTheCommandCase) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx a = connectOrDie(s.proxyPort());
  run(a.get(), {"RPUSH", "case:l", "1", "2", "3", "4", "5", "6"});
  run(a.get(), {"ZADD", "case:z", "1", "a", "2", "b", "3", "c"});
  run(a.get(), {"blpop", "case:l", "1"});
  run(a.get(), {"BLPOP", "case:l", "1"});
  run(a.get(), {"BRPOP", "case:l", "1"});
  run(a.get(), {"BlMove", "case:l", "case:dst", "LEFT", "RIGHT", "1"});
  run(a.get(), {"BRPOPLPUSH", "case:l", "case:dst", "1"});
  run(a.get(), {"BZPOPMIN", "case:z", "1"});
  run(a.get(), {"BLMPOP", "1", "1", "case:l", "LEFT"});
  expectSameData(s, 0);
}

// XADD with '*' gets its ID from the primary's clock; the canary must store the same
// entry ID (Redis's replication stream rewrites it to the explicit ID).
TEST_F(MirrorConsistency, XaddWithAutomaticIdGivesCanaryTheSameIds) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx a = connectOrDie(s.proxyPort());
  for (int i = 0; i < 5; ++i) {
    run(a.get(), {"XADD", "st:auto", "*", "n", std::to_string(i)});
    std::this_thread::sleep_for(Millis(3));
  }
  run(a.get(), {"XADD", "st:auto2", "MAXLEN", "~", "100", "*", "f", "v"});
  // In a transaction that runs for a while on the primary, the canary's clock has moved on
  // for certain by the time it runs the mirrored unit.
  run(a.get(), {"MULTI"});
  run(a.get(), {"XADD", "st:tx", "*", "f", "v"});
  run(a.get(), {"EVAL", "local x = 0 for i = 1, 3000000 do x = x + i end return 1", "0"});
  run(a.get(), {"EXEC"});
  expectSameData(s, 0, false);
}

// SCRIPT LOAD reaches the canary; a canary that lost its scripts (SCRIPT FLUSH on the
// canary, as after a restart) still gets the effect of EVALSHA: the proxy resends it as
// EVAL when the canary answers NOSCRIPT.
TEST_F(MirrorConsistency, EvalshaAfterCanaryLostScriptIsResentAsEval) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx a = connectOrDie(s.proxyPort());
  Reply sha = run(a.get(), {"SCRIPT", "LOAD", "return redis.call('SET', KEYS[1], ARGV[1])"});
  ASSERT_TRUE(sha && sha->type == REDIS_REPLY_STRING);
  run(a.get(), {"EVALSHA", str(sha.get()), "1", "ns:before", "v1"});
  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(eventually([&] { return str(run(canary.get(), {"GET", "ns:before"}).get()) == "v1" ? "" : "absent"; },
                       Millis(5000)),
            "")
      << "EVALSHA after SCRIPT LOAD did not reach the canary";
  run(canary.get(), {"SCRIPT", "FLUSH"});
  run(a.get(), {"EVALSHA", str(sha.get()), "1", "ns:after", "v2"});
  EXPECT_EQ(eventually([&] { return str(run(canary.get(), {"GET", "ns:after"}).get()) == "v2" ? "" : "absent"; },
                       Millis(5000)),
            "")
      << "EVALSHA answered NOSCRIPT on the canary and was not resent as EVAL; CANARY LIST: "
      << s.admin->canary("c1").dump();
}

// XREADGROUP writes (the group's last-delivered ID and pending entries): without
// BLOCK it is mirrored as sent; with BLOCK, once the primary delivered entries, as
// the same read without BLOCK.
TEST_F(MirrorConsistency, StreamGroupReadsReachTheCanaryBlockingOrNot) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx a = connectOrDie(s.proxyPort());
  run(a.get(), {"XADD", "events", "1-1", "f", "v"});
  run(a.get(), {"XGROUP", "CREATE", "events", "workers", "0"});
  Reply first = run(a.get(), {"XREADGROUP", "GROUP", "workers", "w1", "COUNT", "1", "STREAMS", "events", ">"});
  ASSERT_EQ(first->type, REDIS_REPLY_ARRAY);

  Ctx b = connectOrDie(s.proxyPort());
  redisAppendCommand(b.get(), "XREADGROUP GROUP workers w2 BLOCK 5000 STREAMS events >");
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(b.get(), &done), REDIS_OK);
  ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
  run(a.get(), {"XADD", "events", "2-1", "f", "w"});
  redisReply* served = nullptr;
  ASSERT_EQ(redisGetReply(b.get(), reinterpret_cast<void**>(&served)), REDIS_OK);
  Reply servedReply(served);
  ASSERT_EQ(servedReply->type, REDIS_REPLY_ARRAY);

  auto groupState = [](uint16_t port) {
    Ctx c = connectOrDie(port);
    Reply pending = run(c.get(), {"XPENDING", "events", "workers"}, true);
    Reply groups = run(c.get(), {"XINFO", "GROUPS", "events"}, true);
    std::string state;
    if (pending && pending->type == REDIS_REPLY_ARRAY && pending->elements > 0) {
      state += "pending=" + std::to_string(pending->element[0]->integer);
    }
    if (groups && groups->type == REDIS_REPLY_ARRAY && groups->elements == 1) {
      const redisReply* group = groups->element[0];
      for (size_t i = 0; i + 1 < group->elements; i += 2) {
        if (str(group->element[i]) == "last-delivered-id") state += " last=" + str(group->element[i + 1]);
      }
    }
    return state;
  };
  const std::string primary = groupState(s.primary->port());
  EXPECT_EQ(primary, "pending=2 last=2-1");
  EXPECT_EQ(eventually([&] { return groupState(s.canaries[0]->port()) == primary ? "" : groupState(s.canaries[0]->port()); },
                       Millis(5000)),
            "");
}

// XCLAIM and XAUTOCLAIM claim entries idle for long enough, and idle times differ
// between servers: the canary must claim what the primary claimed, not what its
// own clock says. Here the canary's entries were just touched (idle ~0), so only
// the effect (XCLAIM with min-idle-time 0 of the claimed IDs) moves them.
TEST_F(MirrorConsistency, StreamClaimsFollowThePrimaryNotTheCanarysIdleTimes) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx a = connectOrDie(s.proxyPort());
  for (const char* id : {"1-1", "2-1", "3-1"}) run(a.get(), {"XADD", "jobs", id, "f", "v"});
  run(a.get(), {"XGROUP", "CREATE", "jobs", "g", "0"});
  run(a.get(), {"XREADGROUP", "GROUP", "g", "old", "STREAMS", "jobs", ">"});
  auto owners = [](uint16_t port) {
    Ctx c = connectOrDie(port);
    Reply r = run(c.get(), {"XPENDING", "jobs", "g", "-", "+", "10"}, true);
    std::string text;
    if (r && r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < r->elements; ++i) {
        text += str(r->element[i]->element[0]) + ":" + str(r->element[i]->element[1]) + " ";
      }
    }
    return text;
  };
  ASSERT_EQ(eventually([&] { return owners(s.canaries[0]->port()) == "1-1:old 2-1:old 3-1:old " ? "" : "not yet"; },
                       Millis(5000)),
            "");
  std::this_thread::sleep_for(Millis(300));
  Ctx canary = connectOrDie(s.canaries[0]->port());
  run(canary.get(), {"XCLAIM", "jobs", "g", "old", "0", "1-1", "2-1", "3-1", "JUSTID"});  // idle 0 there

  Reply claimed = run(a.get(), {"XCLAIM", "jobs", "g", "new", "200", "1-1", "JUSTID"});
  ASSERT_EQ(claimed->elements, 1u);
  Reply autoclaimed = run(a.get(), {"XAUTOCLAIM", "jobs", "g", "auto", "200", "2-0", "COUNT", "1"});
  ASSERT_EQ(autoclaimed->type, REDIS_REPLY_ARRAY);
  const std::string primary = owners(s.primary->port());
  EXPECT_EQ(primary, "1-1:new 2-1:auto 3-1:old ");
  EXPECT_EQ(eventually([&] { return owners(s.canaries[0]->port()) == primary ? "" : owners(s.canaries[0]->port()); },
                       Millis(5000)),
            "");
}

// A transaction that serves a blocked client (MULTI; LPUSH q job; EXEC while a
// worker waits in BRPOP q, as job queues do) answers both clients in the same
// primary event; on the canary the push must come before the pop, or the pop
// finds nothing and the job stays behind on the canary.
TEST_F(MirrorConsistency, TransactionServingABlockedPopReachesTheCanaryFirst) {
  // One worker: this is about the order of effects on one link (LinkOrder has its own test).
  Rig::Options options;
  options.workers = 1;
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx producer = connectOrDie(s.proxyPort());
  Ctx worker = connectOrDie(s.proxyPort());
  constexpr int kRounds = 30;
  for (int i = 0; i < kRounds; ++i) {
    const std::string queue = "queue:" + std::to_string(i);
    redisAppendCommand(worker.get(), "BRPOP %s 5", queue.c_str());
    int done = 0;
    while (!done) ASSERT_EQ(redisBufferWrite(worker.get(), &done), REDIS_OK);
    ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
    run(producer.get(), {"MULTI"});
    run(producer.get(), {"SADD", "queues", queue});
    run(producer.get(), {"LPUSH", queue, "job"});
    Reply exec = run(producer.get(), {"EXEC"});
    ASSERT_EQ(exec->type, REDIS_REPLY_ARRAY);
    redisReply* popped = nullptr;
    ASSERT_EQ(redisGetReply(worker.get(), reinterpret_cast<void**>(&popped)), REDIS_OK);
    Reply poppedReply(popped);
    ASSERT_EQ(poppedReply->type, REDIS_REPLY_ARRAY);
  }
  waitMirrorQuiet(*s.admin, "c1");
  EXPECT_EQ(compareDb(s.primary->port(), s.canaries[0]->port(), 0), "");
}

// A chain of blocked clients served by one write: LPUSH src serves a BLMOVE
// src -> dst, whose push serves a BLPOP dst. Redis answers both in the same
// event, newest reply first, and the proxy may read them in two loop turns; on
// the canary the LMOVE must still run before the LPOP that takes what it moved.
TEST_F(MirrorConsistency, ChainedBlockedClientsReachTheCanaryInServingOrder) {
  Rig::Options options;
  options.workers = 1;
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx producer = connectOrDie(s.proxyPort());
  Ctx mover = connectOrDie(s.proxyPort());
  Ctx popper = connectOrDie(s.proxyPort());
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) {
    const std::string src = "{chain" + std::to_string(i) + "}src";
    const std::string dst = "{chain" + std::to_string(i) + "}dst";
    redisAppendCommand(mover.get(), "BLMOVE %s %s LEFT RIGHT 5", src.c_str(), dst.c_str());
    int done = 0;
    while (!done) ASSERT_EQ(redisBufferWrite(mover.get(), &done), REDIS_OK);
    ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
    redisAppendCommand(popper.get(), "BLPOP %s 5", dst.c_str());
    done = 0;
    while (!done) ASSERT_EQ(redisBufferWrite(popper.get(), &done), REDIS_OK);
    ASSERT_TRUE(waitBlocked(s.primary->port(), 2));
    run(producer.get(), {"LPUSH", src, "job" + std::to_string(i)});
    redisReply* moved = nullptr;
    ASSERT_EQ(redisGetReply(mover.get(), reinterpret_cast<void**>(&moved)), REDIS_OK);
    Reply movedReply(moved);
    ASSERT_EQ(movedReply->type, REDIS_REPLY_STRING);
    redisReply* popped = nullptr;
    ASSERT_EQ(redisGetReply(popper.get(), reinterpret_cast<void**>(&popped)), REDIS_OK);
    Reply poppedReply(popped);
    ASSERT_EQ(poppedReply->type, REDIS_REPLY_ARRAY);
  }
  // A pop nothing feeds is not held for long: a lone BLPOP served by an LPUSH.
  redisAppendCommand(popper.get(), "BLPOP %s 5", "lone");
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(popper.get(), &done), REDIS_OK);
  ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
  run(producer.get(), {"LPUSH", "lone", "x"});
  redisReply* lone = nullptr;
  ASSERT_EQ(redisGetReply(popper.get(), reinterpret_cast<void**>(&lone)), REDIS_OK);
  Reply loneReply(lone);
  waitMirrorQuiet(*s.admin, "c1");
  EXPECT_EQ(compareDb(s.primary->port(), s.canaries[0]->port(), 0), "");
}

// Redis sets no nesting limit on replies; a script returning nested tables goes
// far deeper than any command reply. The session must stay observed and mirrored.
TEST_F(MirrorConsistency, DeeplyNestedScriptReplyKeepsTheSessionMirrored) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  // hiredis reads at most 7 levels: speak RESP by hand.
  it::RawClient c(s.proxyPort());
  ASSERT_TRUE(c.connected());
  constexpr int kDepth = 150;
  const std::string script = "local t = {1} for i = 1, " + std::to_string(kDepth) + " do t = {t} end return t";
  ASSERT_TRUE(c.sendAll("*3\r\n$4\r\nEVAL\r\n$" + std::to_string(script.size()) + "\r\n" + script +
                        "\r\n$1\r\n0\r\n"));
  std::string expected;
  for (int i = 0; i <= kDepth; ++i) expected += "*1\r\n";
  expected += ":1\r\n";
  EXPECT_EQ(c.readExactly(expected.size()), expected);
  ASSERT_TRUE(c.sendAll("*3\r\n$3\r\nSET\r\n$10\r\nafter-deep\r\n$1\r\n1\r\n"));
  EXPECT_EQ(c.readExactly(5), "+OK\r\n");
  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(eventually([&] { return str(run(canary.get(), {"GET", "after-deep"}).get()) == "1" ? "" : "absent"; },
                       Millis(5000)),
            "")
      << "the session stopped being mirrored after a deep reply";
  const nlohmann::json report = nlohmann::json::parse(s.admin->text({"REPORT", "c1"}), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report.value("diverged", 1), 0) << report.dump();
  EXPECT_GE(report.value("compared", 0), 2) << report.dump();
}

// Redis closes a connection after answering QUIT; commands pipelined behind it
// never run on the primary, so they must not reach the canary either.
TEST_F(MirrorConsistency, CommandsPipelinedAfterQuitAreNotMirrored) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  {
    it::RawClient c(s.proxyPort());
    ASSERT_TRUE(c.sendAll("*3\r\n$3\r\nSET\r\n$6\r\nbefore\r\n$1\r\n1\r\n*1\r\n$4\r\nQUIT\r\n"
                          "*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n1\r\n"));
    EXPECT_EQ(c.readUntilClosed(), "+OK\r\n+OK\r\n");
  }
  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(eventually([&] { return str(run(canary.get(), {"GET", "before"}).get()) == "1" ? "" : "absent"; },
                       Millis(5000)),
            "");
  waitMirrorQuiet(*s.admin, "c1");
  EXPECT_EQ(dbsize(s.primary->port()), 1);
  EXPECT_EQ(dbsize(s.canaries[0]->port()), 1) << "the SET after QUIT reached the canary";
}

// Transactions without WATCH are mirrored when EXEC is sent (so that what they
// cause follows them); one with a member the primary refused (EXECABORT) must
// still not reach the canary, nor one whose WATCH fired.
TEST_F(MirrorConsistency, AbortedTransactionsNeverReachTheCanary) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx a = connectOrDie(s.proxyPort());
  run(a.get(), {"MULTI"});
  run(a.get(), {"SET", "tx:good", "1"});
  run(a.get(), {"SET", "tx:malformed"}, true);  // wrong arity: refused when queued
  Reply aborted = run(a.get(), {"EXEC"}, true);
  ASSERT_EQ(aborted->type, REDIS_REPLY_ERROR);
  // Refused for the primary's state only (OOM under a maxmemory the canary lacks).
  Ctx direct = connectOrDie(s.primary->port());
  run(a.get(), {"MULTI"});
  run(a.get(), {"SET", "tx:oom-before", "1"});
  run(direct.get(), {"CONFIG", "SET", "maxmemory", "1"});
  run(a.get(), {"LPUSH", "tx:oom", "x"}, true);
  run(direct.get(), {"CONFIG", "SET", "maxmemory", "0"});
  Reply oomAborted = run(a.get(), {"EXEC"}, true);
  ASSERT_EQ(oomAborted->type, REDIS_REPLY_ERROR);
  run(a.get(), {"MULTI"});
  run(a.get(), {"SET", "tx:ok", "1"});
  run(a.get(), {"EXEC"});
  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(eventually([&] { return str(run(canary.get(), {"GET", "tx:ok"}).get()) == "1" ? "" : "absent"; },
                       Millis(5000)),
            "");
  waitMirrorQuiet(*s.admin, "c1");
  EXPECT_EQ(run(canary.get(), {"EXISTS", "tx:good"})->integer, 0) << "an aborted transaction reached the canary";
  EXPECT_EQ(run(canary.get(), {"EXISTS", "tx:oom-before"})->integer, 0)
      << "a transaction the primary refused (OOM) reached the canary";
}

// A script killed on the primary (SCRIPT KILL) wrote nothing there; mirrored as
// sent, it would loop on the canary until killed there too, and the canary would
// answer BUSY to everything meanwhile. Scripts wait for the primary's answer.
TEST_F(MirrorConsistency, ScriptKilledOnThePrimaryNeverReachesTheCanary) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx looping = connectOrDie(s.proxyPort());
  redisAppendCommand(looping.get(), "EVAL %s 0", "while true do end");
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(looping.get(), &done), REDIS_OK);
  // The primary is busy once it answers BUSY to a direct PING.
  Ctx direct = connectOrDie(s.primary->port());
  ASSERT_EQ(eventually(
                [&] {
                  Reply r(static_cast<redisReply*>(redisCommand(direct.get(), "PING")));
                  return r && r->type == REDIS_REPLY_ERROR && std::string(r->str).rfind("BUSY", 0) == 0 ? ""
                                                                                                         : "not busy";
                },
                Millis(15000)),  // BUSY after lua-time-limit (5 s)
            "");
  Ctx killer = connectOrDie(s.proxyPort());
  EXPECT_EQ(str(run(killer.get(), {"SCRIPT", "KILL"}).get()), "OK");
  redisReply* killed = nullptr;
  ASSERT_EQ(redisGetReply(looping.get(), reinterpret_cast<void**>(&killed)), REDIS_OK);
  Reply killedReply(killed);
  ASSERT_EQ(killedReply->type, REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(killedReply->str).find("Script killed"), std::string::npos) << killedReply->str;

  // The same session goes on; its next commands reach a canary that is not busy.
  EXPECT_EQ(str(run(looping.get(), {"SET", "after-kill", "1"}).get()), "OK");
  Reply script = run(looping.get(), {"EVAL", "return redis.call('INCR', KEYS[1])", "1", "after-kill-count"});
  EXPECT_EQ(script->integer, 1);
  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(eventually(
                [&] {
                  Reply r(static_cast<redisReply*>(redisCommand(canary.get(), "GET after-kill-count")));
                  if (!r) return std::string("no reply");
                  if (r->type == REDIS_REPLY_ERROR) return std::string(r->str);
                  return str(r.get()) == "1" ? std::string() : std::string("absent");
                },
                Millis(5000)),
            "")
      << "the canary did not get the later script (busy with the killed one?)";
  EXPECT_EQ(str(run(canary.get(), {"GET", "after-kill"}).get()), "1");
  const nlohmann::json report = nlohmann::json::parse(s.admin->text({"REPORT", "c1"}), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["skipped"].value("script_killed", 0), 1) << report.dump();
}

// One client writes, another (on another connection, so most often on another
// worker) reads what was written as soon as the first got its reply: on the
// canary the read must come after the write too, however long the link batches.
// Workers hand each turn's commands to the canary's one writer before the turn's
// replies leave (CanaryHub), so the canary's one stream has them in the order
// the proxy read them; with a link per worker about one read in ten overtook
// its write (measured: 169 and 265 of 1920 comparisons), and ordering those
// links across workers stalled them from 4 workers on.
TEST_F(MirrorConsistency, HandoffsBetweenConnectionsOfDifferentWorkersStayInOrder) {
  Rig::Options options;
  options.workers = 4;
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  constexpr int kPairs = 16;
  constexpr int kRounds = 40;
  std::vector<Ctx> writers;
  std::vector<Ctx> readers;
  for (int i = 0; i < kPairs; ++i) {
    writers.push_back(connectOrDie(s.proxyPort()));
    readers.push_back(connectOrDie(s.proxyPort()));
  }
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kPairs; ++i) {
      const std::string key = "handoff:" + std::to_string(i);
      const std::string value = std::to_string(round);
      ASSERT_EQ(str(run(writers[i].get(), {"SET", key, value}).get()), "OK");
      ASSERT_EQ(str(run(readers[i].get(), {"GET", key}).get()), value);
      ASSERT_EQ(run(readers[i].get(), {"APPEND", key, "r"})->integer, static_cast<long long>(value.size() + 1));
    }
  }
  waitMirrorQuiet(*s.admin, "c1");
  const nlohmann::json report = nlohmann::json::parse(s.admin->text({"REPORT", "c1"}), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  const int compared = report.value("compared", 0);
  EXPECT_EQ(compared, 3 * kPairs * kRounds) << report.dump();
  EXPECT_EQ(report.value("diverged", compared), 0) << report.dump();
}

// FUNCTION LOAD reaches every canary, but only once the primary accepted it: a
// load the primary refused (OOM under its own maxmemory) would leave the canary
// with a library the primary lacks, and every later load or call would differ.
// Likewise a script the primary refused before running it (a script declared as
// writing, under OOM) wrote nothing there; one that failed while running had
// written what came before the failure, and is mirrored.
TEST_F(MirrorConsistency, ScriptsAndLibrariesRefusedByThePrimaryNeverReachTheCanary) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx client = connectOrDie(s.proxyPort());
  Ctx direct = connectOrDie(s.primary->port());
  const std::string refused = "#!lua name=refusedlib\nredis.register_function('refused', function() return 1 end)";
  const std::string accepted = "#!lua name=acceptedlib\nredis.register_function('accepted', function() return 2 end)";
  run(direct.get(), {"CONFIG", "SET", "maxmemory", "1"});
  Reply oom = run(client.get(), {"FUNCTION", "LOAD", refused}, true);
  Reply oomScript = run(client.get(), {"EVAL", "#!lua\nreturn redis.call('SET', KEYS[1], 'x')", "1", "refused:key"}, true);
  run(direct.get(), {"CONFIG", "SET", "maxmemory", "0"});
  ASSERT_EQ(oom->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(oom->str).rfind("OOM", 0), 0u) << oom->str;
  ASSERT_EQ(oomScript->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(oomScript->str).rfind("OOM", 0), 0u) << oomScript->str;
  Reply failedLate = run(client.get(), {"EVAL", "redis.call('SET', KEYS[1], 'written') return redis.call('INCR', KEYS[1])",
                                        "1", "late:key"}, true);
  ASSERT_EQ(failedLate->type, REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(failedLate->str).find(" script: "), std::string::npos) << failedLate->str;
  EXPECT_EQ(str(run(client.get(), {"FUNCTION", "LOAD", accepted}).get()), "acceptedlib");
  EXPECT_EQ(run(client.get(), {"FCALL", "accepted", "0"})->integer, 2);
  Ctx canary = connectOrDie(s.canaries[0]->port());
  EXPECT_EQ(eventually(
                [&] {
                  Reply r(static_cast<redisReply*>(redisCommand(canary.get(), "FUNCTION LIST LIBRARYNAME acceptedlib")));
                  return r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? "" : "absent";
                },
                Millis(5000)),
            "");
  waitMirrorQuiet(*s.admin, "c1");
  Reply libraries = run(canary.get(), {"FUNCTION", "LIST", "LIBRARYNAME", "refusedlib"});
  EXPECT_EQ(libraries->elements, 0u) << "a library the primary refused was loaded on the canary";
  EXPECT_EQ(run(canary.get(), {"EXISTS", "refused:key"})->integer, 0) << "a script the primary refused ran on the canary";
  EXPECT_EQ(str(run(canary.get(), {"GET", "late:key"}).get()), "written") << "a script that failed late was not mirrored";
  const nlohmann::json report = nlohmann::json::parse(s.admin->text({"REPORT", "c1"}), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["skipped"].value("primary_refused", 0), 2) << report.dump();
  EXPECT_EQ(report.value("diverged", 1), 0) << report.dump();
}

// Effects known only from a reply (SPOP, blocking pops, EXEC) must keep their place in
// the session's order when the client pipelines: commands sent after them must reach
// the canary after them.
TEST_F(MirrorConsistency, PipelinedEffectsKeepSessionOrder) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx a = connectOrDie(s.proxyPort());
  const std::vector<std::vector<std::string>> pipeline = {
      {"SADD", "{p}s", "a", "b", "c", "d"},
      {"SPOP", "{p}s"},
      {"SUNIONSTORE", "{p}copy", "{p}s"},
      {"RPUSH", "{p}l", "a"},
      {"blpop", "{p}l", "1"},  // lower case: another test covers the letter case
      {"LPUSH", "{p}l", "b"},
      {"MULTI"},
      {"SET", "{p}t", "from-tx"},
      {"EXEC"},
      {"SET", "{p}t", "after-tx"},
  };
  // One write: the proxy reads the whole pipeline before the primary answers any of it.
  for (const auto& command : pipeline) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& arg : command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    ASSERT_EQ(redisAppendCommandArgv(a.get(), static_cast<int>(command.size()), argv.data(), lens.data()),
              REDIS_OK);
  }
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(a.get(), &done), REDIS_OK);
  for (size_t i = 0; i < pipeline.size(); ++i) {
    Reply r = it::getReply(a.get());
    ASSERT_TRUE(r) << "no reply " << i;
    ASSERT_NE(r->type, REDIS_REPLY_ERROR) << i << ": " << it::describe(r.get());
  }
  expectSameData(s, 0);
}

// SELECT inside a transaction that never runs leaves the primary connection's database
// unchanged; mirroring must not switch the session's database either.
TEST_F(MirrorConsistency, SelectInsideDiscardedOrAbortedTransactionDoesNotMoveSession) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  Ctx a = connectOrDie(s.proxyPort());
  Ctx other = connectOrDie(s.proxyPort());
  run(a.get(), {"MULTI"});
  run(a.get(), {"SELECT", "3"});
  run(a.get(), {"DISCARD"});
  run(a.get(), {"SET", "sel:after-discard", "db0"});
  run(a.get(), {"WATCH", "sel:w"});
  run(other.get(), {"SET", "sel:w", "x"});
  run(a.get(), {"MULTI"});
  run(a.get(), {"SELECT", "2"});
  Reply aborted = run(a.get(), {"EXEC"});
  ASSERT_TRUE(aborted && aborted->type == REDIS_REPLY_NIL);
  run(a.get(), {"SET", "sel:after-abort", "db0"});
  // A committed transaction with SELECT does move it.
  run(a.get(), {"MULTI"});
  run(a.get(), {"SELECT", "1"});
  run(a.get(), {"SET", "sel:in-tx", "db1"});
  run(a.get(), {"EXEC"});
  run(a.get(), {"SET", "sel:after-commit", "db1"});
  expectSameData(s, 3);
}

}  // namespace
}  // namespace mirror_it
