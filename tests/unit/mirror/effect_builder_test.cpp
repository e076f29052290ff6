// Effects rebuilt from the primary's reply (effect_builder.h): what the canary
// is sent in place of a command whose effect only the primary's reply shows.
// The built command refers to the reply: each reply is a named local here.
#include "redmirror/mirror/effect_builder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace redmirror::mirror {
namespace {

resp::Value parse(const std::string& bytes) {
  resp::Value value;
  std::string error;
  EXPECT_TRUE(resp::parseValue(bytes, value, error)) << error;
  return value;
}

std::vector<std::string> joined(const EffectCommand& built) {
  return std::vector<std::string>(built.command.begin(), built.command.end());
}

using Strings = std::vector<std::string>;

TEST(EffectBuilder, SpopBecomesSremOfWhatWasPopped) {
  const Strings args{"spop", "set", "2"};
  EffectCommand built;
  const resp::Value reply1 = parse("*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kSpop, args, 0, reply1, built));
  EXPECT_EQ(joined(built), (Strings{"SREM", "set", "a", "b"}));
  EffectCommand one;
  const resp::Value reply2 = parse("$1\r\nz\r\n");
  const Strings args1{"spop", "set"};
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kSpop, args1, 0, reply2, one));
  EXPECT_EQ(joined(one), (Strings{"SREM", "set", "z"}));
  EffectCommand none;
  const resp::Value reply3 = parse("*0\r\n");
  EXPECT_FALSE(buildEffectCommand(Effect::Kind::kSpop, args, 0, reply3, none)) << "nothing popped";
}

TEST(EffectBuilder, XaddTakesTheIdThePrimaryChose) {
  const Strings args{"xadd", "s", "MAXLEN", "10", "*", "f", "v"};
  EffectCommand built;
  const resp::Value reply4 = parse("$3\r\n7-1\r\n");
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kXadd, args, 4, reply4, built));
  EXPECT_EQ(joined(built), (Strings{"XADD", "s", "MAXLEN", "10", "7-1", "f", "v"}));
  EffectCommand wrong;
  const resp::Value reply5 = parse(":1\r\n");
  EXPECT_FALSE(buildEffectCommand(Effect::Kind::kXadd, args, 4, reply5, wrong));
}

TEST(EffectBuilder, ClaimsClaimExactlyWhatThePrimaryClaimed) {
  const Strings xclaim{"xclaim", "s", "g", "c", "3600000", "1-1", "2-1", "RETRYCOUNT", "3"};
  EffectCommand built;
  const resp::Value reply6 = parse("*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kClaim, xclaim, 0,
                                 reply6, built));
  EXPECT_EQ(joined(built), (Strings{"XCLAIM", "s", "g", "c", "0", "2-1", "RETRYCOUNT", "3"}));
  const Strings autoclaim{"xautoclaim", "s", "g", "c", "3600000", "0-0", "JUSTID"};
  EffectCommand automatic;
  const resp::Value reply7 = parse("*3\r\n$3\r\n0-0\r\n*1\r\n$3\r\n1-1\r\n*1\r\n$3\r\n5-1\r\n");
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kClaim, autoclaim, 0,
                                 reply7, automatic));
  EXPECT_EQ(joined(automatic), (Strings{"XCLAIM", "s", "g", "c", "0", "1-1", "5-1", "JUSTID"}));
  EffectCommand nothing;
  const resp::Value reply8 = parse("*0\r\n");
  EXPECT_FALSE(buildEffectCommand(Effect::Kind::kClaim, xclaim, 0, reply8, nothing));
}

TEST(EffectBuilder, BlockingPopsBecomeTheirNonBlockingPop) {
  EffectCommand blpop;
  const resp::Value reply9 = parse("*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
  const Strings args2{"blpop", "a", "b", "0"};
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kBlockingPop, args2, 0,
                                 reply9, blpop));
  EXPECT_EQ(joined(blpop), (Strings{"LPOP", "b"}));
  EXPECT_EQ(std::vector<std::string>(blpop.keys.begin(), blpop.keys.end()), Strings{"b"});

  EffectCommand zpop;
  const resp::Value reply10 = parse("*3\r\n$1\r\nz\r\n$1\r\nm\r\n$1\r\n2\r\n");
  const Strings args3{"bzpopmax", "z", "0"};
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kBlockingPop, args3, 0,
                                 reply10, zpop));
  EXPECT_EQ(joined(zpop), (Strings{"ZREM", "z", "m"}));

  EffectCommand move;
  const resp::Value reply11 = parse("$1\r\nx\r\n");
  const Strings args4{"blmove", "src", "dst", "LEFT", "RIGHT", "0"};
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kBlockingPop, args4,
                                 0, reply11, move));
  EXPECT_EQ(joined(move), (Strings{"LMOVE", "src", "dst", "LEFT", "RIGHT"}));

  EffectCommand lmpop;
  const resp::Value reply12 = parse("*2\r\n$1\r\nb\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
  const Strings args5{"blmpop", "0", "2", "a", "b", "RIGHT", "COUNT", "5"};
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kBlockingPop, args5,
                                 0, reply12, lmpop));
  EXPECT_EQ(joined(lmpop), (Strings{"RPOP", "b", "2"})) << "the count the primary popped, not the one asked";
}

TEST(EffectBuilder, StreamGroupReadIsMirroredWithoutBlock) {
  const Strings args{"xreadgroup", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", "s", ">"};
  EffectCommand built;
  const resp::Value reply13 = parse("*1\r\n*2\r\n$1\r\ns\r\n*0\r\n");
  ASSERT_TRUE(buildEffectCommand(Effect::Kind::kBlockingPop, args, 0,
                                 reply13, built));
  EXPECT_EQ(joined(built), (Strings{"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"}));
  EXPECT_EQ(std::vector<std::string>(built.keys.begin(), built.keys.end()), Strings{"s"});
}

}  // namespace
}  // namespace redmirror::mirror
