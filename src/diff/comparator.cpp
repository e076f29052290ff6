#include "redmirror/diff/comparator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "redmirror/resp/limits.h"

namespace redmirror::diff {

namespace {

using resp::Value;

// Longest detail string; details name positions, lengths and classes, never values.
constexpr size_t kMaxDetail = 80;
// Longest error code quoted in a detail.
constexpr size_t kMaxCodeInDetail = 32;
// Deeper than the parser allows (resp/limits.h): a guard, not a limit anyone reaches.
constexpr int kMaxDepth = static_cast<int>(resp::kMaxReplyDepth) + 1;
// Unmatched multiset members left after the canonical-key merge that are still
// paired one by one with the full (folding) comparison.
constexpr size_t kMaxGreedyLeftovers = 64;

// RESP types after RESP2/RESP3 folding.
enum class Kind : uint8_t { kNull, kError, kInteger, kString, kDouble, kArray, kSet, kMap, kOther };

// The folded kind of each RESP type byte; kOther for the rest.
constexpr std::array<Kind, 256> kKindOfType = [] {
  std::array<Kind, 256> kinds{};
  kinds.fill(Kind::kOther);
  auto set = [&](std::string_view types, Kind kind) {
    for (const char type : types) kinds[static_cast<unsigned char>(type)] = kind;
  };
  set("_", Kind::kNull);
  set("-!", Kind::kError);
  set(":#", Kind::kInteger);
  set("$+=(", Kind::kString);
  set(",", Kind::kDouble);
  set("*>", Kind::kArray);
  set("~", Kind::kSet);
  set("%", Kind::kMap);
  return kinds;
}();

// A table rather than a switch: called for every member of every multiset, and
// small enough to inline.
inline Kind kindOf(const Value& v) {
  return v.isNull ? Kind::kNull : kKindOfType[static_cast<unsigned char>(v.type)];
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

// The container name of "object|encoding" or "object encoding".
std::string_view baseCommand(std::string_view command) {
  const size_t end = command.find_first_of("| ");
  return end == std::string_view::npos ? command : command.substr(0, end);
}

// --- Bytes ------------------------------------------------------------------

uint64_t load64(const char* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

uint64_t load32(const char* bytes) {
  uint32_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

// The bytes of `text` from `from` on, fewer than eight, as one word built from
// fixed-size loads (a memcpy of a variable size is a library call); when the
// text is longer, its last eight bytes, overlapping ones already read. The
// word holds every byte of a text under eight bytes, so for two texts of one
// length equal words mean equal texts; hashText mixes the length in too.
uint64_t tailWord(std::string_view text, size_t from) {
  const size_t size = text.size();
  const char* bytes = text.data();
  if (size >= 8) return load64(bytes + size - 8);
  if (size - from >= 4) return load32(bytes + from) | load32(bytes + size - 4) << 32;
  uint64_t word = 0;
  for (size_t i = from; i < size; ++i) word = word << 8 | static_cast<unsigned char>(bytes[i]);
  return word;
}

// string_view's operator==, without a library call for the short strings most
// members are: up to 16 bytes compare as two (overlapping) words.
bool sameBytes(std::string_view a, std::string_view b) {
  const size_t size = a.size();
  if (size != b.size()) return false;
  if (size > 16) return std::memcmp(a.data(), b.data(), size) == 0;
  if (size >= 8) {
    return load64(a.data()) == load64(b.data()) &&
           load64(a.data() + size - 8) == load64(b.data() + size - 8);
  }
  return tailWord(a, 0) == tailWord(b, 0);
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

// --- Canonical form -------------------------------------------------------
// Multiset members are paired first by their canonical form: an exact,
// self-delimiting encoding of a value after the folding that is an equivalence
// (shapes, nulls, booleans, string kinds). Doubles are keyed by their shortest
// round-trip form; tolerances and the double/bulk fold are left to the full
// comparison of the members the canonical forms leave unmatched.
//
// canonicalKey() spells the form out as a string. Pairing does not build it:
// canonicalHash() and canonicallyEqual() decide the same equality on the parsed
// values, with no string built or copied. The string is only built to put the
// few unmatched members in the order a sort of the strings gives them, which
// the greedy pairing of leftovers depends on.

// What the canonical form holds for a double: 'D' and its shortest round-trip
// text, or 'd' and its text as received when that is not a number.
struct DoubleForm {
  char tag;
  std::string_view text;
  bool operator==(const DoubleForm&) const = default;
};

// Longer than any shortest round-trip double (at most 24 characters).
using DoubleBuffer = char[64];

DoubleForm doubleForm(const Value& v, DoubleBuffer& buffer) {
  double number = 0;
  if (parseNumber(v.text, number)) {
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), number);
    if (ec == std::errc())
      return {'D', std::string_view(buffer, static_cast<size_t>(end - buffer))};
  }
  return {'d', v.text};
}

// Aggregates nested beyond kMaxDepth all have the same canonical form, '?'.
bool beyondKeyDepth(Kind kind, int depth) { return isAggregateKind(kind) && depth > kMaxDepth; }

void canonicalKey(const Value& v, std::string& out, int depth);

void appendUnitKey(const Unit& unit, std::string& out) {
  canonicalKey(*unit.first, out, 0);
  if (unit.second != nullptr) canonicalKey(*unit.second, out, 0);
}

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
      DoubleBuffer buffer;
      const DoubleForm form = doubleForm(v, buffer);
      appendText(form.tag, form.text);
      return;
    }
    case Kind::kArray:
    case Kind::kSet:
    case Kind::kMap:
      break;
  }
  if (beyondKeyDepth(kind, depth)) {
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

// The members of a set (elements) or of a map (pairs; an odd last element is
// not part of any, as in canonicalKey).
std::vector<Unit> singleUnits(const Value& v) {
  std::vector<Unit> units;
  units.reserve(v.elements.size());
  for (const Value& element : v.elements) units.push_back(Unit{&element, nullptr});
  return units;
}

std::vector<Unit> mapPairUnits(const Value& v) {
  std::vector<Unit> units;
  units.reserve(v.elements.size() / 2);
  for (size_t i = 0; i + 2 <= v.elements.size(); i += 2) {
    units.push_back(Unit{&v.elements[i], &v.elements[i + 1]});
  }
  return units;
}

// splitmix64's finaliser: spreads every input bit over the whole hash.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t combine(uint64_t seed, uint64_t value) {
  return mix(seed ^ (value + 0x9e3779b97f4a7c15ULL));
}

// Per process, so that nobody can craft replies whose members share a hash
// (each shared hash costs a full comparison of the members). Set before main;
// nothing compares replies during static initialisation.
const uint64_t kHashSeed = [] {
  static const int anchor = 0;
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return mix(reinterpret_cast<uintptr_t>(&anchor) ^ static_cast<uint64_t>(now));
}();

// One multiply per word, its high half folded into the low bits that pick a
// table slot.
uint64_t addWord(uint64_t hash, uint64_t word) {
  hash = (hash ^ word) * 0x9fb21c651e98df25ULL;
  return hash ^ (hash >> 32);
}

// A tagged hash of `text`, eight bytes per step with no library call: most
// members are short strings, for which calling a general-purpose hash costs
// more than the hashing. Equal hashes are always confirmed by a comparison.
uint64_t hashText(char tag, std::string_view text) {
  uint64_t hash = kHashSeed ^ (static_cast<uint64_t>(tag) << 56) ^ text.size();
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) hash = addWord(hash, load64(text.data() + i));
  if (i < text.size()) hash = addWord(hash, tailWord(text, i));
  return hash;
}

uint64_t canonicalHash(const Value& v, int depth);

// canonicalHash, with the case of nearly every member (a string) first.
uint64_t memberHash(const Value& v, int depth) {
  if (kindOf(v) == Kind::kString) return hashText('S', stringOf(v));
  return canonicalHash(v, depth);
}

uint64_t unitHash(const Unit& unit, int depth) {
  const uint64_t first = memberHash(*unit.first, depth);
  return unit.second == nullptr ? first : combine(first, memberHash(*unit.second, depth));
}

// Order-independent, as the sorted member keys of canonicalKey are: the sum of
// the hashes of the members (elements, or pairs for a map: `step` 2).
uint64_t unorderedHash(char tag, const Value& v, size_t step, int depth) {
  uint64_t sum = 0;
  for (size_t i = 0; i + step <= v.elements.size(); i += step) {
    uint64_t member = canonicalHash(v.elements[i], depth + 1);
    if (step == 2) member = combine(member, canonicalHash(v.elements[i + 1], depth + 1));
    sum += member;
  }
  return combine(combine(static_cast<uint64_t>(tag), v.elements.size()), sum);
}

// Equal canonical forms give equal hashes (the converse is checked by
// canonicallyEqual).
uint64_t canonicalHash(const Value& v, int depth) {
  const Kind kind = kindOf(v);
  if (beyondKeyDepth(kind, depth)) return mix('?');
  switch (kind) {
    case Kind::kNull:
      return mix('N');
    case Kind::kError:
      return hashText('E', v.text);
    case Kind::kOther:
      return hashText('O', v.text);
    case Kind::kInteger:
      return combine('I', static_cast<uint64_t>(integerOf(v)));
    case Kind::kString:
      return hashText('S', stringOf(v));
    case Kind::kDouble: {
      DoubleBuffer buffer;
      const DoubleForm form = doubleForm(v, buffer);
      return hashText(form.tag, form.text);
    }
    case Kind::kArray: {
      uint64_t hash = combine('A', v.elements.size());
      for (const Value& element : v.elements)
        hash = combine(hash, canonicalHash(element, depth + 1));
      return hash;
    }
    case Kind::kSet:
      return unorderedHash('T', v, 1, depth);
    case Kind::kMap:
      return unorderedHash('M', v, 2, depth);
  }
  return 0;
}

bool unitsCanonicallyEqual(const Unit& a, const Unit& b, int depth);

// Pairs the members of `p` and `c` whose canonical forms are equal, as merging
// their sorted canonicalKey strings does: within one form, members in position
// order, the first ones of each side paired together. Unpaired positions are
// appended to pLeft and cLeft; without them it stops at the first one. Returns
// whether every member found its pair.
bool pairCanonically(const std::vector<Unit>& p, const std::vector<Unit>& c, int depth,
                     std::vector<size_t>* pLeft, std::vector<size_t>* cLeft);

bool canonicallyEqual(const Value& a, const Value& b, int depth) {
  const Kind ka = kindOf(a);
  const Kind kb = kindOf(b);
  if (beyondKeyDepth(ka, depth) || beyondKeyDepth(kb, depth)) {
    return beyondKeyDepth(ka, depth) && beyondKeyDepth(kb, depth);
  }
  if (ka != kb) return false;
  switch (ka) {
    case Kind::kNull:
      return true;
    case Kind::kError:
    case Kind::kOther:
      return sameBytes(a.text, b.text);
    case Kind::kInteger:
      return integerOf(a) == integerOf(b);
    case Kind::kString:
      return sameBytes(stringOf(a), stringOf(b));
    case Kind::kDouble: {
      DoubleBuffer aBuffer, bBuffer;
      return doubleForm(a, aBuffer) == doubleForm(b, bBuffer);
    }
    case Kind::kArray:
      if (a.elements.size() != b.elements.size()) return false;
      for (size_t i = 0; i < a.elements.size(); ++i) {
        if (!canonicallyEqual(a.elements[i], b.elements[i], depth + 1)) return false;
      }
      return true;
    case Kind::kSet:
      return a.elements.size() == b.elements.size() &&
             pairCanonically(singleUnits(a), singleUnits(b), depth + 1, nullptr, nullptr);
    case Kind::kMap:
      return a.elements.size() == b.elements.size() &&
             pairCanonically(mapPairUnits(a), mapPairUnits(b), depth + 1, nullptr, nullptr);
  }
  return false;
}

// canonicallyEqual, with the case of nearly every member (strings) first.
bool membersEqual(const Value& a, const Value& b, int depth) {
  if (kindOf(a) == Kind::kString && kindOf(b) == Kind::kString) {
    return sameBytes(stringOf(a), stringOf(b));
  }
  return canonicallyEqual(a, b, depth);
}

bool unitsCanonicallyEqual(const Unit& a, const Unit& b, int depth) {
  if (!membersEqual(*a.first, *b.first, depth)) return false;
  if (a.second == nullptr || b.second == nullptr) return a.second == b.second;
  return membersEqual(*a.second, *b.second, depth);
}

// The members of one side of a multiset, found by canonical hash: an
// open-addressing table with one slot per distinct hash, each slot the chain of
// the members having that hash in position order.
class MemberIndex {
 public:
  MemberIndex(const std::vector<Unit>& units, int depth)
      : units_(units), depth_(depth), members_(units.size()), slots_(tableSize(units.size())) {
    // Last to first, each pushed at its chain's front: chains end up in position order.
    for (size_t i = units.size(); i-- > 0;)
      push(unitHash(units[i], depth), static_cast<Position>(i));
  }

