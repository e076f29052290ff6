// The comparator as it was before multisets were paired by canonical hash
// (string keys, sorted): kept verbatim as the reference the differential tests
// hold diff::compare to. Not built into the proxy.
#include "reference_comparator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace redmirror::diff::reference {

namespace {

using resp::Value;

// Longest detail string; details name positions, lengths and classes, never values.
constexpr size_t kMaxDetail = 80;
// Longest error code quoted in a detail.
constexpr size_t kMaxCodeInDetail = 32;
// Deeper than the parser allows (64); a guard, not a limit anyone reaches.
constexpr int kMaxDepth = 128;
// Unmatched multiset members left after the canonical-key merge that are still
// paired one by one with the full (folding) comparison.
constexpr size_t kMaxGreedyLeftovers = 64;

// RESP types after RESP2/RESP3 folding.
enum class Kind : uint8_t { kNull, kError, kInteger, kString, kDouble, kArray, kSet, kMap, kOther };

Kind kindOf(const Value& v) {
  if (v.isNull) return Kind::kNull;
  switch (v.type) {
    case '_':
      return Kind::kNull;
    case '-':
    case '!':
      return Kind::kError;
    case ':':
    case '#':
      return Kind::kInteger;
    case '$':
    case '+':
    case '=':
    case '(':
      return Kind::kString;
    case ',':
      return Kind::kDouble;
    case '*':
    case '>':
      return Kind::kArray;
    case '~':
      return Kind::kSet;
    case '%':
      return Kind::kMap;
    default:
      return Kind::kOther;
  }
}

const char* kindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kError:
      return "error";
    case Kind::kInteger:
      return "integer";
    case Kind::kString:
      return "string";
    case Kind::kDouble:
      return "double";
    case Kind::kArray:
      return "array";
    case Kind::kSet:
      return "set";
    case Kind::kMap:
      return "map";
    case Kind::kOther:
      return "other";
  }
  return "other";
}

bool isAggregateKind(Kind kind) {
  return kind == Kind::kArray || kind == Kind::kSet || kind == Kind::kMap;
}

// Same folded type: a double is a bulk string in RESP2, a set or a map an array.
bool typeCompatible(Kind a, Kind b) {
  if (a == b) return true;
  auto either = [&](Kind x, Kind y) { return (a == x && b == y) || (a == y && b == x); };
  return either(Kind::kString, Kind::kDouble) || either(Kind::kArray, Kind::kSet) ||
         either(Kind::kArray, Kind::kMap);
}

int64_t integerOf(const Value& v) {
  if (v.type == '#') return v.text == "t" ? 1 : 0;
  return v.integer;
}

// A string's payload: a verbatim string without its three-letter format and ':'.
std::string_view stringOf(const Value& v) {
  std::string_view text = v.text;
  if (v.type == '=' && text.size() >= 4 && text[3] == ':') text.remove_prefix(4);
  return text;
}

bool parseNumber(std::string_view text, double& out) {
  if (text.empty() || text.size() > 64) return false;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (*begin == '+') ++begin;  // from_chars (locale-independent strtod) refuses '+'
  if (begin == end) return false;
  const auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end;
}

bool numbersEqual(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  const double scale = std::max({1.0, std::fabs(a), std::fabs(b)});
  return std::fabs(a - b) <= 1e-9 * scale;
}

std::string_view errorCode(const Value& v) {
  std::string_view text = v.text;
  const size_t end = text.find_first_of(" \r\n");
  return end == std::string_view::npos ? text : text.substr(0, end);
}

std::string clip(std::string_view text, size_t max) {
  return std::string(text.substr(0, std::min(text.size(), max)));
}

Comparison result(Outcome outcome, std::string detail) {
  if (detail.size() > kMaxDetail) detail.resize(kMaxDetail);
  return Comparison{outcome, std::move(detail)};
}

Comparison match() { return Comparison{}; }

constexpr std::string_view kValueDiffers = "value differs";

