#pragma once
// Shared by the files of the comparator (src/diff) only, not a public header:
// RESP values after RESP2/RESP3 folding (their kinds and scalar readings).
// Inline because the pairing of multiset members calls them for every member.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "redmirror/resp/limits.h"
#include "redmirror/resp/value.h"

namespace redmirror::diff::detail {

using resp::Value;

// Deeper than the parser allows (resp/limits.h): a guard, not a limit anyone reaches.
inline constexpr int kMaxDepth = static_cast<int>(resp::kMaxReplyDepth) + 1;

// RESP types after RESP2/RESP3 folding.
enum class Kind : uint8_t { kNull, kError, kInteger, kString, kDouble, kArray, kSet, kMap, kOther };

// The folded kind of each RESP type byte; kOther for the rest.
inline constexpr std::array<Kind, 256> kKindOfType = [] {
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

inline const char* kindName(Kind kind) {
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

inline bool isAggregateKind(Kind kind) {
  return kind == Kind::kArray || kind == Kind::kSet || kind == Kind::kMap;
}

// Same folded type: a double is a bulk string in RESP2, a set or a map an array.
inline bool typeCompatible(Kind a, Kind b) {
  if (a == b) return true;
  auto either = [&](Kind x, Kind y) { return (a == x && b == y) || (a == y && b == x); };
  return either(Kind::kString, Kind::kDouble) || either(Kind::kArray, Kind::kSet) ||
         either(Kind::kArray, Kind::kMap);
}

inline int64_t integerOf(const Value& v) {
  if (v.type == '#') return v.text == "t" ? 1 : 0;
  return v.integer;
}

// A string's payload: a verbatim string without its three-letter format and ':'.
inline std::string_view stringOf(const Value& v) {
  std::string_view text = v.text;
  if (v.type == '=' && text.size() >= 4 && text[3] == ':') text.remove_prefix(4);
  return text;
}

inline bool parseNumber(std::string_view text, double& out) {
  if (text.empty() || text.size() > 64) return false;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (*begin == '+') ++begin;  // from_chars (locale-independent strtod) refuses '+'
  if (begin == end) return false;
  const auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end;
}

inline bool numbersEqual(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  const double scale = std::max({1.0, std::fabs(a), std::fabs(b)});
  return std::fabs(a - b) <= 1e-9 * scale;
}

inline std::string_view errorCode(const Value& v) {
  std::string_view text = v.text;
  const size_t end = text.find_first_of(" \r\n");
  return end == std::string_view::npos ? text : text.substr(0, end);
}

}  // namespace redmirror::diff::detail
