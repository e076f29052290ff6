#pragma once
// Compares a primary reply with a canary reply as RESP values, after
// normalising what Redis itself declares non-deterministic (DESIGN.md "Diff").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "redmirror/resp/value.h"

namespace redmirror::diff {

// Outcome of one comparison. kMatch is no divergence; the others are the
// divergence classes of DESIGN.md (names in toString()).
enum class Outcome : uint8_t {
  kMatch,
  kValue,             // same type, different value
  kType,              // different RESP type (after RESP2/RESP3 shape folding)
  kErrorCanaryOnly,   // canary answered an error, primary did not
  kErrorPrimaryOnly,  // primary answered an error, canary did not
  kErrorCode,         // both errors, different code (first word)
  kErrorText,         // both errors, same code, different text
  kLostWrite,         // canary has no value for a key the mirror wrote in this window
  kColdMiss,          // canary has no value for a key the mirror never wrote (predates mirroring)
};
inline constexpr size_t kOutcomeCount = static_cast<size_t>(Outcome::kColdMiss) + 1;

const char* toString(Outcome outcome);  // "match", "value", "type", "error_canary_only", ...

// How the command's reply must be compared.
struct CompareRules {
  std::string_view command;  // lowercase name, e.g. "hgetall"
  bool unordered = false;        // tip nondeterministic_output_order, or a known unordered reply
  bool typeOnly = false;         // tip nondeterministic_output, or policy type_only
  bool ttlLike = false;          // TTL, PTTL, EXPIRETIME, PEXPIRETIME: numeric tolerance
  int64_t ttlToleranceMs = 2000; // allowed |primary - canary| for ttlLike (seconds replies: ceil(ms/1000))
  bool ttlInSeconds = false;     // TTL / EXPIRETIME reply in seconds
  bool pendingIdle = false;      // XPENDING: entries' idle times (ms since delivery) are clocks
  // For lost_write / cold_miss: whether the mirror wrote the command's key to
  // this canary in the current window (a Bloom-filter answer, may be a false positive).
  bool keyWrittenByMirror = false;
};

// Rules for `command` from what the command table says plus the built-in list
// of unordered replies (SMEMBERS, SINTER, SUNION, SDIFF, HKEYS, HVALS, HGETALL,
// KEYS, ...) and TTL-like commands.
CompareRules rulesFor(std::string_view lowercaseCommand, bool tipUnordered, bool tipNondeterministic,
                      bool policyTypeOnly);

struct Comparison {
  Outcome outcome = Outcome::kMatch;
  std::string detail;  // short human-readable reason ("element 3 differs", "ERR vs WRONGTYPE")
};

// Compares two parsed replies. Never throws. RESP2 and RESP3 shapes of the same
// answer are equal (a RESP3 map vs a RESP2 flat array of pairs, a set vs an
// array, a double vs a bulk string holding the same number, null bulk/array vs
// RESP3 null, boolean vs integer 0/1, a verbatim string vs a bulk string).
Comparison compare(const CompareRules& rules, const resp::Value& primary, const resp::Value& canary);

}  // namespace redmirror::diff
