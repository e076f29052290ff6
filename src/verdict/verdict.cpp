#include "redmirror/verdict/verdict.h"

namespace redmirror::verdict {

const char* toString(Decision decision) {
  switch (decision) {
    case Decision::kPending:
      return "pending";
    case Decision::kPass:
      return "pass";
    case Decision::kMarginal:
      return "marginal";
    case Decision::kFail:
      return "fail";
  }
  return "pending";
}

Verdict PendingJudge::judge(const Evidence& evidence) const {
  Verdict verdict;
  verdict.canary = evidence.canary;
  verdict.compared = evidence.window.compared;
  verdict.sinceUnixMs = evidence.sinceUnixMs;
  verdict.reasons.emplace_back("no judge yet");
  return verdict;
}

nlohmann::ordered_json toJson(const Verdict& verdict) {
  nlohmann::ordered_json reasons = nlohmann::ordered_json::array();
  for (const std::string& reason : verdict.reasons) reasons.push_back(reason);
  return nlohmann::ordered_json{
      {"canary", verdict.canary},
      {"verdict", toString(verdict.decision)},
      {"pass", verdict.pass()},
      {"score", verdict.score ? nlohmann::ordered_json(*verdict.score) : nlohmann::ordered_json(nullptr)},
      {"compared", verdict.compared},
      {"reasons", reasons},
      {"since", verdict.sinceUnixMs},
  };
}

}  // namespace redmirror::verdict
