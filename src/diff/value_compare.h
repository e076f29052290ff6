#pragma once
// Shared by the files of the comparator (src/diff) only, not a public header:
// the comparison of two values after RESP2/RESP3 folding, element by element
// or as multisets. What a command changes in it comes in a Context; the rules
// per command (type only, TTLs, missing values, normalised replies) are in
// comparator.cpp.
#include <string>
#include <string_view>

#include "redmirror/diff/comparator.h"
#include "redmirror/resp/value.h"

namespace redmirror::diff::detail {

struct Context {
  bool numericStrings = false;  // a command answering doubles: bulk strings compared as numbers
  std::string_view command;     // lowercase; "hgetall" pairs its unordered elements
};

// A divergence of `outcome`, its detail cut to the length every detail keeps to.
Comparison result(Outcome outcome, std::string detail);
inline Comparison match() { return Comparison{}; }

// Either reply an error: the one that is (error_primary_only or
// error_canary_only), or both by code (the first word), then by text.
Comparison compareErrors(const resp::Value& p, const resp::Value& c);

// `depth` is the values' nesting depth, 0 for whole replies; `unordered`
// compares an array as a multiset (of pairs for HGETALL).
Comparison compareValues(const Context& ctx, const resp::Value& p, const resp::Value& c,
                         bool unordered, int depth);

// Whether two nested values (depth 1, ordered) compare equal.
bool equalValues(const Context& ctx, const resp::Value& p, const resp::Value& c);

}  // namespace redmirror::diff::detail
