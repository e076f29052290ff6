// The verdict's JSON shape (DESIGN.md) and the judge that stands in until
// thresholds exist.
#include <gtest/gtest.h>

#include "redmirror/verdict/verdict.h"

namespace redmirror::verdict {
namespace {

TEST(VerdictJson, KeysInTheContractOrderAndPendingHasNoScore) {
  Verdict verdict;
  verdict.canary = "c1";
  verdict.compared = 42;
  verdict.reasons = {"no judge yet"};
  verdict.sinceUnixMs = 1700000000123;
  EXPECT_EQ(toJson(verdict).dump(), R"({"canary":"c1","verdict":"pending","pass":false,"score":null,)"
                                    R"("compared":42,"reasons":["no judge yet"],"since":1700000000123})");
}

TEST(VerdictJson, OnlyPassPasses) {
  Verdict verdict;
  verdict.canary = "c1";
  verdict.score = 0.5;
  for (Decision decision : kDecisions) {
    verdict.decision = decision;
    const auto json = toJson(verdict);
    EXPECT_EQ(json["verdict"], toString(decision));
    EXPECT_EQ(json["pass"], decision == Decision::kPass) << toString(decision);
    EXPECT_EQ(json["score"], 0.5);
    EXPECT_TRUE(json["reasons"].is_array());
  }
  EXPECT_STREQ(toString(Decision::kMarginal), "marginal");
  EXPECT_STREQ(toString(Decision::kFail), "fail");
}

TEST(PendingJudge, PendingWithTheWindowsRealCountAndStart) {
  diff::ReportData window;
  window.compared = 1234;
  window.diverged = 1000;  // however bad: no judge yet
  const std::string name = "c2";
  const Verdict verdict = PendingJudge().judge(Evidence{name, 1700000000999, 30.0, window});
  EXPECT_EQ(verdict.canary, "c2");
  EXPECT_EQ(verdict.decision, Decision::kPending);
  EXPECT_FALSE(verdict.pass());
  EXPECT_FALSE(verdict.score.has_value());
  EXPECT_EQ(verdict.compared, 1234u);
  EXPECT_EQ(verdict.sinceUnixMs, 1700000000999);
  EXPECT_EQ(verdict.reasons, std::vector<std::string>{"no judge yet"});
}

}  // namespace
}  // namespace redmirror::verdict
