// Blocking-pop effects answered in one turn run in serving order: a move before
// the pops it fed, whatever order their replies were read in.
#include "redmirror/mirror/effect_order.h"
#include "redmirror/mirror/command_table.h"

#include <gtest/gtest.h>

#include <deque>
#include <initializer_list>
#include <string>
#include <vector>

namespace redmirror::mirror {
namespace {

// A blocking effect as the mirror records it: its arguments, and its key
// positions from the command table (the built-in one here).
Effect blockingEffect(const std::vector<std::string>& args) {
  static const CommandTable table = [] {
    CommandTable t;
    t.loadBuiltin();
    return t;
  }();
  Effect effect;
  effect.kind = Effect::Kind::kBlockingPop;
  effect.args = args;
  const CommandInfo* info = table.find(std::string_view(args[0]));
  ListArgs reader(args);
  if (info == nullptr || !findKeys(*info, reader, effect.keys)) effect.keys.clear();
  return effect;
}

// Sessions whose next effect is the given blocking command, answered (ready).
std::deque<SessionMirror> sessionsWith(std::initializer_list<std::vector<std::string>> commands) {
  std::deque<SessionMirror> sessions;
  for (const auto& args : commands) {
    SessionMirror& session = sessions.emplace_back();
    Effect& effect = session.effects.emplace_back(blockingEffect(args));
    effect.ready = true;
  }
  return sessions;
}

std::vector<SessionMirror*> pointers(std::deque<SessionMirror>& sessions) {
  std::vector<SessionMirror*> out;
  for (SessionMirror& session : sessions) out.push_back(&session);
  return out;
}

std::vector<std::string> names(const std::vector<SessionMirror*>& order) {
  std::vector<std::string> out;
  for (const SessionMirror* session : order) out.push_back(session->effects.front().args[0]);
  return out;
}

TEST(EffectOrder, MoveRunsBeforeThePopItFed) {
  // Read newest first, as Redis writes them: the BLPOP's answer, then the BLMOVE's.
  auto sessions = sessionsWith({{"blpop", "dst", "5"}, {"blmove", "src", "dst", "left", "right", "5"}});
  auto order = pointers(sessions);
  orderBlockingPops(order);
  EXPECT_EQ(names(order), (std::vector<std::string>{"blmove", "blpop"}));
}

TEST(EffectOrder, ChainsOfMovesRunFromTheFirstPush) {
  auto sessions = sessionsWith({{"bzmpop", "5", "2", "other", "c", "min"},
                                {"brpoplpush", "b", "c", "5"},
                                {"blmove", "a", "b", "left", "left", "5"}});
  auto order = pointers(sessions);
  orderBlockingPops(order);
  EXPECT_EQ(names(order), (std::vector<std::string>{"blmove", "brpoplpush", "bzmpop"}));
}

TEST(EffectOrder, UnrelatedEffectsAndCyclesKeepTheirOrder) {
  auto unrelated = sessionsWith({{"blpop", "x", "5"}, {"blmove", "src", "dst", "left", "right", "5"},
                                 {"brpop", "y", "z", "5"}});
  auto order = pointers(unrelated);
  const auto before = order;
  orderBlockingPops(order);
  EXPECT_EQ(order, before);
  // A circular BRPOPLPUSH pair (a -> b blocked first, then b -> a; RPUSH a
  // serves the first, whose push serves the second): the one blocked first
  // runs first, whatever order the replies came in.
  auto cycle = sessionsWith({{"brpoplpush", "b", "a", "5"}, {"brpoplpush", "a", "b", "5"}});
  cycle[0].effects.front().blockedOrder = 2;
  cycle[1].effects.front().blockedOrder = 1;
  auto cycleOrder = pointers(cycle);
  orderBlockingPops(cycleOrder);
  ASSERT_EQ(cycleOrder.size(), 2u);
  EXPECT_EQ(cycleOrder[0], &cycle[1]);
  EXPECT_EQ(cycleOrder[1], &cycle[0]);
  // A move whose destination is its own source (rotation) does not feed itself.
  auto rotation = sessionsWith({{"blpop", "q", "5"}, {"blmove", "r", "r", "left", "right", "5"}});
  auto rotationOrder = pointers(rotation);
  const auto rotationBefore = rotationOrder;
  orderBlockingPops(rotationOrder);
  EXPECT_EQ(rotationOrder, rotationBefore);
}

TEST(EffectOrder, SourcesOfEveryBlockingPop) {
  EXPECT_EQ(popSources(blockingEffect({"blmpop", "5", "2", "k1", "k2", "left", "count", "3"})),
            (std::vector<std::string_view>{"k1", "k2"}));
  EXPECT_TRUE(popSources(blockingEffect({"blmpop", "5", "x2", "k1"})).empty());
  EXPECT_EQ(popSources(blockingEffect({"bzpopmax", "z1", "z2", "0"})), (std::vector<std::string_view>{"z1", "z2"}));
  const Effect move = blockingEffect({"brpoplpush", "s", "d", "0"});
  EXPECT_EQ(popSources(move), (std::vector<std::string_view>{"s"}));
  ASSERT_NE(moveDestination(move), nullptr);
  EXPECT_EQ(*moveDestination(move), "d");
  const Effect read = blockingEffect({"xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"});
  EXPECT_TRUE(popSources(read).empty());
  EXPECT_EQ(moveDestination(read), nullptr);
  EXPECT_EQ(fedKeys(read), (std::vector<std::string_view>{"s"})) << "an XADD feeds the stream";
  EXPECT_EQ(fedKeys(move), (std::vector<std::string_view>{"s"}));
}

}  // namespace
}  // namespace redmirror::mirror
