// Command knowledge: parsing COMMAND replies (hand-built and from a real
// redis-server), the built-in table, the policy table and key positions.
#include "redmirror/mirror/command_table.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "redis_server.h"

namespace redmirror::mirror {
namespace {

using testing::ReplyPtr;

// ---------------------------------------------------------------------------
// Helpers

std::vector<uint32_t> keysOf(const CommandTable& table, std::string_view name,
                             std::initializer_list<std::string> args, bool* ok = nullptr) {
  const CommandInfo* info = table.find(name);
  EXPECT_NE(info, nullptr) << name;
  if (info == nullptr) return {};
  const std::vector<std::string> words(args);
  ListArgs reader(words);
  std::vector<uint32_t> positions{999};
  const bool found = findKeys(*info, reader, positions);
  if (ok != nullptr) *ok = found;
  else EXPECT_TRUE(found) << name;
  return positions;
}

bool keysFail(const CommandTable& table, std::string_view name, std::initializer_list<std::string> args) {
  bool ok = true;
  const std::vector<uint32_t> positions = keysOf(table, name, args, &ok);
  EXPECT_TRUE(positions.empty());
  return !ok;
}

using Keys = std::vector<uint32_t>;

// RESP text for hand-built replies, parsed by hiredis's own reader into a redisReply tree.
std::string bulk(std::string_view s) { return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n"; }
std::string status(std::string_view s) { return "+" + std::string(s) + "\r\n"; }
std::string integer(long long n) { return ":" + std::to_string(n) + "\r\n"; }
std::string array(const std::vector<std::string>& items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& item : items) out += item;
  return out;
}
std::string statusArray(const std::vector<std::string>& words) {
  std::vector<std::string> items;
  for (const std::string& w : words) items.push_back(status(w));
  return array(items);
}
std::string bulkArray(const std::vector<std::string>& words) {
  std::vector<std::string> items;
  for (const std::string& w : words) items.push_back(bulk(w));
  return array(items);
}

// A Redis 7 COMMAND entry (10 elements); key specs are left empty, as redmirror ignores them.
std::string entry7(const std::string& name, int arity, const std::vector<std::string>& flags, int first, int last,
                   int step, const std::vector<std::string>& tips = {}, const std::vector<std::string>& subs = {}) {
  return array({bulk(name), integer(arity), statusArray(flags), integer(first), integer(last), integer(step),
                statusArray({"@read"}), bulkArray(tips), array({}), array(subs)});
}
// Redis 6 (7 elements: with ACL categories) and Redis 5 (6 elements).
std::string entry6(const std::string& name, int arity, const std::vector<std::string>& flags, int first, int last,
                   int step) {
  return array({bulk(name), integer(arity), statusArray(flags), integer(first), integer(last), integer(step),
                statusArray({"@write"})});
}
std::string entry5(const std::string& name, int arity, const std::vector<std::string>& flags, int first, int last,
                   int step) {
  return array({bulk(name), integer(arity), statusArray(flags), integer(first), integer(last), integer(step)});
}

ReplyPtr parseResp(const std::string& text) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, text.data(), text.size());
  void* reply = nullptr;
  const int rc = redisReaderGetReply(reader, &reply);
  redisReaderFree(reader);
  EXPECT_EQ(rc, REDIS_OK);
  EXPECT_NE(reply, nullptr) << "incomplete RESP in the test";
  return ReplyPtr(static_cast<redisReply*>(reply));
}