  // Pairs `unit` with the first member, in position order, that is not paired
  // yet and has the same canonical form. Members of one form are thus paired
  // front to back, as merging sorted canonicalKey strings pairs them.
  bool take(const Unit& unit, uint64_t hash) {
    Slot* slot = find(hash);
    if (slot->head == kNone) return false;
    // Duplicates are taken front to back: skip the ones already taken.
    while (slot->untaken != kNone && members_[slot->untaken].taken) {
      slot->untaken = members_[slot->untaken].next;
    }
    for (Position m = slot->untaken; m != kNone; m = members_[m].next) {
      if (!members_[m].taken && unitsCanonicallyEqual(units_[m], unit, depth_)) {
        members_[m].taken = true;
        return true;
      }
    }
    return false;
  }

  void appendUntaken(std::vector<size_t>& positions) const {
    for (size_t i = 0; i < members_.size(); ++i) {
      if (!members_[i].taken) positions.push_back(i);
    }
  }

 private:
  // Positions fit 32 bits: a reply aggregate holds at most kMaxAggregateLength
  // elements. Smaller entries make the table cheaper to clear and to probe.
  using Position = uint32_t;
  static constexpr Position kNone = UINT32_MAX;
  static_assert(resp::kMaxAggregateLength < kNone);
  struct Member {
    Position next = kNone;
    bool taken = false;
  };
  struct Slot {
    uint64_t hash = 0;
    Position head = kNone;     // first member of the chain; kNone: an empty slot
    Position untaken = kNone;  // first member not known to be taken
  };

