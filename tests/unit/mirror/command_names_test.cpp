// What a command's name implies beyond COMMAND's answer, on its own
// (src/mirror/command_names.cpp): the key rule, the commands the mirror treats
// specially, whole-keyspace writes, hard-coded tips and which calls replace
// their keys whole (and so repair a tainted key).
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mirror/command_table_internal.h"

namespace redmirror::mirror {
namespace {

CommandInfo derived(std::string_view name, int firstKey = 0) {
  CommandInfo info;
  info.name = std::string(name);
  info.firstKey = firstKey;
  info.lastKey = firstKey;
  info.step = firstKey > 0 ? 1 : 0;
  detail::deriveFromName(info);
  return info;
}

TEST(CommandNames, KeyRuleFromPositionsUnlessTheNameHasOne) {
  EXPECT_EQ(derived("get", 1).keyRule, KeyRule::kRange);
  EXPECT_EQ(derived("ping").keyRule, KeyRule::kNone);
  EXPECT_EQ(derived("eval").keyRule, KeyRule::kNumkeysAt2);
  EXPECT_EQ(derived("zunion").keyRule, KeyRule::kNumkeysAt1);
  EXPECT_EQ(derived("bzmpop").keyRule, KeyRule::kNumkeysAt2Blocking);
  EXPECT_EQ(derived("xreadgroup").keyRule, KeyRule::kStreams);
  // COMMAND gives these a key at 1; the name adds the destination's rule.
  EXPECT_EQ(derived("zunionstore", 1).keyRule, KeyRule::kDestNumkeysAt2);
  EXPECT_EQ(derived("georadius", 1).keyRule, KeyRule::kSort);
  EXPECT_EQ(derived("georadius_ro", 1).keyRule, KeyRule::kRange);
}

TEST(CommandNames, SpecialCommandsAndWholeKeyspaceWrites) {
  EXPECT_EQ(derived("eval_ro").special, Special::kEval);
  EXPECT_EQ(derived("evalsha_ro").special, Special::kEvalsha);
  EXPECT_EQ(derived("fcall_ro").special, Special::kFcall);
  EXPECT_EQ(derived("xautoclaim", 1).special, Special::kClaim);
  EXPECT_EQ(derived("quit").special, Special::kQuit);
  EXPECT_EQ(derived("get", 1).special, Special::kNone);
  EXPECT_TRUE(derived("flushdb").wholeKeyspace);
  EXPECT_TRUE(derived("swapdb").wholeKeyspace);
  EXPECT_FALSE(derived("del", 1).wholeKeyspace);
  // Derived afresh each time: nothing stays from an earlier name.
  CommandInfo info = derived("multi");
  info.name = "get";
  detail::deriveFromName(info);
  EXPECT_EQ(info.special, Special::kNone);
}

TEST(CommandNames, HardCodedTipsAreAddedNeverCleared) {
  // Redis 6 sends no tips: the random picks and unordered replies are known by name.
  EXPECT_TRUE(derived("srandmember", 1).nondeterministicOutput);
  EXPECT_TRUE(derived("hkeys", 1).nondeterministicOutputOrder);
  EXPECT_FALSE(derived("get", 1).nondeterministicOutput);
  CommandInfo tipped;
  tipped.name = "ttl";
  tipped.nondeterministicOutput = true;  // the server's own tip
  detail::deriveFromName(tipped);
  EXPECT_TRUE(tipped.nondeterministicOutput);
}

TEST(CommandNames, OnlyPlainSetsAndDeletesReplaceTheirKeys) {
  const CommandInfo set = derived("set", 1);
  EXPECT_TRUE(set.overwritesKeys(3, ""));        // SET k v
  EXPECT_TRUE(set.overwritesKeys(5, "EX"));      // SET k v EX 10
  EXPECT_TRUE(set.overwritesKeys(5, "pxat"));    // SET k v PXAT ms
  EXPECT_FALSE(set.overwritesKeys(4, "KEEPTTL"));  // keeps the old expiry
  EXPECT_FALSE(set.overwritesKeys(4, "NX"));     // may leave the old value
  EXPECT_FALSE(set.overwritesKeys(5, "NX"));     // SET k v NX GET
  EXPECT_FALSE(set.overwritesKeys(6, "EX"));     // SET k v EX 10 XX
  for (const std::string_view name : {"del", "unlink", "getdel", "mset", "setex", "psetex"}) {
    EXPECT_TRUE(derived(name, 1).overwritesKeys(4, "")) << name;
  }
  for (const std::string_view name : {"setnx", "msetnx", "append", "get"}) {
    EXPECT_FALSE(derived(name, 1).overwritesKeys(3, "")) << name;
  }
}

}  // namespace
}  // namespace redmirror::mirror
