#include "missing_value.h"

#include <algorithm>
#include <string_view>

#include "value_compare.h"
#include "value_kind.h"

namespace redmirror::diff::detail {

namespace {

// Commands answering 0 (an integer) for a key that does not exist.
bool isExistenceCommand(std::string_view c) {
  return c == "exists" || c == "scard" || c == "llen" || c == "hlen" || c == "zcard" ||
         c == "strlen" || c == "xlen" || c == "hexists" || c == "sismember" || c == "hstrlen";
}

// A value the primary holds: data, not a status reply, not an empty aggregate.
bool holdsValue(const Value& v) {
  const Kind kind = kindOf(v);
  if (kind == Kind::kNull || kind == Kind::kError || kind == Kind::kOther) return false;
  if (v.type == '+') return false;
  if (isAggregateKind(kind)) return !v.elements.empty();
  return true;
}

}  // namespace

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

}  // namespace redmirror::diff::detail