  // A power of two at least twice the members: short linear probes.
  static size_t tableSize(size_t members) {
    size_t size = 8;
    while (size < 2 * members) size *= 2;
    return size;
  }

  // The slot holding `hash`, or the empty slot where it would go.
  Slot* find(uint64_t hash) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.head == kNone || slot.hash == hash) return &slot;
    }
  }

  void push(uint64_t hash, Position position) {
    Slot* slot = find(hash);
    slot->hash = hash;
    members_[position].next = slot->head;
    slot->head = position;
    slot->untaken = position;
  }

  const std::vector<Unit>& units_;
  const int depth_;
  std::vector<Member> members_;
  std::vector<Slot> slots_;
};

bool pairCanonically(const std::vector<Unit>& p, const std::vector<Unit>& c, int depth,
                     std::vector<size_t>* pLeft, std::vector<size_t>* cLeft) {
  // Callers that want the leftovers compare sizes first (their detail names them).
  if (p.size() != c.size() && pLeft == nullptr) return false;
  MemberIndex canary(c, depth);
  bool allPaired = true;
  for (size_t i = 0; i < p.size(); ++i) {
    if (canary.take(p[i], unitHash(p[i], depth))) continue;
    allPaired = false;
    if (pLeft == nullptr) return false;
    pLeft->push_back(i);
  }
  // Equal sizes: every primary member paired leaves no canary member unpaired.
  if (!allPaired) canary.appendUntaken(*cLeft);
  return allPaired;
}