// What Redis 7.0.15 says, in hand-built form.
std::string handBuiltRedis7() {
  return array({
      entry7("get", 2, {"readonly", "fast"}, 1, 1, 1),
      entry7("set", -3, {"write", "denyoom"}, 1, 1, 1),
      entry7("mset", -3, {"write", "denyoom"}, 1, -1, 2, {"request_policy:multi_shard"}),
      entry7("del", -2, {"write"}, 1, -1, 1),
      entry7("eval", -3, {"noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"}, 0, 0, 0),
      entry7("xread", -4, {"readonly", "blocking", "movablekeys"}, 0, 0, 0),
      entry7("zunionstore", -4, {"write", "denyoom", "movablekeys"}, 1, 1, 1),
      entry7("sort", -2, {"write", "denyoom", "movablekeys"}, 1, 1, 1),
      entry7("blmpop", -5, {"write", "blocking", "movablekeys"}, 0, 0, 0),
      entry7("blpop", -3, {"write", "noscript", "blocking"}, 1, -2, 1),
      entry7("spop", -2, {"write", "fast"}, 1, 1, 1, {"nondeterministic_output"}),
      entry7("smembers", 2, {"readonly"}, 1, 1, 1),  // tip left out on purpose: hard-coded
      entry7("hgetall", 2, {"readonly"}, 1, 1, 1, {"nondeterministic_output_order"}),
      entry7("flushall", -1, {"write"}, 0, 0, 0, {"request_policy:all_shards"}),
      entry7("swapdb", 3, {"write", "fast"}, 0, 0, 0),
      entry7("ping", -1, {"fast"}, 0, 0, 0),
      entry7("auth", -2, {"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, 0, 0, 0),
      entry7("client", -2, {}, 0, 0, 0, {},
             {entry7("client|kill", -3, {"admin", "noscript", "loading", "stale"}, 0, 0, 0),
              entry7("client|setname", 3, {"noscript", "loading", "stale"}, 0, 0, 0)}),
      entry7("config", -2, {}, 0, 0, 0, {},
             {entry7("config|get", -3, {"admin", "noscript", "loading", "stale"}, 0, 0, 0),
              entry7("config|set", -4, {"admin", "noscript", "loading", "stale"}, 0, 0, 0)}),
      entry7("xgroup", -2, {}, 0, 0, 0, {},
             {entry7("xgroup|create", -5, {"write", "denyoom"}, 2, 2, 1),
              entry7("xgroup|help", 2, {"loading", "stale"}, 0, 0, 0)}),
      entry7("object", -2, {}, 0, 0, 0, {},
             {entry7("object|encoding", 3, {"readonly"}, 2, 2, 1),
              entry7("object|help", 2, {"loading", "stale"}, 0, 0, 0)}),
      entry7("subscribe", -2, {"pubsub", "noscript", "loading", "stale"}, 0, 0, 0),
      entry7("select", 2, {"loading", "stale", "fast"}, 0, 0, 0),
      entry7("keys", 2, {"readonly"}, 0, 0, 0, {"request_policy:all_shards", "nondeterministic_output_order"}),
      entry7("shutdown", -1, {"admin", "noscript", "loading", "stale", "no_multi"}, 0, 0, 0),
      entry7("mymodule.cmd", -1, {"write", "movablekeys"}, 0, 0, 0),
  });
}

CommandTable loaded(const std::string& resp) {
  CommandTable table;
  ReplyPtr reply = parseResp(resp);
  std::string error;
  EXPECT_TRUE(table.loadFromCommandReply(reply.get(), error)) << error;
  return table;
}

// The key positions every table (hand-built, built-in, real Redis) must agree on.
void expectCoreKeys(const CommandTable& t) {
  EXPECT_EQ(keysOf(t, "get", {"get", "k"}), Keys({1}));
  EXPECT_EQ(keysOf(t, "set", {"set", "k", "v", "EX", "10"}), Keys({1}));
  EXPECT_EQ(keysOf(t, "mset", {"mset", "a", "1", "b", "2", "c", "3"}), Keys({1, 3, 5}));
  EXPECT_TRUE(keysFail(t, "mset", {"mset", "a", "1", "b"}));
  EXPECT_EQ(keysOf(t, "del", {"del", "a", "b", "c"}), Keys({1, 2, 3}));
  EXPECT_EQ(keysOf(t, "blpop", {"blpop", "a", "b", "0"}), Keys({1, 2}));
  EXPECT_EQ(keysOf(t, "eval", {"eval", "return 1", "2", "k1", "k2", "arg"}), Keys({3, 4}));
  EXPECT_EQ(keysOf(t, "eval", {"eval", "return 1", "0"}), Keys({}));
  EXPECT_EQ(keysOf(t, "xread", {"xread", "COUNT", "2", "streams", "s1", "s2", "0", "$"}), Keys({4, 5}));
  EXPECT_EQ(keysOf(t, "zunionstore", {"zunionstore", "dst", "2", "a", "b", "WEIGHTS", "1", "2"}), Keys({1, 3, 4}));
  EXPECT_EQ(keysOf(t, "sort", {"sort", "list", "BY", "store", "LIMIT", "0", "10", "GET", "#", "STORE", "dst"}),
            Keys({1, 10}));
  EXPECT_EQ(keysOf(t, "sort", {"sort", "list", "ALPHA"}), Keys({1}));
  EXPECT_EQ(keysOf(t, "blmpop", {"blmpop", "0", "2", "l1", "l2", "LEFT", "COUNT", "3"}), Keys({3, 4}));
  EXPECT_EQ(keysOf(t, "spop", {"spop", "s"}), Keys({1}));
  EXPECT_EQ(keysOf(t, "ping", {"ping"}), Keys({}));
  EXPECT_EQ(keysOf(t, "flushall", {"flushall", "ASYNC"}), Keys({}));
  EXPECT_EQ(keysOf(t, "xgroup", {"xgroup", "CREATE", "stream", "grp", "$"}), Keys({2}));
  EXPECT_EQ(keysOf(t, "object", {"object", "ENCODING", "k"}), Keys({2}));
}

void expectCoreFlagsAndPolicy(const CommandTable& t) {
  const CommandInfo* get = t.find("get");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->name, "get");
  EXPECT_EQ(get->arity, 2);
  EXPECT_FALSE(get->isWrite());
  EXPECT_TRUE(get->flags & kFlagReadonly);
  EXPECT_TRUE(get->flags & kFlagFast);
  EXPECT_EQ(get->keyRule, KeyRule::kRange);
  EXPECT_EQ(get->policy, Policy::kMirror);

  const CommandInfo* set = t.find("set");
  ASSERT_NE(set, nullptr);
  EXPECT_TRUE(set->isWrite());
  EXPECT_EQ(set->arity, -3);

  const CommandInfo* mset = t.find("mset");
  ASSERT_NE(mset, nullptr);
  EXPECT_EQ(mset->firstKey, 1);
  EXPECT_EQ(mset->lastKey, -1);
  EXPECT_EQ(mset->step, 2);

  EXPECT_EQ(t.find("eval")->keyRule, KeyRule::kNumkeysAt2);
  EXPECT_TRUE(t.find("eval")->flags & kFlagNoscript);
  EXPECT_TRUE(t.find("eval")->flags & kFlagMovableKeys);
  EXPECT_EQ(t.find("xread")->keyRule, KeyRule::kStreams);
  EXPECT_TRUE(t.find("xread")->isBlocking());
  EXPECT_EQ(t.find("zunionstore")->keyRule, KeyRule::kDestNumkeysAt2);
  EXPECT_EQ(t.find("sort")->keyRule, KeyRule::kSort);
  EXPECT_TRUE(t.find("sort")->isWrite());
  EXPECT_EQ(t.find("blmpop")->keyRule, KeyRule::kNumkeysAt2Blocking);
  EXPECT_TRUE(t.find("blmpop")->isBlocking());
  EXPECT_TRUE(t.find("blpop")->isBlocking());
  EXPECT_EQ(t.find("ping")->keyRule, KeyRule::kNone);
  EXPECT_TRUE(t.find("subscribe")->flags & kFlagPubsub);
  EXPECT_TRUE(t.find("shutdown")->flags & kFlagAdmin);
  EXPECT_TRUE(t.find("shutdown")->flags & kFlagNoMulti);
  EXPECT_TRUE(t.find("xgroup")->isWrite());

  EXPECT_TRUE(t.find("spop")->nondeterministicOutput);
  EXPECT_FALSE(t.find("spop")->nondeterministicOutputOrder);
  EXPECT_TRUE(t.find("smembers")->nondeterministicOutputOrder);
  EXPECT_TRUE(t.find("hgetall")->nondeterministicOutputOrder);
  EXPECT_FALSE(t.find("get")->nondeterministicOutput);

  EXPECT_TRUE(t.find("flushall")->wholeKeyspace);
  EXPECT_TRUE(t.find("swapdb")->wholeKeyspace);
  EXPECT_FALSE(t.find("del")->wholeKeyspace);
  EXPECT_EQ(t.find("flushall")->policy, Policy::kMirror);
  EXPECT_EQ(t.find("swapdb")->policy, Policy::kMirror);

  for (const char* name : {"auth", "config", "client", "subscribe", "select", "keys", "shutdown"}) {
    const CommandInfo* info = t.find(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->policy, Policy::kNever) << name;
    EXPECT_FALSE(info->policyReason.empty()) << name;
  }
  for (const char* name : {"get", "set", "mset", "eval", "xread", "sort", "blmpop", "spop", "ping", "object"}) {
    EXPECT_EQ(t.find(name)->policy, Policy::kMirror) << name;
    EXPECT_TRUE(t.find(name)->policyReason.empty()) << name;
  }
  EXPECT_EQ(t.find("nosuchcommand"), nullptr);
}

// ---------------------------------------------------------------------------
// Hand-built replies

TEST(CommandTableReply, HandBuiltRedis7) {
  CommandTable t = loaded(handBuiltRedis7());
  expectCoreKeys(t);
  expectCoreFlagsAndPolicy(t);
}

TEST(CommandTableReply, SubcommandsStoredUnderContainerName) {
  CommandTable t = loaded(handBuiltRedis7());
  const CommandInfo* configGet = t.find("config|get");
  ASSERT_NE(configGet, nullptr);
  EXPECT_EQ(configGet->arity, -3);
  EXPECT_EQ(configGet->policy, Policy::kNever);
  const CommandInfo* setname = t.find("client|setname");
  ASSERT_NE(setname, nullptr);
  EXPECT_EQ(setname->policy, Policy::kNever);  // inherits CLIENT's policy
  const CommandInfo* create = t.find("xgroup|create");
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(keysOf(t, "xgroup|create", {"xgroup", "create", "s", "g", "$"}), Keys({2}));
  EXPECT_EQ(create->policy, Policy::kMirror);
  // The container got the key range of its keyed subcommands.
  EXPECT_EQ(t.find("xgroup")->firstKey, 2);
  EXPECT_TRUE(t.find("object")->flags & kFlagReadonly);
  EXPECT_FALSE(t.find("object")->isWrite());
  bool ok = true;
  keysOf(t, "xgroup", {"xgroup", "help"}, &ok);
  EXPECT_FALSE(ok);  // no key to sample by: not mirrored
}

TEST(CommandTableReply, MovableKeysWithoutRuleAreNeverMirrored) {
  CommandTable t = loaded(handBuiltRedis7());
  const CommandInfo* info = t.find("mymodule.cmd");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->keyRule, KeyRule::kNone);
  EXPECT_EQ(info->policy, Policy::kNever);
}

