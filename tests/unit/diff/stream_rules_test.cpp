// Stream introspection replies carry clocks and encoding internals that differ
// between two healthy servers: XINFO is compared by type, and XPENDING's entries
// without their idle times.
#include <gtest/gtest.h>

#include <string>

#include "redmirror/diff/comparator.h"

namespace redmirror::diff {
namespace {

Comparison run(std::string_view command, std::string_view primary, std::string_view canary) {
  resp::Value p;
  resp::Value c;
  std::string error;
  EXPECT_TRUE(resp::parseValue(primary, p, error)) << error;
  EXPECT_TRUE(resp::parseValue(canary, c, error)) << error;
  return compare(rulesFor(command, false, false, false), p, c);
}

std::string entry(std::string_view id, std::string_view consumer, int idle, int deliveries) {
  return "*4\r\n$" + std::to_string(id.size()) + "\r\n" + std::string(id) + "\r\n$" +
         std::to_string(consumer.size()) + "\r\n" + std::string(consumer) + "\r\n:" + std::to_string(idle) +
         "\r\n:" + std::to_string(deliveries) + "\r\n";
}

TEST(StreamRules, XpendingEntriesMatchWhateverTheirIdleTimes) {
  const std::string primary = "*2\r\n" + entry("1-1", "alice", 24, 1) + entry("2-1", "bob", 3000, 2);
  const std::string canary = "*2\r\n" + entry("1-1", "alice", 25, 1) + entry("2-1", "bob", 12, 2);
  EXPECT_EQ(run("xpending", primary, canary).outcome, Outcome::kMatch);
}

TEST(StreamRules, XpendingStillSeesOwnersDeliveriesAndEntries) {
  const std::string primary = "*2\r\n" + entry("1-1", "alice", 24, 1) + entry("2-1", "bob", 30, 2);
  EXPECT_EQ(run("xpending", primary, "*2\r\n" + entry("1-1", "alice", 24, 1) + entry("2-1", "carol", 30, 2)).outcome,
            Outcome::kValue);
  EXPECT_EQ(run("xpending", primary, "*2\r\n" + entry("1-1", "alice", 24, 1) + entry("2-1", "bob", 30, 3)).outcome,
            Outcome::kValue);
  EXPECT_NE(run("xpending", primary, "*1\r\n" + entry("1-1", "alice", 24, 1)).outcome, Outcome::kMatch);
  // The summary form has no idle times and is compared as it is.
  EXPECT_EQ(run("xpending", "*4\r\n:2\r\n$3\r\n1-1\r\n$3\r\n2-1\r\n*0\r\n",
                "*4\r\n:1\r\n$3\r\n1-1\r\n$3\r\n2-1\r\n*0\r\n")
                .outcome,
            Outcome::kValue);
}

TEST(StreamRules, XinfoIsComparedByTypeOnly) {
  // radix-tree-nodes depends on stream-node-max-entries; seen-time is a clock.
  EXPECT_EQ(run("xinfo", "*2\r\n$16\r\nradix-tree-nodes\r\n:2\r\n", "*2\r\n$16\r\nradix-tree-nodes\r\n:7\r\n").outcome,
            Outcome::kMatch);
  EXPECT_EQ(run("xinfo", "*2\r\n$16\r\nradix-tree-nodes\r\n:2\r\n", "-ERR no such key\r\n").outcome,
            Outcome::kErrorCanaryOnly);
}

// FUNCTION LIST: a library's functions come in dict order, which differs between
// servers; their names and flags still have to agree.
std::string function(const std::string& name) {
  return "*6\r\n$4\r\nname\r\n$" + std::to_string(name.size()) + "\r\n" + name +
         "\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n";
}
std::string library(const std::vector<std::string>& functions, char protocol = '*') {
  std::string out = std::string(1, protocol) + (protocol == '%' ? "3" : "6") +
                    "\r\n$12\r\nlibrary_name\r\n$4\r\nlib1\r\n$6\r\nengine\r\n$3\r\nLUA\r\n"
                    "$9\r\nfunctions\r\n*" + std::to_string(functions.size()) + "\r\n";
  for (const std::string& name : functions) out += function(name);
  return out;
}

TEST(FunctionListRules, FunctionsOfALibraryInAnotherOrderMatch) {
  const std::string primary = "*1\r\n" + library({"f1", "f2", "f3"});
  EXPECT_EQ(run("function", primary, "*1\r\n" + library({"f3", "f1", "f2"})).outcome, Outcome::kMatch);
  EXPECT_EQ(run("function", "*1\r\n" + library({"f1", "f2"}, '%'), "*1\r\n" + library({"f2", "f1"}, '%')).outcome,
            Outcome::kMatch);
  EXPECT_EQ(run("function", primary, "*1\r\n" + library({"f1", "f2", "f4"})).outcome, Outcome::kValue);
  EXPECT_EQ(run("function", primary, "*1\r\n" + library({"f1", "f2"})).outcome, Outcome::kValue);
}

}  // namespace
}  // namespace redmirror::diff
