#pragma once
// The verdict on one canary over its comparison window (DESIGN.md "Verdict"):
// pending until a judge can decide, then pass, marginal or fail with reasons.
// One value type, one JSON shape (VERDICT, GET /verdict, the gates, the
// metrics' redmirror_verdict gauge and the status page all show it), and a
// Judge interface, so that the thresholds of the verdict work replace only the
// judge.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "redmirror/diff/report.h"

namespace redmirror::verdict {

enum class Decision : uint8_t { kPending, kPass, kMarginal, kFail };
inline constexpr std::array<Decision, 4> kDecisions = {Decision::kPending, Decision::kPass, Decision::kMarginal,
                                                       Decision::kFail};
const char* toString(Decision decision);  // "pending", "pass", "marginal", "fail"

struct Verdict {
  std::string canary;
  Decision decision = Decision::kPending;
  std::optional<double> score;  // 0..1, higher is better; none while pending
  uint64_t compared = 0;        // comparisons in the window
  std::vector<std::string> reasons;
  int64_t sinceUnixMs = 0;      // when the window began (start, CANARY ADD or RESET)

  bool pass() const { return decision == Decision::kPass; }
};

// What a judge sees of one canary: its comparison window, merged over the
// workers (what REPORT shows).
struct Evidence {
  const std::string& canary;
  int64_t sinceUnixMs;
  double windowSeconds;
  const diff::ReportData& window;
};

class Judge {
 public:
  virtual ~Judge() = default;
  virtual Verdict judge(const Evidence& evidence) const = 0;
};

// Until the verdict's thresholds are built: always pending, "no judge yet",
// with the window's real comparison count and start.
class PendingJudge final : public Judge {
 public:
  Verdict judge(const Evidence& evidence) const override;
};

// {"canary","verdict","pass","score","compared","reasons","since"} in this
// order; score is null while pending, since is Unix milliseconds.
nlohmann::ordered_json toJson(const Verdict& verdict);

}  // namespace redmirror::verdict