TEST(CommandTableReply, Redis6AndRedis5Replies) {
  const std::string resp = array({
      entry6("get", 2, {"readonly", "fast"}, 1, 1, 1),
      entry6("mset", -3, {"write", "denyoom"}, 1, -1, 2),
      entry6("eval", -3, {"noscript", "movablekeys"}, 0, 0, 0),
      entry5("srandmember", -2, {"readonly", "random"}, 1, 1, 1),
      entry5("config", -2, {"admin", "noscript", "loading", "stale"}, 0, 0, 0),
      entry6("xgroup", -2, {"write", "denyoom"}, 2, 2, 1),
  });
  CommandTable t = loaded(resp);
  EXPECT_EQ(t.size(), 6u);
  EXPECT_EQ(keysOf(t, "mset", {"mset", "a", "1", "b", "2"}), Keys({1, 3}));
  EXPECT_EQ(keysOf(t, "eval", {"eval", "s", "1", "k"}), Keys({3}));
  EXPECT_EQ(keysOf(t, "xgroup", {"xgroup", "destroy", "s", "g"}), Keys({2}));
  EXPECT_TRUE(t.find("srandmember")->nondeterministicOutput);  // no tips in Redis 6: hard-coded
  EXPECT_FALSE(t.find("get")->nondeterministicOutput);
  EXPECT_EQ(t.find("config")->policy, Policy::kNever);
  EXPECT_TRUE(t.find("config")->flags & kFlagAdmin);
}

