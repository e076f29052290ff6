#include "multiset_pairing.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "byte_words.h"
#include "redmirror/resp/limits.h"
#include "value_kind.h"

namespace redmirror::diff::detail {

namespace {

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

}  // namespace

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

}  // namespace redmirror::diff::detail
