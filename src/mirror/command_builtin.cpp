// The built-in command table, for when the primary cannot be asked yet.
#include <iterator>
#include <string_view>

#include "command_table_internal.h"

namespace redmirror::mirror {
namespace {

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

}  // namespace

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
    detail::deriveFromName(info);
    loaded.insert_or_assign(info.name, info);
  }
  commands_.swap(loaded);
  const std::map<std::string, Policy> overrides = overrides_;
  applyPolicy(overrides);
}

}  // namespace redmirror::mirror