TEST(CommandTableReply, CommandInfoReplySkipsUnknownNames) {
  CommandTable t = loaded(array({"$-1\r\n", entry7("get", 2, {"readonly", "fast"}, 1, 1, 1), "$-1\r\n"}));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_NE(t.find("get"), nullptr);
}

TEST(CommandTableReply, ReplacesEarlierTable) {
  CommandTable t;
  t.loadBuiltin();
  ASSERT_NE(t.find("hset"), nullptr);
  ReplyPtr reply = parseResp(array({entry6("get", 2, {"readonly"}, 1, 1, 1)}));
  std::string error;
  ASSERT_TRUE(t.loadFromCommandReply(reply.get(), error)) << error;
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.find("hset"), nullptr);
}

TEST(CommandTableReply, MalformedRepliesAreRefusedAndKeepTheTable) {
  const std::vector<std::string> bad = {
      "-ERR unknown command 'COMMAND'\r\n",
      ":5\r\n",
      "+OK\r\n",
      "*0\r\n",
      array({bulk("get")}),                                                     // entry not an array
      array({array({bulk("get"), integer(2), statusArray({"readonly"}), integer(1), integer(1)})}),  // 5 elements
      array({array({bulk("get"), bulk("2"), statusArray({}), integer(1), integer(1), integer(1)})}),  // arity text
      array({array({bulk("get"), integer(2), status("readonly"), integer(1), integer(1), integer(1)})}),
      array({array({integer(1), integer(2), statusArray({}), integer(1), integer(1), integer(1)})}),  // name
      array({array({bulk("get"), integer(2), statusArray({}), integer(1), bulk("x"), integer(1)})}),
      array({entry6("get", 2, {"readonly"}, 1, 1, 1), integer(3)}),  // one bad entry spoils the reply
      array({entry7("client", -2, {}, 0, 0, 0, {}, {integer(1)})}),  // bad subcommand
      "*1\r\n$-1\r\n",                                                  // COMMAND INFO of nothing known
  };
  for (const std::string& resp : bad) {
    CommandTable t;
    t.loadBuiltin();
    const size_t before = t.size();
    ReplyPtr reply = parseResp(resp);
    std::string error;
    EXPECT_FALSE(t.loadFromCommandReply(reply.get(), error)) << resp;
    EXPECT_FALSE(error.empty()) << resp;
    EXPECT_EQ(t.size(), before);
    EXPECT_NE(t.find("get"), nullptr);
  }
  CommandTable t;
  std::string error;
  EXPECT_FALSE(t.loadFromCommandReply(nullptr, error));
  EXPECT_FALSE(error.empty());
}

// ---------------------------------------------------------------------------
// Built-in table

TEST(CommandTableBuiltin, CommonCommands) {
  CommandTable t;
  t.loadBuiltin();
  EXPECT_GT(t.size(), 150u);
  expectCoreKeys(t);
  expectCoreFlagsAndPolicy(t);
  for (const char* name : {"get", "set", "del", "exists", "expire", "pexpire", "ttl", "pttl", "incr", "incrby",
                           "decr", "append", "strlen", "mget", "mset", "setex", "psetex", "setnx", "getset",
                           "getdel", "hset", "hget", "hdel", "hgetall", "hmset", "hmget", "hincrby", "hkeys",
                           "hvals", "hlen", "sadd", "srem", "smembers", "scard", "sismember", "spop",
                           "srandmember", "zadd", "zrem", "zrange", "zrangebyscore", "zscore", "zincrby", "zcard",
                           "lpush", "rpush", "lpop", "rpop", "lrange", "llen", "lindex", "lset", "ltrim", "blpop",
                           "brpop", "blmove", "brpoplpush", "bzpopmin", "bzpopmax", "xadd", "xrange", "xlen",
                           "xdel", "xtrim", "select", "ping", "echo", "multi", "exec", "discard", "eval", "evalsha",
                           "script", "flushall", "flushdb", "swapdb", "publish", "subscribe", "unsubscribe",
                           "psubscribe", "punsubscribe", "auth", "hello", "client", "config", "info", "monitor"}) {
    EXPECT_NE(t.find(name), nullptr) << name;
  }
  EXPECT_EQ(keysOf(t, "brpoplpush", {"brpoplpush", "a", "b", "0"}), Keys({1, 2}));
  EXPECT_EQ(keysOf(t, "blmove", {"blmove", "a", "b", "LEFT", "RIGHT", "0"}), Keys({1, 2}));
  EXPECT_EQ(keysOf(t, "bzpopmin", {"bzpopmin", "a", "b", "1.5"}), Keys({1, 2}));
  EXPECT_EQ(keysOf(t, "hmset", {"hmset", "h", "f", "v", "g", "w"}), Keys({1}));
  EXPECT_EQ(keysOf(t, "mget", {"mget", "a", "b"}), Keys({1, 2}));
  EXPECT_EQ(keysOf(t, "xreadgroup", {"xreadgroup", "GROUP", "g", "c", "COUNT", "1", "NOACK", "STREAMS", "s", ">"}),
            Keys({8}));
  EXPECT_EQ(keysOf(t, "georadius", {"georadius", "g", "0", "0", "5", "km", "STORE", "d1", "STOREDIST", "d2"}),
            Keys({1, 9}));
  EXPECT_EQ(keysOf(t, "georadiusbymember", {"georadiusbymember", "g", "m", "5", "km", "STORE", "d"}),
            Keys({1, 6}));
  EXPECT_EQ(keysOf(t, "georadius", {"georadius", "g", "0", "0", "5", "km"}), Keys({1}));
  for (const char* name : {"multi", "exec", "discard", "watch", "unwatch", "hello", "info", "monitor", "publish",
                           "psubscribe", "unsubscribe", "scan", "dbsize", "randomkey", "debug", "acl", "replicaof",
                           "cluster", "wait", "quit", "reset", "command", "role", "migrate", "sync", "psync"}) {
    EXPECT_EQ(t.find(name)->policy, Policy::kNever) << name;
  }
  for (const char* name : {"object", "lastsave", "flushdb", "script", "function", "time", "dump", "restore"}) {
    EXPECT_EQ(t.find(name)->policy, Policy::kMirror) << name;
  }
}