// Commands whose replies are doubles (RESP2: bulk strings): compared numerically
// even bulk against bulk, since the formatting of a double is not its value.
bool isNumericCommand(std::string_view c) {
  return c == "zscore" || c == "zmscore" || c == "zincrby" || c == "zadd" || c == "incrbyfloat" ||
         c == "hincrbyfloat" || c == "geodist" || c == "geopos";
}

// Commands answering 0 (an integer) for a key that does not exist.
bool isExistenceCommand(std::string_view c) {
  return c == "exists" || c == "scard" || c == "llen" || c == "hlen" || c == "zcard" ||
         c == "strlen" || c == "xlen" || c == "hexists" || c == "sismember" || c == "hstrlen";
}

struct Context {
  bool numericStrings = false;
  std::string_view command;
};

Comparison compareValues(const Context& ctx, const Value& p, const Value& c, bool unordered,
                         int depth);

bool equalValues(const Context& ctx, const Value& p, const Value& c) {
  return compareValues(ctx, p, c, false, 1).outcome == Outcome::kMatch;
}

Comparison compareErrors(const Value& p, const Value& c) {
  const std::string_view pc = errorCode(p);
  const std::string_view cc = errorCode(c);
  if (pc != cc) {
    return result(Outcome::kErrorCode,
                  clip(pc, kMaxCodeInDetail) + " vs " + clip(cc, kMaxCodeInDetail));
  }
  if (p.text == c.text) return match();
  return result(Outcome::kErrorText, "error text differs (" + clip(pc, kMaxCodeInDetail) + ")");
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

// One member of a multiset: an element, or a (key, value) pair.
struct Unit {
  const Value* first;
  const Value* second;  // null for single elements
};

void canonicalKey(const Value& v, std::string& out, int depth);

void appendUnitKey(const Unit& unit, std::string& out) {
  canonicalKey(*unit.first, out, 0);
  if (unit.second != nullptr) canonicalKey(*unit.second, out, 0);
}

// An exact, self-delimiting encoding of a value after the folding that is an
// equivalence (shapes, nulls, booleans, string kinds). Doubles are keyed by their
// shortest round-trip form; tolerances and the double/bulk fold are left to the
// full comparison of the members the keys leave unmatched.
void canonicalKey(const Value& v, std::string& out, int depth) {
  const Kind kind = kindOf(v);
  auto appendText = [&](char tag, std::string_view text) {
    out += tag;
    out += std::to_string(text.size());
    out += ':';
    out.append(text);
  };
  switch (kind) {
    case Kind::kNull:
      out += 'N';
      return;
    case Kind::kError:
      appendText('E', v.text);
      return;
    case Kind::kInteger:
      out += 'I';
      out += std::to_string(integerOf(v));
      out += ';';
      return;
    case Kind::kString:
      appendText('S', stringOf(v));
      return;
    case Kind::kOther:
      appendText('O', v.text);
      return;
    case Kind::kDouble: {
      double number = 0;
      char buffer[64];
      if (parseNumber(v.text, number)) {
        const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), number);
        if (ec == std::errc()) {
          appendText('D', std::string_view(buffer, static_cast<size_t>(end - buffer)));
          return;
        }
      }
      appendText('d', v.text);
      return;
    }
    case Kind::kArray:
    case Kind::kSet:
    case Kind::kMap:
      break;
  }
  if (depth > kMaxDepth) {
    out += '?';
    return;
  }
  out += kind == Kind::kArray ? 'A' : kind == Kind::kSet ? 'T' : 'M';
  out += std::to_string(v.elements.size());
  out += '[';
  if (kind == Kind::kArray) {
    for (const Value& element : v.elements) canonicalKey(element, out, depth + 1);
  } else {
    const size_t step = kind == Kind::kMap ? 2 : 1;
    std::vector<std::string> keys;
    keys.reserve(v.elements.size() / step);
    for (size_t i = 0; i + step <= v.elements.size(); i += step) {
      std::string key;
      canonicalKey(v.elements[i], key, depth + 1);
      if (step == 2) canonicalKey(v.elements[i + 1], key, depth + 1);
      keys.push_back(std::move(key));
    }
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) out += key;
  }
  out += ']';
}