// Puts unmatched positions in the order of their members' canonicalKey strings
// (then position), the order the greedy pairing below walks them in.
void orderByCanonicalKey(const std::vector<Unit>& units, std::vector<size_t>& positions) {
  std::vector<std::pair<std::string, size_t>> keyed;
  keyed.reserve(positions.size());
  for (size_t position : positions) {
    std::string key;
    appendUnitKey(units[position], key);
    keyed.emplace_back(std::move(key), position);
  }
  std::sort(keyed.begin(), keyed.end());
  for (size_t i = 0; i < keyed.size(); ++i) positions[i] = keyed[i].second;
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

// XPENDING's extended form lists [id, consumer, idle-ms, deliveries]: the idle
// time is when the entry was delivered on each server's own clock.
void clearIdleTimes(Value& reply) {
  for (Value& entry : reply.elements) {
    if (entry.elements.size() == 4 && entry.elements[0].type == '$' && entry.elements[1].type == '$' &&
        entry.elements[2].type == ':') {
      entry.elements[2].integer = 0;
    }
  }
}

// Where the value of `key` is in a flattened map (RESP3 map, or a RESP2 array
// of pairs): its index, or 0 (a value is never at index 0).
size_t indexOfKey(const Value& entry, std::string_view key) {
  for (size_t i = 0; i + 1 < entry.elements.size(); i += 2) {
    if (kindOf(entry.elements[i]) == Kind::kString && stringOf(entry.elements[i]) == key) return i + 1;
  }
  return 0;
}

// FUNCTION LIST: a library lists its functions in the order of a dict, which
// differs between servers (the libraries themselves are compared as a set).
// Sorts each library's functions by name; other replies are left alone.
void sortLibraryFunctions(Value& reply) {
  for (Value& library : reply.elements) {
    if (!library.isAggregate()) continue;
    const size_t at = indexOfKey(library, "functions");
    if (at == 0 || !library.elements[at].isAggregate()) continue;
    auto nameOf = [](const Value& function) -> std::string_view {
      const size_t name = function.isAggregate() ? indexOfKey(function, "name") : 0;
      return name != 0 && kindOf(function.elements[name]) == Kind::kString ? stringOf(function.elements[name])
                                                                           : std::string_view();
    };
    std::vector<Value>& functions = library.elements[at].elements;
    std::stable_sort(functions.begin(), functions.end(),
                     [&](const Value& a, const Value& b) { return nameOf(a) < nameOf(b); });
  }
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
  // Replies with parts that legitimately differ: both normalised copies compared.
  void (*normalise)(Value&) = nullptr;
  if (pk == Kind::kArray && ck == Kind::kArray) {
    if (rules.pendingIdle) {
      normalise = clearIdleTimes;
    } else if (ctx.command == "function") {
      normalise = sortLibraryFunctions;
    }
  }
  if (normalise != nullptr) {
    Value primary = p;
    Value canary = c;
    normalise(primary);
    normalise(canary);
    return compareValues(ctx, primary, canary, rules.unordered, 0);
  }
  return compareValues(ctx, p, c, rules.unordered, 0);
}

bool isOneOf(std::string_view command, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), command) != names.end();
}

}  // namespace