// ---------------------------------------------------------------------------
// Policy

// The data path looks names up from the framer's capture: a fixed buffer that
// may still hold a longer earlier name past the current one's end.
TEST(CommandTableBuiltin, CapturedNamesFindTheirCommandWhateverTheBufferHolds) {
  CommandTable t;
  t.loadBuiltin();
  auto capture = [](const std::string& name, const std::string& stale) {
    resp::Capture c;
    for (size_t i = 0; i < c.bytes.size(); ++i) c.bytes[i] = i < stale.size() ? stale[i] : 'q';
    for (size_t i = 0; i < name.size(); ++i) c.bytes[i] = name[i];
    c.size = static_cast<uint8_t>(name.size());
    c.complete = true;
    return c;
  };
  for (const char* name : {"get", "set", "del", "zrangebyscore", "zrangebylex", "georadiusbymember", "georadius",
                           "brpoplpush", "brpop", "xautoclaim", "xclaim", "evalsha_ro", "evalsha"}) {
    const CommandInfo* byName = t.find(std::string_view(name));
    ASSERT_NE(byName, nullptr) << name;
    EXPECT_EQ(t.find(capture(name, "georadiusbymember_ro")), byName) << name;
    EXPECT_EQ(t.find(capture(name, "")), byName) << name;
  }
  EXPECT_EQ(t.find(capture("zrangebyxyz", "zrangebyscore")), nullptr);
  EXPECT_EQ(t.find(capture("ge", "get")), nullptr);
  EXPECT_EQ(t.find(capture("", "get")), nullptr);
  resp::Capture truncated = capture("get", "");
  truncated.complete = false;
  EXPECT_EQ(t.find(truncated), nullptr);
}

TEST(CommandTablePolicy, OverridesReplaceTheBuiltInPolicy) {
  CommandTable t;
  t.loadBuiltin();
  t.applyPolicy({{"GET", Policy::kNever}, {"config", Policy::kMirror}, {"hgetall", Policy::kTypeOnly},
                 {"notacommand", Policy::kNever}});
  EXPECT_EQ(t.find("get")->policy, Policy::kNever);
  EXPECT_EQ(t.find("get")->policyReason, "configured");
  EXPECT_EQ(t.find("config")->policy, Policy::kMirror);
  EXPECT_EQ(t.find("config")->policyReason, "configured");
  EXPECT_EQ(t.find("hgetall")->policy, Policy::kTypeOnly);
  EXPECT_EQ(t.find("set")->policy, Policy::kMirror);
  EXPECT_EQ(t.find("auth")->policy, Policy::kNever);

  // Overrides survive a reload.
  ReplyPtr reply = parseResp(handBuiltRedis7());
  std::string error;
  ASSERT_TRUE(t.loadFromCommandReply(reply.get(), error)) << error;
  EXPECT_EQ(t.find("get")->policy, Policy::kNever);
  EXPECT_EQ(t.find("config")->policy, Policy::kMirror);
  EXPECT_EQ(t.find("config|get")->policy, Policy::kMirror);  // the container's override applies
  t.loadBuiltin();
  EXPECT_EQ(t.find("hgetall")->policy, Policy::kTypeOnly);

  // Removing an override brings the built-in policy back.
  t.applyPolicy({});
  EXPECT_EQ(t.find("get")->policy, Policy::kMirror);
  EXPECT_TRUE(t.find("get")->policyReason.empty());
  EXPECT_EQ(t.find("config")->policy, Policy::kNever);
  EXPECT_NE(t.find("config")->policyReason, "configured");
}

TEST(CommandTablePolicy, ParsePolicy) {
  Policy p = Policy::kNever;
  EXPECT_TRUE(parsePolicy("mirror", p));
  EXPECT_EQ(p, Policy::kMirror);
  EXPECT_TRUE(parsePolicy("never", p));
  EXPECT_EQ(p, Policy::kNever);
  EXPECT_TRUE(parsePolicy("type_only", p));
  EXPECT_EQ(p, Policy::kTypeOnly);
  EXPECT_TRUE(parsePolicy("NEVER", p));
  EXPECT_EQ(p, Policy::kNever);
  for (const char* bad : {"", "mirrors", "type-only", "typeonly", "always", " never"}) {
    EXPECT_FALSE(parsePolicy(bad, p)) << bad;
  }
  EXPECT_EQ(p, Policy::kNever);
}

