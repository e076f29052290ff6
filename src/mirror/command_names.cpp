// What a command's name implies beyond COMMAND's answer (command_table_internal.h).
#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "command_table_internal.h"
#include "redmirror/resp/ascii.h"

namespace redmirror::mirror {
namespace {

using resp::equalsIgnoreCase;

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

}  // namespace

bool CommandInfo::overwritesKeys(uint32_t argc, std::string_view arg3) const {
  if (!overwrites) return false;
  if (name != "set") return true;
  if (argc == 3) return true;
  return argc == 5 && (equalsIgnoreCase(arg3, "ex") || equalsIgnoreCase(arg3, "px") ||
                       equalsIgnoreCase(arg3, "exat") || equalsIgnoreCase(arg3, "pxat"));
}

namespace detail {

void deriveFromName(CommandInfo& info) {
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

}  // namespace detail
}  // namespace redmirror::mirror
