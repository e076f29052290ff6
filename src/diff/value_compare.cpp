#include "value_compare.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "byte_words.h"
#include "multiset_pairing.h"
#include "value_kind.h"

namespace redmirror::diff::detail {

namespace {

// Longest detail string; details name positions, lengths and classes, never values.
constexpr size_t kMaxDetail = 80;
// Longest error code quoted in a detail.
constexpr size_t kMaxCodeInDetail = 32;
// Unmatched multiset members left after the canonical-key merge that are still
// paired one by one with the full (folding) comparison.
constexpr size_t kMaxGreedyLeftovers = 64;

std::string clip(std::string_view text, size_t max) {
  return std::string(text.substr(0, std::min(text.size(), max)));
}

constexpr std::string_view kValueDiffers = "value differs";

// The same value byte for byte (type, payload, elements in order), which
// compareValues at `depth` always finds equal: a shortcut for the common case
// of servers of one version answering alike, without building a Comparison per
// element. False only sends the pair to the full comparison, so it also
// declines what compareValues would refuse (nested beyond kMaxDepth) and maps
// with an odd element count, which no parsed reply has. Attributes are ignored,
// as compareValues ignores them.
bool identicalValues(const Value& a, const Value& b, int depth) {
  if (depth > kMaxDepth || a.type != b.type || a.isNull != b.isNull || a.integer != b.integer ||
      !sameBytes(a.text, b.text) || a.elements.size() != b.elements.size()) {
    return false;
  }
  if (a.type == '%' && a.elements.size() % 2 != 0) return false;
  for (size_t i = 0; i < a.elements.size(); ++i) {
    if (!identicalValues(a.elements[i], b.elements[i], depth + 1)) return false;
  }
  return true;
}

// Wraps the difference found in element `index` of an aggregate.
Comparison inElement(size_t index, Comparison inner) {
  const std::string position = std::to_string(index);
  if (inner.detail == kValueDiffers) {
    inner.detail = "element " + position + " differs";
  } else if (inner.detail.rfind("element ", 0) == 0) {
    inner.detail = "element " + position + "." + inner.detail.substr(8);
  } else {
    inner.detail = "element " + position + ": " + inner.detail;
  }
  if (inner.detail.size() > kMaxDetail) inner.detail.resize(kMaxDetail);
  return inner;
}

Comparison compareScalars(const Context& ctx, const Value& p, const Value& c, Kind pk, Kind ck) {
  if (pk == Kind::kInteger) {
    return integerOf(p) == integerOf(c) ? match()
                                        : result(Outcome::kValue, std::string(kValueDiffers));
  }
  const std::string_view ps = stringOf(p);
  const std::string_view cs = stringOf(c);
  if (pk == Kind::kString && ck == Kind::kString && !ctx.numericStrings) {
    return ps == cs ? match() : result(Outcome::kValue, std::string(kValueDiffers));
  }
  // A double on either side, or a command answering doubles.
  double pn = 0, cn = 0;
  if (parseNumber(ps, pn) && parseNumber(cs, cn)) {
    return numbersEqual(pn, cn) ? match() : result(Outcome::kValue, std::string(kValueDiffers));
  }
  return ps == cs ? match() : result(Outcome::kValue, std::string(kValueDiffers));
}

bool unitMemberEqual(const Context& ctx, const Value& a, const Value& b) {
  return identicalValues(a, b, 1) || equalValues(ctx, a, b);
}

bool unitsEqual(const Context& ctx, const Unit& a, const Unit& b) {
  if (!unitMemberEqual(ctx, *a.first, *b.first)) return false;
  if (a.second == nullptr) return true;
  return unitMemberEqual(ctx, *a.second, *b.second);
}

Comparison compareMultisets(const Context& ctx, const std::vector<Unit>& p,
                            const std::vector<Unit>& c, bool pairs) {
  const char* noun = pairs ? "pairs" : "length";
  if (p.size() != c.size()) {
    return result(Outcome::kValue, std::string(noun) + " " + std::to_string(p.size()) + " vs " +
                                       std::to_string(c.size()));
  }
  // Same order is the common case (same version, same encodings).
  bool sameOrder = true;
  for (size_t i = 0; i < p.size() && sameOrder; ++i) sameOrder = unitsEqual(ctx, p[i], c[i]);
  if (sameOrder) return match();

  std::vector<size_t> pLeft, cLeft;
  if (pairCanonically(p, c, 0, &pLeft, &cLeft)) return match();
  // Members equal only after a non-exact fold (double vs bulk, set vs array
  // nested, numeric tolerance): pair the few leftovers one by one.
  size_t unmatched = pLeft.size();
  if (pLeft.size() <= kMaxGreedyLeftovers) {
    orderByCanonicalKey(p, pLeft);
    orderByCanonicalKey(c, cLeft);
    std::vector<bool> used(cLeft.size(), false);
    for (size_t a : pLeft) {
      for (size_t b = 0; b < cLeft.size(); ++b) {
        if (!used[b] && unitsEqual(ctx, p[a], c[cLeft[b]])) {
          used[b] = true;
          --unmatched;
          break;
        }
      }
    }
  }
  if (unmatched == 0) return match();
  return result(Outcome::kValue, std::to_string(unmatched) + " of " + std::to_string(p.size()) +
                                     (pairs ? " pairs unmatched" : " elements unmatched"));
}

bool isPairArray(const Value& v) { return kindOf(v) == Kind::kArray && v.elements.size() == 2; }

// (key, value) pairs of a map, of a flat array k, v, k, v, or of an array of
// two-element arrays (RESP2 XREAD against the RESP3 map). `pairCount` is the
// number of pairs the other side has, or -1 when it is not known.
bool pairUnits(const Value& v, int64_t pairCount, std::vector<Unit>& units) {
  units.clear();
  const size_t n = v.elements.size();
  const bool nested = kindOf(v) != Kind::kMap && pairCount >= 0 &&
                      n == static_cast<size_t>(pairCount) && n > 0 &&
                      std::all_of(v.elements.begin(), v.elements.end(), isPairArray);
  if (nested) {
    units.reserve(n);
    for (const Value& pair : v.elements)
      units.push_back(Unit{&pair.elements[0], &pair.elements[1]});
    return true;
  }
  if (n % 2 != 0) return false;
  units.reserve(n / 2);
  for (size_t i = 0; i < n; i += 2) units.push_back(Unit{&v.elements[i], &v.elements[i + 1]});
  return true;
}

Comparison comparePairs(const Context& ctx, const Value& p, const Value& c) {
  const bool pMap = kindOf(p) == Kind::kMap;
  const bool cMap = kindOf(c) == Kind::kMap;
  const int64_t pCount = pMap ? static_cast<int64_t>(p.elements.size() / 2) : -1;
  const int64_t cCount = cMap ? static_cast<int64_t>(c.elements.size() / 2) : -1;
  std::vector<Unit> pu, cu;
  if (!pairUnits(p, cCount, pu) || !pairUnits(c, pCount, cu)) {
    return result(Outcome::kValue, "length " + std::to_string(p.elements.size()) + " vs " +
                                       std::to_string(c.elements.size()));
  }
  return compareMultisets(ctx, pu, cu, true);
}

bool isScalarKind(Kind kind) { return !isAggregateKind(kind); }

// [[m, s], [m, s]] (RESP3 ZRANGE WITHSCORES) against [m, s, m, s] (RESP2).
bool flattenPairs(const Value& nested, const Value& flat, std::vector<const Value*>& out) {
  if (nested.elements.empty() || flat.elements.size() != nested.elements.size() * 2) return false;
  for (const Value& pair : nested.elements) {
    if (!isPairArray(pair) || !isScalarKind(kindOf(pair.elements[0])) ||
        !isScalarKind(kindOf(pair.elements[1]))) {
      return false;
    }
  }
  for (const Value& element : flat.elements) {
    if (!isScalarKind(kindOf(element))) return false;
  }
  for (const Value& pair : nested.elements) {
    out.push_back(&pair.elements[0]);
    out.push_back(&pair.elements[1]);
  }
  return true;
}

Comparison compareOrdered(const Context& ctx, const Value& p, const Value& c, int depth) {
  if (p.elements.size() == c.elements.size()) {
    for (size_t i = 0; i < p.elements.size(); ++i) {
      if (identicalValues(p.elements[i], c.elements[i], depth + 1)) continue;
      Comparison inner = compareValues(ctx, p.elements[i], c.elements[i], false, depth + 1);
      if (inner.outcome != Outcome::kMatch) return inElement(i, std::move(inner));
    }
    return match();
  }
  std::vector<const Value*> pf, cf;
  if (flattenPairs(p, c, pf)) {
    for (const Value& element : c.elements) cf.push_back(&element);
  } else if (flattenPairs(c, p, cf)) {
    for (const Value& element : p.elements) pf.push_back(&element);
  } else {
    return result(Outcome::kValue, "length " + std::to_string(p.elements.size()) + " vs " +
                                       std::to_string(c.elements.size()));
  }
  for (size_t i = 0; i < pf.size(); ++i) {
    Comparison inner = compareValues(ctx, *pf[i], *cf[i], false, depth + 1);
    if (inner.outcome != Outcome::kMatch) return inElement(i, std::move(inner));
  }
  return match();
}

}  // namespace

Comparison result(Outcome outcome, std::string detail) {
  if (detail.size() > kMaxDetail) detail.resize(kMaxDetail);
  return Comparison{outcome, std::move(detail)};
}

bool equalValues(const Context& ctx, const Value& p, const Value& c) {
  return compareValues(ctx, p, c, false, 1).outcome == Outcome::kMatch;
}

Comparison compareErrors(const Value& p, const Value& c) {
  const bool primaryError = kindOf(p) == Kind::kError;
  if (primaryError != (kindOf(c) == Kind::kError)) {
    return primaryError ? result(Outcome::kErrorPrimaryOnly, "primary error")
                        : result(Outcome::kErrorCanaryOnly, "canary error");
  }
  const std::string_view pc = errorCode(p);
  const std::string_view cc = errorCode(c);
  if (pc != cc) {
    return result(Outcome::kErrorCode,
                  clip(pc, kMaxCodeInDetail) + " vs " + clip(cc, kMaxCodeInDetail));
  }
  if (p.text == c.text) return match();
  return result(Outcome::kErrorText, "error text differs (" + clip(pc, kMaxCodeInDetail) + ")");
}

Comparison compareValues(const Context& ctx, const Value& p, const Value& c, bool unordered,
                         int depth) {
  if (depth > kMaxDepth) return result(Outcome::kValue, "nested too deep");
  const Kind pk = kindOf(p);
  const Kind ck = kindOf(c);
  if (pk == Kind::kError || ck == Kind::kError) return compareErrors(p, c);
  if (pk == Kind::kNull || ck == Kind::kNull) {
    if (pk == ck) return match();
    return result(Outcome::kValue, pk == Kind::kNull ? "primary null" : "canary null");
  }
  if (!typeCompatible(pk, ck)) {
    return result(Outcome::kType, std::string(kindName(pk)) + " vs " + kindName(ck));
  }
  if (pk == Kind::kOther) {
    return p.type == c.type && p.text == c.text
               ? match()
               : result(Outcome::kValue, std::string(kValueDiffers));
  }
  if (!isAggregateKind(pk)) return compareScalars(ctx, p, c, pk, ck);
  if (pk == Kind::kMap || ck == Kind::kMap) return comparePairs(ctx, p, c);
  if (pk == Kind::kSet || ck == Kind::kSet) {
    return compareMultisets(ctx, singleUnits(p), singleUnits(c), false);
  }
  if (unordered) {
    if (ctx.command == "hgetall") return comparePairs(ctx, p, c);
    return compareMultisets(ctx, singleUnits(p), singleUnits(c), false);
  }
  return compareOrdered(ctx, p, c, depth);
}

}  // namespace redmirror::diff::detail