// ---------------------------------------------------------------------------
// findKeys on malformed arguments

TEST(FindKeys, BadNumkeys) {
  CommandTable t;
  t.loadBuiltin();
  EXPECT_TRUE(keysFail(t, "eval", {"eval", "s", "-1", "k"}));
  EXPECT_TRUE(keysFail(t, "eval", {"eval", "s", "abc", "k"}));
  EXPECT_TRUE(keysFail(t, "eval", {"eval", "s", "", "k"}));
  EXPECT_TRUE(keysFail(t, "eval", {"eval", "s", "+1", "k"}));
  EXPECT_TRUE(keysFail(t, "eval", {"eval", "s", "01", "k"}));
  EXPECT_TRUE(keysFail(t, "eval", {"eval", "s", "1 ", "k"}));
  EXPECT_TRUE(keysFail(t, "eval", {"eval", "s", "2", "k"}));
  EXPECT_TRUE(keysFail(t, "eval", {"eval", "s", "99999999999999999999", "k"}));
  EXPECT_TRUE(keysFail(t, "evalsha", {"evalsha", "sha", "3", "a", "b"}));
  EXPECT_EQ(keysOf(t, "evalsha", {"evalsha", "sha", "2", "a", "b"}), Keys({3, 4}));
  EXPECT_EQ(keysOf(t, "fcall", {"fcall", "f", "1", "a", "x"}), Keys({3}));

  EXPECT_EQ(keysOf(t, "zunion", {"zunion", "2", "a", "b"}), Keys({2, 3}));
  EXPECT_TRUE(keysFail(t, "zunion", {"zunion", "0", "a"}));
  EXPECT_TRUE(keysFail(t, "zunion", {"zunion", "3", "a", "b"}));
  EXPECT_EQ(keysOf(t, "lmpop", {"lmpop", "1", "l", "LEFT"}), Keys({2}));
  EXPECT_EQ(keysOf(t, "sintercard", {"sintercard", "2", "a", "b", "LIMIT", "1"}), Keys({2, 3}));
  EXPECT_TRUE(keysFail(t, "zunionstore", {"zunionstore", "d", "x", "a"}));
  EXPECT_TRUE(keysFail(t, "zunionstore", {"zunionstore", "d", "0", "a"}));
  EXPECT_TRUE(keysFail(t, "zinterstore", {"zinterstore", "d", "2", "a"}));
  EXPECT_EQ(keysOf(t, "zdiffstore", {"zdiffstore", "d", "1", "a"}), Keys({1, 3}));
  EXPECT_TRUE(keysFail(t, "blmpop", {"blmpop", "0", "3", "a", "LEFT"}));
  EXPECT_EQ(keysOf(t, "bzmpop", {"bzmpop", "1", "1", "z", "MIN"}), Keys({3}));
}

TEST(FindKeys, StreamsAndArity) {
  CommandTable t;
  t.loadBuiltin();
  EXPECT_EQ(keysOf(t, "xread", {"xread", "BLOCK", "0", "STREAMS", "a", "b", "c", "1-0", "2-0", "$"}),
            Keys({4, 5, 6}));
  EXPECT_TRUE(keysFail(t, "xread", {"xread", "STREAMS", "a", "b", "0"}));          // odd
  EXPECT_TRUE(keysFail(t, "xread", {"xread", "COUNT", "1", "a", "0"}));            // no STREAMS
  EXPECT_TRUE(keysFail(t, "xread", {"xread", "BOGUS", "STREAMS", "a", "0"}));      // syntax error
  // Arity: a wrong count is an error on Redis, never mirrored.
  EXPECT_TRUE(keysFail(t, "get", {"get"}));
  EXPECT_TRUE(keysFail(t, "get", {"get", "a", "b"}));
  EXPECT_TRUE(keysFail(t, "set", {"set", "a"}));
  EXPECT_TRUE(keysFail(t, "del", {"del"}));
  EXPECT_TRUE(keysFail(t, "blpop", {"blpop", "a"}));
  EXPECT_TRUE(keysFail(t, "sort", {"sort"}));
  // A range that does not fit the arguments.
  CommandInfo info;
  info.name = "custom";
  info.arity = -1;
  info.firstKey = 2;
  info.lastKey = 3;
  info.step = 1;
  info.keyRule = KeyRule::kRange;
  const std::vector<std::string> shortWords{"custom", "x", "k"};
  ListArgs shortArgs(shortWords);
  std::vector<uint32_t> positions;
  EXPECT_FALSE(findKeys(info, shortArgs, positions));
  const std::vector<std::string> fullWords{"custom", "x", "k1", "k2", "y"};
  ListArgs fullArgs(fullWords);
  EXPECT_TRUE(findKeys(info, fullArgs, positions));
  EXPECT_EQ(positions, Keys({2, 3}));
  info.step = 0;
  EXPECT_FALSE(findKeys(info, fullArgs, positions));
}

// ---------------------------------------------------------------------------
// A real redis-server

class RealRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::RedisServer>();
    if (!server_->ok()) GTEST_SKIP() << "redis-server is not available";
    testing::ContextPtr c = server_->connect();
    ASSERT_TRUE(c && c->err == 0);
    ReplyPtr reply(static_cast<redisReply*>(redisCommand(c.get(), "COMMAND")));
    ASSERT_TRUE(reply);
    std::string error;
    ASSERT_TRUE(table_.loadFromCommandReply(reply.get(), error)) << error;
  }
  std::unique_ptr<testing::RedisServer> server_;
  CommandTable table_;
};

TEST_F(RealRedis, CommandReplyLoads) {
  EXPECT_GT(table_.size(), 200u);
  expectCoreKeys(table_);
  expectCoreFlagsAndPolicy(table_);
  EXPECT_NE(table_.find("config|get"), nullptr);
  EXPECT_NE(table_.find("xgroup|create"), nullptr);
  EXPECT_EQ(table_.find("client|kill")->policy, Policy::kNever);
  EXPECT_TRUE(table_.find("ttl")->nondeterministicOutput);  // a tip from the server itself
  EXPECT_TRUE(table_.find("time")->nondeterministicOutput);
}

// The built-in table says what the server says, for every command it holds.
TEST_F(RealRedis, BuiltinAgreesWithServer) {
  CommandTable builtin;
  builtin.loadBuiltin();
  const uint32_t compared = kFlagWrite | kFlagReadonly | kFlagBlocking | kFlagPubsub | kFlagAdmin | kFlagNoscript |
                            kFlagMovableKeys | kFlagFast | kFlagNoMulti | kFlagLoading | kFlagStale;
  size_t checked = 0;
  for (const char* name : {"get", "set", "mset", "eval", "xread", "sort", "blmpop", "xgroup", "xinfo", "object",
                           "georadius", "zunionstore", "hgetall", "client", "config", "script", "function",
                           "subscribe", "select", "flushall", "swapdb"}) {
    const CommandInfo* mine = builtin.find(name);
    const CommandInfo* real = table_.find(name);
    ASSERT_NE(mine, nullptr) << name;
    ASSERT_NE(real, nullptr) << name;
    SCOPED_TRACE(name);
    EXPECT_EQ(mine->arity, real->arity);
    EXPECT_EQ(mine->flags & compared, real->flags & compared);
    EXPECT_EQ(mine->firstKey, real->firstKey);
    EXPECT_EQ(mine->lastKey, real->lastKey);
    EXPECT_EQ(mine->step, real->step);
    EXPECT_EQ(mine->keyRule, real->keyRule);
    EXPECT_EQ(mine->nondeterministicOutput, real->nondeterministicOutput);
    EXPECT_EQ(mine->nondeterministicOutputOrder, real->nondeterministicOutputOrder);
    EXPECT_EQ(mine->wholeKeyspace, real->wholeKeyspace);
    EXPECT_EQ(mine->policy, real->policy);
    ++checked;
  }
  EXPECT_EQ(checked, 21u);
}

// Every command of the built-in table, against the server's stable facts (arity,
// key positions and rule, the flags that decide mirroring, policy).
TEST_F(RealRedis, EveryBuiltinCommandAgreesWithServer) {
  CommandTable builtin;
  builtin.loadBuiltin();
  const uint32_t compared = kFlagWrite | kFlagReadonly | kFlagBlocking | kFlagPubsub | kFlagAdmin | kFlagMovableKeys;
  const char* const names[] = {
      "get", "set", "del", "exists", "expire", "pexpire", "expireat", "pexpireat", "persist", "ttl", "pttl",
      "type", "rename", "renamenx", "unlink", "touch", "copy", "move", "dump", "restore", "incr", "incrby",
      "incrbyfloat", "decr", "decrby", "append", "strlen", "getrange", "setrange", "getex", "mget", "mset",
      "msetnx", "setex", "psetex", "setnx", "getset", "getdel", "setbit", "getbit", "bitcount", "bitpos",
      "bitop", "pfadd", "pfcount", "pfmerge", "hset", "hsetnx", "hget", "hdel", "hexists", "hgetall", "hmset",
      "hmget", "hincrby", "hincrbyfloat", "hkeys", "hvals", "hlen", "hstrlen", "hrandfield", "hscan", "sadd",
      "srem", "smembers", "scard", "sismember", "smismember", "spop", "srandmember", "smove", "sunion",
      "sinter", "sdiff", "sunionstore", "sinterstore", "sdiffstore", "sintercard", "sscan", "zadd", "zrem",
      "zrange", "zrangestore", "zrevrange", "zrangebyscore", "zrevrangebyscore", "zrangebylex",
      "zrevrangebylex", "zscore", "zmscore", "zincrby", "zcard", "zcount", "zlexcount", "zrank", "zrevrank",
      "zremrangebyrank", "zremrangebyscore", "zremrangebylex", "zpopmin", "zpopmax", "zrandmember", "zunion",
      "zinter", "zdiff", "zunionstore", "zinterstore", "zdiffstore", "zintercard", "zmpop", "bzmpop", "zscan",
      "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lrange", "llen", "lindex", "lset", "ltrim",
      "linsert", "lrem", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop", "blmove", "brpoplpush",
      "blmpop", "bzpopmin", "bzpopmax", "xadd", "xrange", "xrevrange", "xlen", "xdel", "xtrim", "xread",
      "xreadgroup", "xack", "xpending", "xclaim", "xautoclaim", "xsetid", "xgroup", "xinfo", "geoadd", "geopos",
      "geodist", "geohash", "geosearch", "geosearchstore", "georadius", "georadiusbymember", "georadius_ro",
      "georadiusbymember_ro", "sort", "sort_ro", "object", "select", "ping", "echo", "time", "lastsave",
      "multi", "exec", "discard", "watch", "unwatch", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall",
      "fcall_ro", "script", "function", "flushall", "flushdb", "swapdb", "dbsize", "keys", "scan", "randomkey",
      "publish", "spublish", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe",
      "sunsubscribe", "pubsub", "auth", "hello", "quit", "reset", "readonly", "readwrite", "asking", "client",
      "config", "info", "monitor", "acl", "debug", "shutdown", "save", "bgsave", "bgrewriteaof", "replicaof",
      "slaveof", "sync", "psync", "replconf", "failover", "wait", "command", "role", "cluster", "slowlog",
      "latency", "memory", "module", "migrate", "restore-asking",
  };
  EXPECT_EQ(std::size(names), builtin.size());
  for (const char* name : names) {
    const CommandInfo* mine = builtin.find(name);
    const CommandInfo* real = table_.find(name);
    ASSERT_NE(mine, nullptr) << name;
    if (real == nullptr) continue;  // a newer built-in command than this server
    SCOPED_TRACE(name);
    EXPECT_EQ(mine->arity, real->arity);
    EXPECT_EQ(mine->flags & compared, real->flags & compared);
    EXPECT_EQ(mine->firstKey, real->firstKey);
    EXPECT_EQ(mine->lastKey, real->lastKey);
    EXPECT_EQ(mine->step, real->step);
    EXPECT_EQ(mine->keyRule, real->keyRule);
    EXPECT_EQ(mine->wholeKeyspace, real->wholeKeyspace);
    EXPECT_EQ(mine->policy, real->policy);
  }
}

