// The first step of comparing unordered replies, on its own: which members of
// two multisets pair by canonical form, and which are left over for the full
// (folding, tolerant) comparison of value_compare.cpp.
#include "diff/multiset_pairing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "parse.h"

namespace redmirror::diff::detail {
namespace {

// The elements of an aggregate, parsed from its RESP bytes.
struct Members {
  explicit Members(std::string_view bytes) : value(parse(bytes)), units(singleUnits(value)) {}
  Members(const Members&) = delete;  // the units point into this value
  Members& operator=(const Members&) = delete;
  resp::Value value;
  std::vector<Unit> units;
};

struct Leftovers {
  bool allPaired = false;
  std::vector<size_t> primary;
  std::vector<size_t> canary;
};

Leftovers pair(const std::vector<Unit>& p, const std::vector<Unit>& c) {
  Leftovers left;
  left.allPaired = pairCanonically(p, c, 0, &left.primary, &left.canary);
  return left;
}

TEST(CanonicalPairing, ExactFoldsPairInAnyOrder) {
  // Bulk vs simple and verbatim strings, boolean vs integer, null bulk vs RESP3
  // null, a double vs the same double spelt otherwise, a set vs the same set in
  // another order: one canonical form each, whatever the side's position.
  const Members p(
      "*6\r\n$1\r\na\r\n:1\r\n$-1\r\n$1\r\nx\r\n,1.50\r\n~2\r\n$1\r\nm\r\n$1\r\nn\r\n");
  const Members c(
      "*6\r\n~2\r\n$1\r\nn\r\n$1\r\nm\r\n,1.5\r\n=5\r\ntxt:x\r\n_\r\n#t\r\n+a\r\n");
  const Leftovers left = pair(p.units, c.units);
  EXPECT_TRUE(left.allPaired);
  EXPECT_TRUE(left.primary.empty());
  EXPECT_TRUE(left.canary.empty());
  EXPECT_TRUE(pairCanonically(p.units, c.units, 0, nullptr, nullptr));
}

// Pairs the elements of two aggregates and expects the positions left over.
void expectLeftovers(std::string_view primary, std::string_view canary,
                     const std::vector<size_t>& primaryLeft, const std::vector<size_t>& canaryLeft) {
  const Members p(primary);
  const Members c(canary);
  const Leftovers left = pair(p.units, c.units);
  EXPECT_FALSE(left.allPaired);
  EXPECT_EQ(left.primary, primaryLeft);
  EXPECT_EQ(left.canary, canaryLeft);
  EXPECT_FALSE(pairCanonically(p.units, c.units, 0, nullptr, nullptr));
}

TEST(CanonicalPairing, TolerantFoldsAreLeftOver) {
  // Equal only to the full comparison: a double vs a bulk string holding it, a
  // double within the numeric tolerance, an array vs a set. "same" pairs.
  expectLeftovers("*4\r\n,2\r\n$4\r\nsame\r\n,1.0000000001\r\n*1\r\n$1\r\nk\r\n",
                  "*4\r\n~1\r\n$1\r\nk\r\n,1\r\n$1\r\n2\r\n$4\r\nsame\r\n", {0, 2, 3}, {0, 1, 2});
}

TEST(CanonicalPairing, DuplicatesPairFrontToBack) {
  // The second "a" of the primary and the second "b" of the canary are extra.
  expectLeftovers("*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\nb\r\n", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nb\r\n",
                  {1}, {2});
}

TEST(CanonicalPairing, MapsPairByKeyAndValue) {
  const resp::Value p = parse("%2\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n:1\r\n");
  const resp::Value same = parse("%2\r\n$1\r\ng\r\n#t\r\n$1\r\nf\r\n+v\r\n");
  const resp::Value other = parse("%2\r\n$1\r\ng\r\n:1\r\n$1\r\nf\r\n$1\r\nw\r\n");
  EXPECT_TRUE(pair(mapPairUnits(p), mapPairUnits(same)).allPaired);
  const Leftovers left = pair(mapPairUnits(p), mapPairUnits(other));
  EXPECT_EQ(left.primary, (std::vector<size_t>{0}));
  EXPECT_EQ(left.canary, (std::vector<size_t>{1}));
  // Pairs, not elements: the same four strings paired otherwise differ.
  const resp::Value swapped = parse("%2\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nv\r\n:1\r\n");
  EXPECT_FALSE(pair(mapPairUnits(p), mapPairUnits(swapped)).allPaired);
}

TEST(CanonicalPairing, UnequalSizesNeverPair) {
  const Members p("*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  const Members c("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nb\r\n");
  EXPECT_FALSE(pairCanonically(p.units, c.units, 0, nullptr, nullptr));
  EXPECT_FALSE(pairCanonically(c.units, p.units, 0, nullptr, nullptr));
}

TEST(CanonicalKeyOrder, SameOrderWhateverTheOrderGivenAndEqualFormsTogether) {
  // Positions 1 and 3 have one form ("a"), as do 0 and 4 ("b").
  const Members m("*5\r\n$1\r\nb\r\n$1\r\na\r\n:5\r\n+a\r\n$1\r\nb\r\n");
  std::vector<size_t> forward{0, 1, 2, 3, 4};
  std::vector<size_t> backward{4, 3, 2, 1, 0};
  orderByCanonicalKey(m.units, forward);
  orderByCanonicalKey(m.units, backward);
  EXPECT_EQ(forward, backward);
  auto at = [&](size_t position) {
    return std::find(forward.begin(), forward.end(), position) - forward.begin();
  };
  EXPECT_EQ(at(3), at(1) + 1);
  EXPECT_EQ(at(4), at(0) + 1);
  std::vector<size_t> sorted = forward;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace redmirror::diff::detail