bool unitsEqual(const Context& ctx, const Unit& a, const Unit& b) {
  if (!equalValues(ctx, *a.first, *b.first)) return false;
  if (a.second == nullptr) return true;
  return equalValues(ctx, *a.second, *b.second);
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

  auto keysOf = [](const std::vector<Unit>& units) {
    std::vector<std::pair<std::string, size_t>> keys;
    keys.reserve(units.size());
    for (size_t i = 0; i < units.size(); ++i) {
      std::string key;
      appendUnitKey(units[i], key);
      keys.emplace_back(std::move(key), i);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  };
  const auto pk = keysOf(p);
  const auto ck = keysOf(c);
  std::vector<size_t> pLeft, cLeft;
  size_t i = 0, j = 0;
  while (i < pk.size() || j < ck.size()) {
    if (j == ck.size() || (i < pk.size() && pk[i].first < ck[j].first)) {
      pLeft.push_back(pk[i++].second);
    } else if (i == pk.size() || ck[j].first < pk[i].first) {
      cLeft.push_back(ck[j++].second);
    } else {
      ++i;
      ++j;
    }
  }
  if (pLeft.empty()) return match();
  // Members equal only after a non-exact fold (double vs bulk, set vs array
  // nested, numeric tolerance): pair the few leftovers one by one.
  size_t unmatched = pLeft.size();
  if (pLeft.size() <= kMaxGreedyLeftovers) {
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

std::vector<Unit> singleUnits(const Value& v) {
  std::vector<Unit> units;
  units.reserve(v.elements.size());
  for (const Value& element : v.elements) units.push_back(Unit{&element, nullptr});
  return units;
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
    for (const Value& pair : v.elements)
      units.push_back(Unit{&pair.elements[0], &pair.elements[1]});
    return true;
  }
  if (n % 2 != 0) return false;
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

Comparison compareValues(const Context& ctx, const Value& p, const Value& c, bool unordered,
                         int depth) {
  if (depth > kMaxDepth) return result(Outcome::kValue, "nested too deep");
  const Kind pk = kindOf(p);
  const Kind ck = kindOf(c);
  if (pk == Kind::kError || ck == Kind::kError) {
    if (pk == ck) return compareErrors(p, c);
    return pk == Kind::kError ? result(Outcome::kErrorPrimaryOnly, "primary error")
                              : result(Outcome::kErrorCanaryOnly, "canary error");
  }
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

// A value the primary holds: data, not a status reply, not an empty aggregate.
bool holdsValue(const Value& v) {
  const Kind kind = kindOf(v);
  if (kind == Kind::kNull || kind == Kind::kError || kind == Kind::kOther) return false;
  if (v.type == '+') return false;
  if (isAggregateKind(kind)) return !v.elements.empty();
  return true;
}

// Why the canary has no value where the primary has one, or nullptr.
const char* missingReason(const CompareRules& rules, const Value& p, const Value& c) {
  const Kind pk = kindOf(p);
  const Kind ck = kindOf(c);
  if (pk == Kind::kError || pk == Kind::kNull) return nullptr;
  if (ck == Kind::kNull) return holdsValue(p) ? "canary null" : nullptr;
  if (isAggregateKind(ck) && c.elements.empty() && isAggregateKind(pk) && !p.elements.empty()) {
    return "canary empty";
  }
  const std::string_view command = rules.command;
  if (pk == Kind::kInteger && ck == Kind::kInteger) {
    if (rules.ttlLike && integerOf(c) == -2 && integerOf(p) >= -1) return "canary has no key";
    if (isExistenceCommand(command) && integerOf(c) == 0 && integerOf(p) != 0) return "canary 0";
  }
  if (command == "type" && pk == Kind::kString && ck == Kind::kString && stringOf(c) == "none" &&
      stringOf(p) != "none") {
    return "canary none";
  }
  if (pk == Kind::kArray && ck == Kind::kArray && p.elements.size() == c.elements.size() &&
      !p.elements.empty()) {
    if (command == "mget") {
      // One element per key: missing when every difference is a key the canary lacks.
      const Context ctx{false, command};
      bool lacks = false;
      for (size_t i = 0; i < p.elements.size(); ++i) {
        const Value& pe = p.elements[i];
        const Value& ce = c.elements[i];
        if (kindOf(ce) == Kind::kNull && holdsValue(pe)) {
          lacks = true;
        } else if (!equalValues(ctx, pe, ce)) {
          return nullptr;
        }
      }
      return lacks ? "canary null for some keys" : nullptr;
    }
    if (command == "hmget" || command == "zmscore" || command == "smismember") {
      // One key: missing when the canary answers "absent" for every member.
      const bool integers = command == "smismember";
      auto absent = [&](const Value& v) {
        return integers ? kindOf(v) == Kind::kInteger && integerOf(v) == 0
                        : kindOf(v) == Kind::kNull;
      };
      if (std::all_of(c.elements.begin(), c.elements.end(), absent) &&
          !std::all_of(p.elements.begin(), p.elements.end(), absent)) {
        return "canary lacks every member";
      }
    }
  }
  return nullptr;
}

const char* ttlState(int64_t ttl) {
  if (ttl == -1) return "no expire";
  if (ttl == -2) return "no key";
  if (ttl < 0) return "negative";
  return "expire";
}

Comparison compareTtl(const CompareRules& rules, int64_t p, int64_t c) {
  if (p >= 0 && c >= 0) {
    int64_t tolerance = std::max<int64_t>(0, rules.ttlToleranceMs);
    if (rules.ttlInSeconds) tolerance = (tolerance + 999) / 1000;
    // Both non-negative: the difference cannot overflow.
    const int64_t difference = p > c ? p - c : c - p;
    if (difference <= tolerance) return match();
    return result(Outcome::kValue, "ttl differs by " + std::to_string(difference) +
                                       (rules.ttlInSeconds ? "s" : "ms"));
  }
  if (p == c) return match();
  return result(Outcome::kValue, std::string("primary ") + ttlState(p) + ", canary " + ttlState(c));
}

Comparison compareImpl(const CompareRules& rules, const Value& p, const Value& c) {
  const Kind pk = kindOf(p);
  const Kind ck = kindOf(c);
  if (pk == Kind::kError || ck == Kind::kError) {
    if (pk == ck) return compareErrors(p, c);
    return pk == Kind::kError ? result(Outcome::kErrorPrimaryOnly, "primary error")
                              : result(Outcome::kErrorCanaryOnly, "canary error");
  }
  if (const char* reason = missingReason(rules, p, c)) {
    return result(rules.keyWrittenByMirror ? Outcome::kLostWrite : Outcome::kColdMiss, reason);
  }
  if (rules.typeOnly) {
    if (pk == Kind::kNull || ck == Kind::kNull) {
      if (pk == ck) return match();
      return result(Outcome::kValue, pk == Kind::kNull ? "primary null" : "canary null");
    }
    if (typeCompatible(pk, ck)) return match();
    return result(Outcome::kType, std::string(kindName(pk)) + " vs " + kindName(ck));
  }
  if (rules.ttlLike && pk == Kind::kInteger && ck == Kind::kInteger) {
    return compareTtl(rules, integerOf(p), integerOf(c));
  }
  const Context ctx{isNumericCommand(rules.command), rules.command};
  return compareValues(ctx, p, c, rules.unordered, 0);
}

}  // namespace

Comparison compare(const CompareRules& rules, const resp::Value& primary,
                   const resp::Value& canary) {
  try {
    return compareImpl(rules, primary, canary);
  } catch (...) {
    // Only allocation can fail; an incomplete comparison must not read as a match.
    return Comparison{Outcome::kValue, "comparison failed"};
  }
}

}  // namespace redmirror::diff::reference