const char* toString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kMatch:
      return "match";
    case Outcome::kValue:
      return "value";
    case Outcome::kType:
      return "type";
    case Outcome::kErrorCanaryOnly:
      return "error_canary_only";
    case Outcome::kErrorPrimaryOnly:
      return "error_primary_only";
    case Outcome::kErrorCode:
      return "error_code";
    case Outcome::kErrorText:
      return "error_text";
    case Outcome::kLostWrite:
      return "lost_write";
    case Outcome::kColdMiss:
      return "cold_miss";
  }
  return "unknown";
}

CompareRules rulesFor(std::string_view lowercaseCommand, bool tipUnordered,
                      bool tipNondeterministic, bool policyTypeOnly) {
  CompareRules rules;
  rules.command = lowercaseCommand;
  const std::string_view base = baseCommand(lowercaseCommand);
  rules.unordered = tipUnordered || isOneOf(base, {"smembers", "sinter", "sunion", "sdiff", "hkeys",
                                                   "hvals", "hgetall", "keys"});
  // Random picks, clocks, server state, encodings (OBJECT, MEMORY USAGE differ
  // between canaries configured with other encodings) and SCAN cursors.
  rules.typeOnly = tipNondeterministic || policyTypeOnly ||
                   isOneOf(base, {"randomkey", "srandmember", "hrandfield", "zrandmember", "spop",
                                  "time", "lastsave", "info", "memory", "object", "client", "debug",
                                  "scan", "sscan", "hscan", "zscan",
                                  // radix-tree sizes (encoding), seen/active/delivery times, idle times
                                  "xinfo"});
  rules.pendingIdle = base == "xpending";
  rules.ttlLike = isOneOf(base, {"ttl", "pttl", "expiretime", "pexpiretime"});
  rules.ttlInSeconds = base == "ttl" || base == "expiretime";
  return rules;
}

Comparison compare(const CompareRules& rules, const resp::Value& primary,
                   const resp::Value& canary) {
  try {
    return compareImpl(rules, primary, canary);
  } catch (...) {
    // Only allocation can fail; an incomplete comparison must not read as a match.
    return Comparison{Outcome::kValue, "comparison failed"};
  }
}

}  // namespace redmirror::diff
