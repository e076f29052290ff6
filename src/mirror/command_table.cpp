#include "redmirror/mirror/command_table.h"
#include "redmirror/resp/ascii.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iterator>
#include <utility>

namespace redmirror::mirror {
namespace {

using resp::lowercase;

using resp::equalsIgnoreCase;

// ---------------------------------------------------------------------------
// Flags, tips and key rules

uint32_t flagFromName(std::string_view name) {
  static constexpr std::pair<std::string_view, uint32_t> kFlags[] = {
      {"write", kFlagWrite},       {"readonly", kFlagReadonly},      {"blocking", kFlagBlocking},
      {"pubsub", kFlagPubsub},     {"admin", kFlagAdmin},            {"noscript", kFlagNoscript},
      {"movablekeys", kFlagMovableKeys}, {"loading", kFlagLoading},  {"stale", kFlagStale},
      {"fast", kFlagFast},         {"no_multi", kFlagNoMulti},
  };
  for (const auto& [text, flag] : kFlags) {
    if (equalsIgnoreCase(text, name)) return flag;
  }
  return 0;  // flags that do not matter to mirroring (denyoom, skip_monitor, ...)
}

// Commands whose keys first/last/step cannot describe (Redis's *GetKeys functions).
struct KeyRuleByName {
  std::string_view name;
  KeyRule rule;
};
constexpr KeyRuleByName kKeyRules[] = {
    {"eval", KeyRule::kNumkeysAt2},        {"evalsha", KeyRule::kNumkeysAt2},
    {"eval_ro", KeyRule::kNumkeysAt2},     {"evalsha_ro", KeyRule::kNumkeysAt2},
    {"fcall", KeyRule::kNumkeysAt2},       {"fcall_ro", KeyRule::kNumkeysAt2},
    {"zunion", KeyRule::kNumkeysAt1},      {"zinter", KeyRule::kNumkeysAt1},
    {"zdiff", KeyRule::kNumkeysAt1},       {"sintercard", KeyRule::kNumkeysAt1},
    {"zintercard", KeyRule::kNumkeysAt1},  {"lmpop", KeyRule::kNumkeysAt1},
    {"zmpop", KeyRule::kNumkeysAt1},       {"zunionstore", KeyRule::kDestNumkeysAt2},
    {"zinterstore", KeyRule::kDestNumkeysAt2}, {"zdiffstore", KeyRule::kDestNumkeysAt2},
    {"blmpop", KeyRule::kNumkeysAt2Blocking},  {"bzmpop", KeyRule::kNumkeysAt2Blocking},
    {"xread", KeyRule::kStreams},          {"xreadgroup", KeyRule::kStreams},
    {"sort", KeyRule::kSort},              {"sort_ro", KeyRule::kSort},
    // GEORADIUS/GEORADIUSBYMEMBER: key at 1 plus the STORE/STOREDIST destination
    // (Redis's georadiusGetKeys); findKeys handles them under kSort.
    {"georadius", KeyRule::kSort},         {"georadiusbymember", KeyRule::kSort},
};

bool isGeoradius(std::string_view name) { return name == "georadius" || name == "georadiusbymember"; }

// Non-deterministic commands, tipped here too in case the server does not say so.
constexpr std::string_view kNondeterministicOutput[] = {
    "randomkey", "srandmember", "hrandfield", "zrandmember", "spop", "time", "lastsave",
};
constexpr std::string_view kNondeterministicOutputOrder[] = {
    "smembers", "sinter", "sunion", "sdiff", "hkeys", "hvals", "hgetall", "keys",
};
constexpr std::string_view kWholeKeyspace[] = {"flushall", "flushdb", "swapdb"};

template <size_t N>
bool contains(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// Derives what the name says beyond COMMAND's answer: the key rule, whole-keyspace
// writes and the hard-coded tips.
void finalize(CommandInfo& info) {
  info.keyRule = info.firstKey > 0 ? KeyRule::kRange : KeyRule::kNone;
  for (const auto& entry : kKeyRules) {
    if (entry.name == info.name) info.keyRule = entry.rule;
  }
  info.wholeKeyspace = contains(kWholeKeyspace, info.name);
  static constexpr std::string_view kOverwrites[] = {"set", "setex", "psetex", "mset", "del", "unlink", "getdel"};
  info.overwrites = contains(kOverwrites, info.name);
  if (contains(kNondeterministicOutput, info.name)) info.nondeterministicOutput = true;
  if (contains(kNondeterministicOutputOrder, info.name)) info.nondeterministicOutputOrder = true;
  static constexpr std::pair<std::string_view, Special> kSpecials[] = {
      {"select", Special::kSelect}, {"multi", Special::kMulti}, {"exec", Special::kExec},
      {"discard", Special::kDiscard}, {"xadd", Special::kXadd}, {"spop", Special::kSpop},
      {"script", Special::kScript}, {"function", Special::kFunction}, {"eval", Special::kEval},
      {"eval_ro", Special::kEval}, {"evalsha", Special::kEvalsha}, {"evalsha_ro", Special::kEvalsha},
      {"fcall", Special::kFcall}, {"fcall_ro", Special::kFcall}, {"xclaim", Special::kClaim},
      {"xautoclaim", Special::kClaim}, {"watch", Special::kWatch}, {"unwatch", Special::kUnwatch},
      {"reset", Special::kReset}, {"xread", Special::kXread}, {"xreadgroup", Special::kXreadgroup},
      {"quit", Special::kQuit}};
  info.special = Special::kNone;
  for (const auto& [name, special] : kSpecials) {
    if (info.name == name) info.special = special;
  }
}

}  // namespace

bool CommandInfo::overwritesKeys(uint32_t argc, std::string_view arg3) const {
  if (!overwrites) return false;
  if (name != "set") return true;
  if (argc == 3) return true;
  return argc == 5 && (equalsIgnoreCase(arg3, "ex") || equalsIgnoreCase(arg3, "px") ||
                       equalsIgnoreCase(arg3, "exat") || equalsIgnoreCase(arg3, "pxat"));
}

namespace {

// Redis 7 reports containers (XGROUP, XINFO, OBJECT, ...) without keys or flags and
// puts them on the subcommands. When every keyed subcommand agrees on the key
// positions, the container gets them (as Redis 6 reported it), and the write or
// read-only flag, so a lookup by the command name alone still finds the keys.
void liftFromSubcommands(CommandInfo& container, const std::vector<CommandInfo>& subs) {
  if (subs.empty()) return;
  const CommandInfo* keyed = nullptr;
  bool agree = true;
  bool anyWrite = false;
  bool keyedReadonly = true;
  for (const CommandInfo& sub : subs) {
    anyWrite = anyWrite || sub.isWrite();
    if (sub.firstKey <= 0) continue;
    keyedReadonly = keyedReadonly && (sub.flags & kFlagReadonly) != 0;
    if (keyed == nullptr) {
      keyed = &sub;
    } else if (sub.firstKey != keyed->firstKey || sub.lastKey != keyed->lastKey || sub.step != keyed->step) {
      agree = false;
    }
  }
  if (container.firstKey <= 0 && keyed != nullptr && agree) {
    container.firstKey = keyed->firstKey;
    container.lastKey = keyed->lastKey;
    container.step = keyed->step;
  }
  if ((container.flags & (kFlagWrite | kFlagReadonly)) == 0) {
    if (anyWrite) {
      container.flags |= kFlagWrite;
    } else if (keyed != nullptr && keyedReadonly) {
      container.flags |= kFlagReadonly;
    }
  }
}

// ---------------------------------------------------------------------------
// Built-in policy

struct NeverEntry {
  std::string_view name;
  std::string_view reason;
};
constexpr std::string_view kCredentials = "credentials and connection state: the canary link authenticates itself";
constexpr std::string_view kConnection = "connection state: not an effect on the data";
constexpr std::string_view kServer = "server administration";
constexpr std::string_view kReplication = "replication";
constexpr std::string_view kCluster = "cluster";
constexpr std::string_view kPubsub = "pub/sub: a canary must not talk to its own subscribers";
constexpr std::string_view kTransaction = "transactions are mirrored as units by the session";
constexpr std::string_view kWatch = "WATCH state belongs to the client's own connection";
constexpr std::string_view kKeyspace = "result depends on the whole keyspace; a sampled canary holds a subset";
constexpr std::string_view kServerSpecific = "server-specific output";
constexpr std::string_view kSelect = "the canary link inserts SELECT itself";
constexpr std::string_view kWait = "waits for the primary's own replicas";

constexpr NeverEntry kNever[] = {
    {"auth", kCredentials},         {"hello", kCredentials},        {"acl", kServer},
    {"config", kServer},            {"debug", kServer},             {"monitor", kServer},
    {"shutdown", kServer},          {"client", kConnection},        {"save", kServer},
    {"bgsave", kServer},            {"bgrewriteaof", kServer},      {"replicaof", kReplication},
    {"slaveof", kReplication},      {"sync", kReplication},         {"psync", kReplication},
    {"replconf", kReplication},     {"failover", kReplication},     {"cluster", kCluster},
    {"readonly", kCluster},         {"readwrite", kCluster},        {"asking", kCluster},
    {"migrate", kCluster},          {"restore-asking", kCluster},   {"module", kServer},
    {"slowlog", kServer},           {"latency", kServer},           {"memory", kServer},
    {"info", kServerSpecific},      {"role", kServerSpecific},      {"command", kServerSpecific},
    {"wait", kWait},                {"waitaof", kWait},             {"watch", kWatch},
    {"unwatch", kWatch},            {"subscribe", kPubsub},         {"unsubscribe", kPubsub},
    {"psubscribe", kPubsub},        {"punsubscribe", kPubsub},      {"ssubscribe", kPubsub},
    {"sunsubscribe", kPubsub},      {"publish", kPubsub},           {"spublish", kPubsub},
    {"pubsub", kPubsub},            {"quit", kConnection},          {"reset", kConnection},
    {"select", kSelect},            {"multi", kTransaction},        {"exec", kTransaction},
    {"discard", kTransaction},      {"keys", kKeyspace},            {"scan", kKeyspace},
    {"dbsize", kKeyspace},          {"randomkey", kKeyspace},
};

const NeverEntry* builtinNever(std::string_view name) {
  for (const auto& entry : kNever) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Built-in table: Redis 7.0's COMMAND answer for the common commands (containers
// with the keys of their subcommands). Flags: W write, R readonly, B blocking,
// P pubsub, A admin, N noscript, M movablekeys, L loading, S stale, F fast,
// X no_multi. Tips: O nondeterministic_output, o nondeterministic_output_order.
struct BuiltinRow {
  const char* name;
  int arity;
  const char* flags;
  int firstKey;
  int lastKey;
  int step;
  const char* tips;
};

constexpr BuiltinRow kBuiltin[] = {
    {"get", 2, "RF", 1, 1, 1, ""},
    {"set", -3, "W", 1, 1, 1, ""},
    {"del", -2, "W", 1, -1, 1, ""},
    {"exists", -2, "RF", 1, -1, 1, ""},
    {"expire", -3, "WF", 1, 1, 1, ""},
    {"pexpire", -3, "WF", 1, 1, 1, ""},
    {"expireat", -3, "WF", 1, 1, 1, ""},
    {"pexpireat", -3, "WF", 1, 1, 1, ""},
    {"persist", 2, "WF", 1, 1, 1, ""},
    {"ttl", 2, "RF", 1, 1, 1, "O"},
    {"pttl", 2, "RF", 1, 1, 1, "O"},
    {"type", 2, "RF", 1, 1, 1, ""},
    {"rename", 3, "W", 1, 2, 1, ""},
    {"renamenx", 3, "WF", 1, 2, 1, ""},
    {"unlink", -2, "WF", 1, -1, 1, ""},
    {"touch", -2, "RF", 1, -1, 1, ""},
    {"copy", -3, "W", 1, 2, 1, ""},
    {"move", 3, "WF", 1, 1, 1, ""},
    {"dump", 2, "R", 1, 1, 1, "O"},
    {"restore", -4, "W", 1, 1, 1, ""},
    {"incr", 2, "WF", 1, 1, 1, ""},
    {"incrby", 3, "WF", 1, 1, 1, ""},
    {"incrbyfloat", 3, "WF", 1, 1, 1, ""},
    {"decr", 2, "WF", 1, 1, 1, ""},
    {"decrby", 3, "WF", 1, 1, 1, ""},
    {"append", 3, "WF", 1, 1, 1, ""},
    {"strlen", 2, "RF", 1, 1, 1, ""},
    {"getrange", 4, "R", 1, 1, 1, ""},
    {"setrange", 4, "W", 1, 1, 1, ""},
    {"getex", -2, "WF", 1, 1, 1, ""},
    {"mget", -2, "RF", 1, -1, 1, ""},
    {"mset", -3, "W", 1, -1, 2, ""},
    {"msetnx", -3, "W", 1, -1, 2, ""},
    {"setex", 4, "W", 1, 1, 1, ""},
    {"psetex", 4, "W", 1, 1, 1, ""},
    {"setnx", 3, "WF", 1, 1, 1, ""},
    {"getset", 3, "WF", 1, 1, 1, ""},
    {"getdel", 2, "WF", 1, 1, 1, ""},
    {"setbit", 4, "W", 1, 1, 1, ""},
    {"getbit", 3, "RF", 1, 1, 1, ""},
    {"bitcount", -2, "R", 1, 1, 1, ""},
    {"bitpos", -3, "R", 1, 1, 1, ""},
    {"bitop", -4, "W", 2, -1, 1, ""},
    {"pfadd", -2, "WF", 1, 1, 1, ""},
    {"pfcount", -2, "R", 1, -1, 1, ""},
    {"pfmerge", -2, "W", 1, -1, 1, ""},
    {"hset", -4, "WF", 1, 1, 1, ""},
    {"hsetnx", 4, "WF", 1, 1, 1, ""},
    {"hget", 3, "RF", 1, 1, 1, ""},
    {"hdel", -3, "WF", 1, 1, 1, ""},
    {"hexists", 3, "RF", 1, 1, 1, ""},
    {"hgetall", 2, "R", 1, 1, 1, "o"},
    {"hmset", -4, "WF", 1, 1, 1, ""},
    {"hmget", -3, "RF", 1, 1, 1, ""},
    {"hincrby", 4, "WF", 1, 1, 1, ""},
    {"hincrbyfloat", 4, "WF", 1, 1, 1, ""},
    {"hkeys", 2, "R", 1, 1, 1, "o"},
    {"hvals", 2, "R", 1, 1, 1, "o"},
    {"hlen", 2, "RF", 1, 1, 1, ""},
    {"hstrlen", 3, "RF", 1, 1, 1, ""},
    {"hrandfield", -2, "R", 1, 1, 1, "O"},
    {"hscan", -3, "R", 1, 1, 1, "O"},
    {"sadd", -3, "WF", 1, 1, 1, ""},
    {"srem", -3, "WF", 1, 1, 1, ""},
    {"smembers", 2, "R", 1, 1, 1, "o"},
    {"scard", 2, "RF", 1, 1, 1, ""},
    {"sismember", 3, "RF", 1, 1, 1, ""},
    {"smismember", -3, "RF", 1, 1, 1, ""},
    {"spop", -2, "WF", 1, 1, 1, "O"},
    {"srandmember", -2, "R", 1, 1, 1, "O"},
    {"smove", 4, "WF", 1, 2, 1, ""},
    {"sunion", -2, "R", 1, -1, 1, "o"},
    {"sinter", -2, "R", 1, -1, 1, "o"},
    {"sdiff", -2, "R", 1, -1, 1, "o"},
    {"sunionstore", -3, "W", 1, -1, 1, ""},
    {"sinterstore", -3, "W", 1, -1, 1, ""},
    {"sdiffstore", -3, "W", 1, -1, 1, ""},
    {"sintercard", -3, "RM", 0, 0, 0, ""},
    {"sscan", -3, "R", 1, 1, 1, "O"},
    {"zadd", -4, "WF", 1, 1, 1, ""},
    {"zrem", -3, "WF", 1, 1, 1, ""},
    {"zrange", -4, "R", 1, 1, 1, ""},
    {"zrangestore", -5, "W", 1, 2, 1, ""},
    {"zrevrange", -4, "R", 1, 1, 1, ""},
    {"zrangebyscore", -4, "R", 1, 1, 1, ""},
    {"zrevrangebyscore", -4, "R", 1, 1, 1, ""},
    {"zrangebylex", -4, "R", 1, 1, 1, ""},
    {"zrevrangebylex", -4, "R", 1, 1, 1, ""},
    {"zscore", 3, "RF", 1, 1, 1, ""},
    {"zmscore", -3, "RF", 1, 1, 1, ""},
    {"zincrby", 4, "WF", 1, 1, 1, ""},
    {"zcard", 2, "RF", 1, 1, 1, ""},
    {"zcount", 4, "RF", 1, 1, 1, ""},
    {"zlexcount", 4, "RF", 1, 1, 1, ""},
    {"zrank", 3, "RF", 1, 1, 1, ""},
    {"zrevrank", 3, "RF", 1, 1, 1, ""},
    {"zremrangebyrank", 4, "W", 1, 1, 1, ""},
    {"zremrangebyscore", 4, "W", 1, 1, 1, ""},
    {"zremrangebylex", 4, "W", 1, 1, 1, ""},
    {"zpopmin", -2, "WF", 1, 1, 1, ""},
    {"zpopmax", -2, "WF", 1, 1, 1, ""},
    {"zrandmember", -2, "R", 1, 1, 1, "O"},
    {"zunion", -3, "RM", 0, 0, 0, ""},
    {"zinter", -3, "RM", 0, 0, 0, ""},
    {"zdiff", -3, "RM", 0, 0, 0, ""},
    {"zunionstore", -4, "WM", 1, 1, 1, ""},
    {"zinterstore", -4, "WM", 1, 1, 1, ""},
    {"zdiffstore", -4, "WM", 1, 1, 1, ""},
    {"zintercard", -3, "RM", 0, 0, 0, ""},
    {"zmpop", -4, "WM", 0, 0, 0, ""},
    {"bzmpop", -5, "WBM", 0, 0, 0, ""},
    {"zscan", -3, "R", 1, 1, 1, "O"},
    {"lpush", -3, "WF", 1, 1, 1, ""},
    {"rpush", -3, "WF", 1, 1, 1, ""},
    {"lpushx", -3, "WF", 1, 1, 1, ""},
    {"rpushx", -3, "WF", 1, 1, 1, ""},
    {"lpop", -2, "WF", 1, 1, 1, ""},
    {"rpop", -2, "WF", 1, 1, 1, ""},
    {"lrange", 4, "R", 1, 1, 1, ""},
    {"llen", 2, "RF", 1, 1, 1, ""},
    {"lindex", 3, "R", 1, 1, 1, ""},
    {"lset", 4, "W", 1, 1, 1, ""},
    {"ltrim", 4, "W", 1, 1, 1, ""},
    {"linsert", 5, "W", 1, 1, 1, ""},
    {"lrem", 4, "W", 1, 1, 1, ""},
    {"lpos", -3, "R", 1, 1, 1, ""},
    {"lmove", 5, "W", 1, 2, 1, ""},
    {"rpoplpush", 3, "W", 1, 2, 1, ""},
    {"lmpop", -4, "WM", 0, 0, 0, ""},
    {"blpop", -3, "WNB", 1, -2, 1, ""},
    {"brpop", -3, "WNB", 1, -2, 1, ""},
    {"blmove", 6, "WNB", 1, 2, 1, ""},
    {"brpoplpush", 4, "WNB", 1, 2, 1, ""},
    {"blmpop", -5, "WBM", 0, 0, 0, ""},
    {"bzpopmin", -3, "WNBF", 1, -2, 1, ""},
    {"bzpopmax", -3, "WNBF", 1, -2, 1, ""},
    {"xadd", -5, "WF", 1, 1, 1, "O"},
    {"xrange", -4, "R", 1, 1, 1, ""},
    {"xrevrange", -4, "R", 1, 1, 1, ""},
    {"xlen", 2, "RF", 1, 1, 1, ""},
    {"xdel", -3, "WF", 1, 1, 1, ""},
    {"xtrim", -4, "W", 1, 1, 1, "O"},
    {"xread", -4, "RBM", 0, 0, 0, ""},
    {"xreadgroup", -7, "WBM", 0, 0, 0, ""},
    {"xack", -4, "WF", 1, 1, 1, ""},
    {"xpending", -3, "R", 1, 1, 1, "O"},
    {"xclaim", -6, "WF", 1, 1, 1, "O"},
    {"xautoclaim", -6, "WF", 1, 1, 1, "O"},
    {"xsetid", -3, "WF", 1, 1, 1, ""},
    {"xgroup", -2, "W", 2, 2, 1, ""},
    {"xinfo", -2, "R", 2, 2, 1, ""},
    {"geoadd", -5, "W", 1, 1, 1, ""},
    {"geopos", -2, "R", 1, 1, 1, ""},
    {"geodist", -4, "R", 1, 1, 1, ""},
    {"geohash", -2, "R", 1, 1, 1, ""},
    {"geosearch", -7, "R", 1, 1, 1, ""},
    {"geosearchstore", -8, "W", 1, 2, 1, ""},
    {"georadius", -6, "WM", 1, 1, 1, ""},
    {"georadiusbymember", -5, "WM", 1, 1, 1, ""},
    {"georadius_ro", -6, "R", 1, 1, 1, ""},
    {"georadiusbymember_ro", -5, "R", 1, 1, 1, ""},
    {"sort", -2, "WM", 1, 1, 1, ""},
    {"sort_ro", -2, "RM", 1, 1, 1, ""},
    {"object", -2, "R", 2, 2, 1, ""},
    {"select", 2, "LSF", 0, 0, 0, ""},
    {"ping", -1, "F", 0, 0, 0, ""},
    {"echo", 2, "LSF", 0, 0, 0, ""},
    {"time", 1, "LSF", 0, 0, 0, "O"},
    {"lastsave", 1, "LSF", 0, 0, 0, "O"},
    {"multi", 1, "NLSF", 0, 0, 0, ""},
    {"exec", 1, "NLS", 0, 0, 0, ""},
    {"discard", 1, "NLSF", 0, 0, 0, ""},
    {"watch", -2, "NLSF", 1, -1, 1, ""},
    {"unwatch", 1, "NLSF", 0, 0, 0, ""},
    {"eval", -3, "NSM", 0, 0, 0, ""},
    {"evalsha", -3, "NSM", 0, 0, 0, ""},
    {"eval_ro", -3, "RNSM", 0, 0, 0, ""},
    {"evalsha_ro", -3, "RNSM", 0, 0, 0, ""},
    {"fcall", -3, "NSM", 0, 0, 0, ""},
    {"fcall_ro", -3, "RNSM", 0, 0, 0, ""},
    {"script", -2, "", 0, 0, 0, ""},
    {"function", -2, "W", 0, 0, 0, ""},
    {"flushall", -1, "W", 0, 0, 0, ""},
    {"flushdb", -1, "W", 0, 0, 0, ""},
    {"swapdb", 3, "WF", 0, 0, 0, ""},
    {"dbsize", 1, "RF", 0, 0, 0, ""},
    {"keys", 2, "R", 0, 0, 0, "o"},
    {"scan", -2, "R", 0, 0, 0, "O"},
    {"randomkey", 1, "R", 0, 0, 0, "O"},
    {"publish", 3, "PLSF", 0, 0, 0, ""},
    {"spublish", 3, "PLSF", 1, 1, 1, ""},
    {"subscribe", -2, "PNLS", 0, 0, 0, ""},
    {"unsubscribe", -1, "PNLS", 0, 0, 0, ""},
    {"psubscribe", -2, "PNLS", 0, 0, 0, ""},
    {"punsubscribe", -1, "PNLS", 0, 0, 0, ""},
    {"ssubscribe", -2, "PNLS", 1, -1, 1, ""},
    {"sunsubscribe", -1, "PNLS", 1, -1, 1, ""},
    {"pubsub", -2, "", 0, 0, 0, ""},
    {"auth", -2, "NLSF", 0, 0, 0, ""},
    {"hello", -1, "NLSF", 0, 0, 0, ""},
    {"quit", -1, "NLSF", 0, 0, 0, ""},
    {"reset", 1, "NLSF", 0, 0, 0, ""},
    {"readonly", 1, "LSF", 0, 0, 0, ""},
    {"readwrite", 1, "LSF", 0, 0, 0, ""},
    {"asking", 1, "F", 0, 0, 0, ""},
    {"client", -2, "", 0, 0, 0, ""},
    {"config", -2, "", 0, 0, 0, ""},
    {"info", -1, "LS", 0, 0, 0, "O"},
    {"monitor", 1, "ANLS", 0, 0, 0, ""},
    {"acl", -2, "", 0, 0, 0, ""},
    {"debug", -2, "ANLS", 0, 0, 0, ""},
    {"shutdown", -1, "ANLSX", 0, 0, 0, ""},
    {"save", 1, "ANX", 0, 0, 0, ""},
    {"bgsave", -1, "AN", 0, 0, 0, ""},
    {"bgrewriteaof", 1, "AN", 0, 0, 0, ""},
    {"replicaof", 3, "ANS", 0, 0, 0, ""},
    {"slaveof", 3, "ANS", 0, 0, 0, ""},
    {"sync", 1, "ANX", 0, 0, 0, ""},
    {"psync", -3, "ANX", 0, 0, 0, ""},
    {"replconf", -1, "ANLS", 0, 0, 0, ""},
    {"failover", -1, "ANS", 0, 0, 0, ""},
    {"wait", 3, "N", 0, 0, 0, ""},
    {"command", -1, "LS", 0, 0, 0, "o"},
    {"role", 1, "NLSF", 0, 0, 0, ""},
    {"cluster", -2, "", 0, 0, 0, ""},
    {"slowlog", -2, "", 0, 0, 0, ""},
    {"latency", -2, "", 0, 0, 0, ""},
    {"memory", -2, "R", 2, 2, 1, ""},
    {"module", -2, "", 0, 0, 0, ""},
    {"migrate", -6, "WM", 3, 3, 1, "O"},
    {"restore-asking", -4, "W", 1, 1, 1, ""},
};

uint32_t flagsFromLetters(std::string_view letters) {
  uint32_t flags = 0;
  for (const char c : letters) {
    switch (c) {
      case 'W': flags |= kFlagWrite; break;
      case 'R': flags |= kFlagReadonly; break;
      case 'B': flags |= kFlagBlocking; break;
      case 'P': flags |= kFlagPubsub; break;
      case 'A': flags |= kFlagAdmin; break;
      case 'N': flags |= kFlagNoscript; break;
      case 'M': flags |= kFlagMovableKeys; break;
      case 'L': flags |= kFlagLoading; break;
      case 'S': flags |= kFlagStale; break;
      case 'F': flags |= kFlagFast; break;
      case 'X': flags |= kFlagNoMulti; break;
      default: break;
    }
  }
  return flags;
}

// ---------------------------------------------------------------------------
// COMMAND reply parsing

bool isArray(const redisReply* r) {
  if (r == nullptr) return false;
#ifdef REDIS_REPLY_SET
  if (r->type == REDIS_REPLY_SET) return true;
#endif
  return r->type == REDIS_REPLY_ARRAY;
}

bool isText(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && r->str != nullptr;
}

std::string_view textOf(const redisReply* r) { return {r->str, static_cast<size_t>(r->len)}; }

bool intOf(const redisReply* r, int& out) {
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER) return false;
  if (r->integer < -1000000 || r->integer > 1000000) return false;
  out = static_cast<int>(r->integer);
  return true;
}

// One COMMAND entry: name, arity, flags, first key, last key, step, then (Redis 6+)
// ACL categories, (Redis 7) tips, key specs, subcommands.
bool parseEntry(const redisReply* e, const std::string& prefix, CommandInfo& out,
                std::vector<CommandInfo>& subs, std::string& error) {
  if (!isArray(e) || e->elements < 6) {
    error = "COMMAND entry is not an array of at least 6 elements";
    return false;
  }
  if (!isText(e->element[0]) || e->element[0]->len == 0) {
    error = "COMMAND entry without a name";
    return false;
  }
  out = CommandInfo{};
  out.name = lowercase(textOf(e->element[0]));
  const std::string where = "COMMAND entry '" + out.name + "': ";
  if (!prefix.empty() && out.name.find('|') == std::string::npos) out.name = prefix + "|" + out.name;
  if (!intOf(e->element[1], out.arity)) {
    error = where + "arity is not an integer";
    return false;
  }
  if (!isArray(e->element[2])) {
    error = where + "flags are not an array";
    return false;
  }
  for (size_t i = 0; i < e->element[2]->elements; ++i) {
    const redisReply* flag = e->element[2]->element[i];
    if (!isText(flag)) {
      error = where + "flag is not a string";
      return false;
    }
    out.flags |= flagFromName(textOf(flag));
  }
  if (!intOf(e->element[3], out.firstKey) || !intOf(e->element[4], out.lastKey) ||
      !intOf(e->element[5], out.step)) {
    error = where + "key positions are not integers";
    return false;
  }
  if (e->elements > 7 && isArray(e->element[7])) {
    for (size_t i = 0; i < e->element[7]->elements; ++i) {
      const redisReply* tip = e->element[7]->element[i];
      if (!isText(tip)) continue;
      const std::string_view text = textOf(tip);
      if (equalsIgnoreCase(text, "nondeterministic_output")) out.nondeterministicOutput = true;
      if (equalsIgnoreCase(text, "nondeterministic_output_order")) out.nondeterministicOutputOrder = true;
    }
  }
  subs.clear();
  if (prefix.empty() && e->elements > 9 && isArray(e->element[9])) {
    const redisReply* list = e->element[9];
    for (size_t i = 0; i < list->elements; ++i) {
      CommandInfo sub;
      std::vector<CommandInfo> none;
      if (!parseEntry(list->element[i], out.name, sub, none, error)) return false;
      finalize(sub);
      subs.push_back(std::move(sub));
    }
  }
  return true;
}

bool parseCount(std::string_view text, uint64_t& out) {
  // Strict, as Redis's string2ll: digits only, no sign, no leading zero.
  if (text.empty() || text.size() > 10) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  out = value;
  return true;
}

// numkeys at numkeysPos, keys from firstKeyPos on.
bool numkeysKeys(ArgReader& args, uint32_t argc, uint32_t numkeysPos, uint32_t firstKeyPos, bool allowZero,
                 std::vector<uint32_t>& positions) {
  std::string_view text;
  if (numkeysPos >= argc || !args.arg(numkeysPos, text)) return false;
  uint64_t count = 0;
  if (!parseCount(text, count)) return false;
  if (count == 0 && !allowZero) return false;
  if (firstKeyPos + count > argc) return false;
  for (uint64_t i = 0; i < count; ++i) positions.push_back(firstKeyPos + static_cast<uint32_t>(i));
  return true;
}

bool argIs(ArgReader& args, uint32_t index, std::string_view word) {
  std::string_view text;
  return args.arg(index, text) && equalsIgnoreCase(text, word);
}

}  // namespace

// ---------------------------------------------------------------------------

bool CommandTable::loadFromCommandReply(const redisReply* reply, std::string& error) {
  if (reply == nullptr) {
    error = "no reply to COMMAND";
    return false;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    error = "COMMAND failed: " + std::string(reply->str != nullptr ? textOf(reply) : std::string_view{});
    return false;
  }
  if (!isArray(reply) || reply->elements == 0) {
    error = "the reply to COMMAND is not a non-empty array";
    return false;
  }
  Map loaded;
  loaded.reserve(reply->elements * 2);
  std::vector<CommandInfo> subs;
  for (size_t i = 0; i < reply->elements; ++i) {
    // COMMAND INFO answers nil for a name the server does not know.
    if (reply->element[i] != nullptr && reply->element[i]->type == REDIS_REPLY_NIL) continue;
    CommandInfo info;
    if (!parseEntry(reply->element[i], std::string(), info, subs, error)) return false;
    liftFromSubcommands(info, subs);
    finalize(info);
    for (CommandInfo& sub : subs) {
      std::string subName = sub.name;
      loaded.insert_or_assign(std::move(subName), std::move(sub));
    }
    std::string name = info.name;
    loaded.insert_or_assign(std::move(name), std::move(info));
  }
  if (loaded.empty()) {
    error = "the reply to COMMAND names no command";
    return false;
  }
  commands_.swap(loaded);
  const std::map<std::string, Policy> overrides = overrides_;
  applyPolicy(overrides);
  return true;
}

void CommandTable::loadBuiltin() {
  Map loaded;
  loaded.reserve(std::size(kBuiltin));
  for (const BuiltinRow& row : kBuiltin) {
    CommandInfo info;
    info.name = row.name;
    info.arity = row.arity;
    info.flags = flagsFromLetters(row.flags);
    info.firstKey = row.firstKey;
    info.lastKey = row.lastKey;
    info.step = row.step;
    const std::string_view tips = row.tips;
    info.nondeterministicOutput = tips.find('O') != std::string_view::npos;
    info.nondeterministicOutputOrder = tips.find('o') != std::string_view::npos;
    finalize(info);
    loaded.insert_or_assign(info.name, info);
  }
  commands_.swap(loaded);
  const std::map<std::string, Policy> overrides = overrides_;
  applyPolicy(overrides);
}

void CommandTable::applyPolicy(const std::map<std::string, Policy>& overrides) {
  std::map<std::string, Policy> normalized;
  for (const auto& [name, policy] : overrides) normalized[lowercase(name)] = policy;
  overrides_ = std::move(normalized);

  for (auto& [name, info] : commands_) {
    info.policy = Policy::kMirror;
    info.policyReason.clear();
    const size_t bar = name.find('|');
    const std::string_view container = bar == std::string::npos ? std::string_view(name)
                                                                 : std::string_view(name).substr(0, bar);
    const NeverEntry* never = builtinNever(name);
    if (never == nullptr) never = builtinNever(container);
    if (never != nullptr) {
      info.policy = Policy::kNever;
      info.policyReason = never->reason;
    } else if (info.flags & kFlagAdmin) {
      info.policy = Policy::kNever;
      info.policyReason = "admin command";
    } else if ((info.flags & kFlagMovableKeys) && info.keyRule == KeyRule::kNone) {
      info.policy = Policy::kNever;
      info.policyReason = "movable keys with no known rule";
    }
    auto it = overrides_.find(name);
    if (it == overrides_.end() && bar != std::string::npos) it = overrides_.find(std::string(container));
    if (it != overrides_.end()) {
      info.policy = it->second;
      info.policyReason = "configured";
    }
    info.compareRules = diff::rulesFor(info.name, info.nondeterministicOutputOrder, info.nondeterministicOutput,
                                       info.policy == Policy::kTypeOnly);
    info.compareRules.command = {};  // a view into this table would dangle in a copy
    info.singleKey = info.keyRule == KeyRule::kRange && info.firstKey == 1 && info.lastKey == 1 &&
                     info.policy != Policy::kNever && !info.isBlocking() && !info.wholeKeyspace &&
                     info.special == Special::kNone;
  }
  buildIndex();
}

uint64_t CommandTable::headOf(std::string_view name) {
  uint64_t head = 0;
  std::memcpy(&head, name.data(), std::min(name.size(), sizeof head));
  return head;
}

void CommandTable::buildIndex() {
  size_t capacity = 16;
  int bits = 4;
  while (capacity < commands_.size() * 2) {
    capacity *= 2;
    ++bits;
  }
  indexShift_ = 64 - bits;
  index_.assign(capacity, IndexSlot{});
  for (const auto& [name, info] : commands_) {
    const uint64_t head = headOf(name);
    size_t i = slotOf(head, name.size());
    while (index_[i].info != nullptr) i = (i + 1) & (capacity - 1);
    index_[i] = IndexSlot{head, static_cast<uint32_t>(name.size()), &info};
  }
}

const CommandInfo* CommandTable::find(std::string_view lowercaseName) const {
  if (index_.empty()) return nullptr;
  return lookup(headOf(lowercaseName), lowercaseName);
}

bool findKeys(const CommandInfo& info, ArgReader& args, std::vector<uint32_t>& positions) {
  positions.clear();
  const uint32_t argc = args.argc();
  if (argc == 0) return false;
  if (!info.acceptsArgc(argc)) return false;

  switch (info.keyRule) {
    case KeyRule::kNone:
      return true;

    case KeyRule::kRange: {
      if (info.firstKey <= 0 || info.step <= 0) return false;
      const int64_t first = info.firstKey;
      const int64_t last = info.lastKey < 0 ? static_cast<int64_t>(argc) + info.lastKey : info.lastKey;
      if (last < first || last >= static_cast<int64_t>(argc)) return false;
      // MSET k v k v ...: the arguments from the first key to the end come in whole steps.
      if (info.lastKey == -1 && info.step > 1 && (static_cast<int64_t>(argc) - first) % info.step != 0) {
        return false;
      }
      for (int64_t pos = first; pos <= last; pos += info.step) positions.push_back(static_cast<uint32_t>(pos));
      return true;
    }

    case KeyRule::kNumkeysAt2:  // EVAL script numkeys key... arg...: numkeys may be 0
      return numkeysKeys(args, argc, 2, 3, true, positions);

    case KeyRule::kNumkeysAt1:  // ZUNION numkeys key...
      return numkeysKeys(args, argc, 1, 2, false, positions);

    case KeyRule::kDestNumkeysAt2:  // ZUNIONSTORE dest numkeys key...
      if (argc < 2) return false;
      positions.push_back(1);
      if (!numkeysKeys(args, argc, 2, 3, false, positions)) {
        positions.clear();
        return false;
      }
      return true;

    case KeyRule::kNumkeysAt2Blocking:  // BLMPOP timeout numkeys key...
      return numkeysKeys(args, argc, 2, 3, false, positions);

    case KeyRule::kStreams: {
      // Redis's xreadGetKeys: options up to STREAMS, then keys and as many IDs.
      uint32_t streamsAt = 0;
      for (uint32_t i = 1; i < argc; ++i) {
        std::string_view text;
        if (!args.arg(i, text)) return false;
        if (equalsIgnoreCase(text, "block") || equalsIgnoreCase(text, "count")) {
          ++i;
        } else if (equalsIgnoreCase(text, "group")) {
          i += 2;
        } else if (equalsIgnoreCase(text, "noack")) {
          // no argument
        } else if (equalsIgnoreCase(text, "streams")) {
          streamsAt = i;
          break;
        } else {
          return false;  // syntax error
        }
      }
      if (streamsAt == 0) return false;
      const uint32_t rest = argc - streamsAt - 1;
      if (rest == 0 || rest % 2 != 0) return false;
      for (uint32_t i = 0; i < rest / 2; ++i) positions.push_back(streamsAt + 1 + i);
      return true;
    }

    case KeyRule::kSort: {
      if (argc < 2) return false;
      positions.push_back(1);
      uint32_t store = 0;
      if (isGeoradius(info.name)) {
        // Redis's georadiusGetKeys: the last STORE or STOREDIST wins.
        for (uint32_t i = 5; i < argc; ++i) {
          if ((argIs(args, i, "store") || argIs(args, i, "storedist")) && i + 1 < argc) {
            store = i + 1;
            ++i;
          }
        }
      } else {
        // Redis's sortGetKeys: skip the arguments of LIMIT, GET and BY; the last STORE wins.
        for (uint32_t i = 2; i < argc; ++i) {
          std::string_view text;
          if (!args.arg(i, text)) return false;
          if (equalsIgnoreCase(text, "limit")) {
            i += 2;
          } else if (equalsIgnoreCase(text, "get") || equalsIgnoreCase(text, "by")) {
            i += 1;
          } else if (equalsIgnoreCase(text, "store") && i + 1 < argc) {
            store = i + 1;
            i += 1;
          }
        }
      }
      if (store != 0) positions.push_back(store);
      return true;
    }
  }
  return false;
}

bool parsePolicy(std::string_view text, Policy& out) {
  if (equalsIgnoreCase(text, "mirror")) {
    out = Policy::kMirror;
  } else if (equalsIgnoreCase(text, "never")) {
    out = Policy::kNever;
  } else if (equalsIgnoreCase(text, "type_only")) {
    out = Policy::kTypeOnly;
  } else {
    return false;
  }
  return true;
}

}  // namespace redmirror::mirror

namespace redmirror::mirror {

std::vector<std::string> CommandTable::differences(const CommandTable& other) const {
  std::vector<std::string> lines;
  for (const auto& [name, mine] : commands_) {
    auto theirs = other.commands_.find(name);
    if (theirs == other.commands_.end()) {
      lines.push_back("removed: " + name);
      continue;
    }
    const CommandInfo& info = theirs->second;
    std::string change;
    if (info.arity != mine.arity) {
      change += " arity " + std::to_string(mine.arity) + " -> " + std::to_string(info.arity);
    }
    if (info.flags != mine.flags) change += " flags";
    if (info.firstKey != mine.firstKey || info.lastKey != mine.lastKey || info.step != mine.step) {
      change += " keys " + std::to_string(mine.firstKey) + "," + std::to_string(mine.lastKey) + "," +
                std::to_string(mine.step) + " -> " + std::to_string(info.firstKey) + "," +
                std::to_string(info.lastKey) + "," + std::to_string(info.step);
    }
    if (!change.empty()) lines.push_back("changed: " + name + change);
  }
  for (const auto& [name, info] : other.commands_) {
    if (commands_.count(name) == 0) lines.push_back("added: " + name);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace redmirror::mirror
