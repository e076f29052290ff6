// Loading the command table from the primary's reply to COMMAND (or COMMAND INFO).
#include <hiredis/hiredis.h>

#include <string_view>
#include <utility>

#include "command_table_internal.h"
#include "redmirror/resp/ascii.h"

namespace redmirror::mirror {
namespace {

using resp::equalsIgnoreCase;
using resp::lowercase;

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
      detail::deriveFromName(sub);
      subs.push_back(std::move(sub));
    }
  }
  return true;
}

}  // namespace

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
    detail::deriveFromName(info);
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

}  // namespace redmirror::mirror
