// The per-canary set of keys whose mirrored history has a gap (tainted_keys.h):
// exact membership by key and database, removal that keeps every other key
// findable (backward-shift deletion), whole databases, and a full set that
// falls back to tainting the database instead of forgetting a key.
#include "redmirror/mirror/tainted_keys.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "redmirror/diff/report.h"

namespace redmirror::mirror {
namespace {

uint64_t h(const std::string& key) { return diff::WrittenKeys::hash(key); }

TEST(TaintedKeys, EmptyTaintsNothing) {
  TaintedKeys tainted(64);
  EXPECT_TRUE(tainted.empty());
  EXPECT_FALSE(tainted.tainted(0, h("a")));
  EXPECT_FALSE(tainted.dbTainted(0));
  EXPECT_EQ(tainted.keys(), 0u);
}

TEST(TaintedKeys, KeyIsTaintedInItsDatabaseOnly) {
  TaintedKeys tainted(64);
  tainted.taintKey(3, h("ctr:1"));
  EXPECT_FALSE(tainted.empty());
  EXPECT_TRUE(tainted.tainted(3, h("ctr:1")));
  EXPECT_FALSE(tainted.tainted(0, h("ctr:1")));
  EXPECT_FALSE(tainted.tainted(3, h("ctr:2")));
  tainted.taintKey(3, h("ctr:1"));  // twice: still one key
  EXPECT_EQ(tainted.keys(), 1u);
}

TEST(TaintedKeys, OverwriteClearsOnlyThatKey) {
  TaintedKeys tainted(64);
  tainted.taintKey(0, h("a"));
  tainted.taintKey(0, h("b"));
  tainted.clearKey(0, h("a"));
  EXPECT_FALSE(tainted.tainted(0, h("a")));
  EXPECT_TRUE(tainted.tainted(0, h("b")));
  tainted.clearKey(0, h("never"));  // absent: nothing changes
  EXPECT_EQ(tainted.keys(), 1u);
  tainted.clearKey(0, h("b"));
  EXPECT_TRUE(tainted.empty());
}

// Random taints and clears against a std::set: with linear probing, a removal
// that left a hole in a probe chain would lose keys behind it (a tainted key
// then compared and blamed on the canary).
TEST(TaintedKeys, RemovalsKeepEveryOtherKeyFindable) {
  TaintedKeys tainted(1024);  // more than the 900 keys the model can hold
  std::set<std::pair<uint32_t, std::string>> model;
  std::mt19937 random(7);
  for (int step = 0; step < 20000; ++step) {
    const uint32_t db = random() % 3;
    const std::string key = "k" + std::to_string(random() % 300);
    if (random() % 3 == 0) {
      tainted.clearKey(db, h(key));
      model.erase({db, key});
    } else {
      tainted.taintKey(db, h(key));
      model.insert({db, key});
    }
    if (step % 97 == 0) {
      for (uint32_t d = 0; d < 3; ++d) {
        for (int k = 0; k < 300; ++k) {
          const std::string name = "k" + std::to_string(k);
          ASSERT_EQ(tainted.tainted(d, h(name)), model.count({d, name}) == 1) << "step " << step << " db " << d << " " << name;
        }
      }
    }
  }
  EXPECT_EQ(tainted.keys(), model.size());
  EXPECT_EQ(tainted.overflows(), 0u);
}

TEST(TaintedKeys, WholeDatabaseUntilFlushed) {
  TaintedKeys tainted(64);
  tainted.taintDb(2);
  EXPECT_TRUE(tainted.tainted(2, h("anything")));
  EXPECT_TRUE(tainted.dbTainted(2));
  EXPECT_FALSE(tainted.tainted(1, h("anything")));
  tainted.clearKey(2, h("anything"));  // an overwrite does not clear a database
  EXPECT_TRUE(tainted.tainted(2, h("anything")));
  EXPECT_EQ(tainted.taintedDbs(), std::vector<uint32_t>{2});
  tainted.clearDb(2);
  EXPECT_TRUE(tainted.empty());
}

TEST(TaintedKeys, HighDatabasesAndFlushAll) {
  TaintedKeys tainted(64);
  tainted.taintDb(100);
  EXPECT_TRUE(tainted.dbTainted(100));
  EXPECT_TRUE(tainted.dbTainted(70));  // 64 and above are one
  EXPECT_EQ(tainted.taintedDbs(), std::vector<uint32_t>{TaintedKeys::kMaxDbs});
  tainted.taintAll();
  EXPECT_TRUE(tainted.dbTainted(0));
  tainted.taintKey(5, h("x"));
  tainted.clearAll();
  EXPECT_TRUE(tainted.empty());
  EXPECT_FALSE(tainted.tainted(5, h("x")));
}

// More keys than it holds: the database of the key that did not fit is tainted
// whole (only skips more), and the count says so.
TEST(TaintedKeys, FullSetTaintsTheDatabaseInstead) {
  TaintedKeys tainted(16);  // 32 slots, at most 16 keys
  for (int i = 0; i < 16; ++i) tainted.taintKey(1, h("k" + std::to_string(i)));
  EXPECT_EQ(tainted.overflows(), 0u);
  EXPECT_FALSE(tainted.dbTainted(1));
  tainted.taintKey(1, h("one-too-many"));
  EXPECT_EQ(tainted.overflows(), 1u);
  EXPECT_TRUE(tainted.tainted(1, h("one-too-many")));
  EXPECT_TRUE(tainted.tainted(1, h("never-seen")));
  EXPECT_FALSE(tainted.tainted(0, h("never-seen")));
}

TEST(WriteTaint, AppliesItsScope) {
  TaintedKeys tainted(64);
  WriteTaint{}.applyTo(tainted);
  EXPECT_TRUE(tainted.empty());
  WriteTaint{WriteTaint::Scope::kKey, 4, h("k")}.applyTo(tainted);
  EXPECT_TRUE(tainted.tainted(4, h("k")));
  EXPECT_FALSE(tainted.dbTainted(4));
  WriteTaint{WriteTaint::Scope::kDb, 5, 0}.applyTo(tainted);
  EXPECT_TRUE(tainted.dbTainted(5));
  WriteTaint{WriteTaint::Scope::kAll, 0, 0}.applyTo(tainted);
  EXPECT_TRUE(tainted.dbTainted(0));
}

}  // namespace
}  // namespace redmirror::mirror
