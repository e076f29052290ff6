// The rules per command: which replies are compared by type only, as TTLs, as
// multisets or after normalising; a missing value told from a different one.
// The folding comparison itself is value_compare.cpp.
#include "redmirror/diff/comparator.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "missing_value.h"
#include "reply_normalise.h"
#include "value_compare.h"
#include "value_kind.h"

namespace redmirror::diff {

using namespace detail;  // NOLINT(google-build-using-namespace): the comparator's own helpers

namespace {

// Commands whose replies are doubles (RESP2: bulk strings): compared numerically
// even bulk against bulk, since the formatting of a double is not its value.
bool isNumericCommand(std::string_view c) {
  return c == "zscore" || c == "zmscore" || c == "zincrby" || c == "zadd" || c == "incrbyfloat" ||
         c == "hincrbyfloat" || c == "geodist" || c == "geopos";
}

// The container name of "object|encoding" or "object encoding".
std::string_view baseCommand(std::string_view command) {
  const size_t end = command.find_first_of("| ");
  return end == std::string_view::npos ? command : command.substr(0, end);
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
  if (pk == Kind::kError || ck == Kind::kError) return compareErrors(p, c);
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
