#pragma once
// Shared by the files of the comparator (src/diff) only, not a public header:
// pairing the members of two multisets (unordered replies, sets, maps) whose
// canonical forms are equal.
//
// The canonical form is an exact, self-delimiting encoding of a value after the
// folding that is an equivalence (shapes, nulls, booleans, string kinds).
// Doubles are keyed by their shortest round-trip form; tolerances and the
// double/bulk fold are left to the full comparison of the members the
// canonical forms leave unmatched (value_compare.cpp).
//
// canonicalKey() spells the form out as a string. Pairing does not build it:
// canonicalHash() and canonicallyEqual() decide the same equality on the parsed
// values, with no string built or copied. The string is only built to put the
// few unmatched members in the order a sort of the strings gives them, which
// the greedy pairing of leftovers depends on.
#include <cstddef>
#include <vector>

#include "redmirror/resp/value.h"

namespace redmirror::diff::detail {

// One member of a multiset: an element, or a (key, value) pair.
struct Unit {
  const resp::Value* first;
  const resp::Value* second;  // null for single elements
};

// The members of a set (elements) or of a map (pairs; an odd last element is
// not part of any, as in canonicalKey).
std::vector<Unit> singleUnits(const resp::Value& v);
std::vector<Unit> mapPairUnits(const resp::Value& v);

// Pairs the members of `p` and `c` whose canonical forms are equal, as merging
// their sorted canonicalKey strings does: within one form, members in position
// order, the first ones of each side paired together. Unpaired positions are
// appended to pLeft and cLeft; without them it stops at the first one. Returns
// whether every member found its pair. `depth` is the members' nesting depth
// (0 for the members of a reply); aggregates nested beyond kMaxDepth all have
// the same canonical form.
bool pairCanonically(const std::vector<Unit>& p, const std::vector<Unit>& c, int depth,
                     std::vector<size_t>* pLeft, std::vector<size_t>* cLeft);

// Puts unmatched positions in the order of their members' canonicalKey strings
// (then position), the order the greedy pairing of leftovers walks them in.
void orderByCanonicalKey(const std::vector<Unit>& units, std::vector<size_t>& positions);

}  // namespace redmirror::diff::detail