// Key positions agree with COMMAND GETKEYS on the real server.
TEST_F(RealRedis, KeysAgreeWithCommandGetkeys) {
  testing::ContextPtr c = server_->connect();
  ASSERT_TRUE(c && c->err == 0);
  const std::vector<std::vector<std::string>> commands = {
      {"get", "k"},
      {"mset", "a", "1", "b", "2"},
      {"del", "a", "b", "c"},
      {"blpop", "a", "b", "0"},
      {"eval", "return 1", "2", "k1", "k2", "arg"},
      {"evalsha_ro", "abc", "1", "k1"},
      {"fcall", "f", "1", "k1", "x"},
      {"xread", "COUNT", "2", "STREAMS", "s1", "s2", "0", "$"},
      {"xreadgroup", "GROUP", "g", "c", "NOACK", "STREAMS", "s1", ">"},
      {"zunionstore", "dst", "2", "a", "b", "WEIGHTS", "1", "2"},
      {"zinter", "2", "a", "b"},
      {"zintercard", "2", "a", "b", "LIMIT", "3"},
      {"sintercard", "1", "a"},
      {"lmpop", "2", "a", "b", "LEFT"},
      {"blmpop", "0", "2", "l1", "l2", "LEFT", "COUNT", "3"},
      {"bzmpop", "0", "1", "z", "MAX"},
      {"sort", "list", "BY", "w_*", "LIMIT", "0", "10", "GET", "#", "STORE", "dst"},
      {"sort_ro", "list", "ALPHA"},
      {"georadius", "g", "0", "0", "5", "km", "STORE", "d1"},
      {"georadiusbymember", "g", "m", "5", "km", "STOREDIST", "d2"},
      {"xgroup", "CREATE", "s", "g", "$"},
      {"object", "ENCODING", "k"},
      {"hset", "h", "f", "v"},
      {"brpoplpush", "a", "b", "0"},
      {"lmove", "a", "b", "LEFT", "RIGHT"},
      {"copy", "a", "b"},
      {"rename", "a", "b"},
      {"smove", "a", "b", "m"},
  };
  for (const std::vector<std::string>& command : commands) {
    SCOPED_TRACE(command[0]);
    std::vector<const char*> argv = {"COMMAND", "GETKEYS"};
    std::vector<size_t> lens = {7, 7};
    for (const std::string& a : command) {
      argv.push_back(a.c_str());
      lens.push_back(a.size());
    }
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    ASSERT_TRUE(reply);
    ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY) << (reply->str ? reply->str : "");
    std::multiset<std::string> expected;
    for (size_t i = 0; i < reply->elements; ++i) expected.insert(reply->element[i]->str);

    const CommandInfo* info = table_.find(command[0]);
    ASSERT_NE(info, nullptr);
    struct Args : ArgReader {
      const std::vector<std::string>* v;
      uint32_t argc() const override { return static_cast<uint32_t>(v->size()); }
      bool arg(uint32_t i, std::string_view& out) override {
        if (i >= v->size()) return false;
        out = (*v)[i];
        return true;
      }
    } args;
    args.v = &command;
    std::vector<uint32_t> positions;
    ASSERT_TRUE(findKeys(*info, args, positions));
    std::multiset<std::string> mine;
    for (uint32_t p : positions) mine.insert(command[p]);
    EXPECT_EQ(mine, expected);
  }
}

}  // namespace
}  // namespace redmirror::mirror
