// A canary's report counts comparisons by command: what REPORT's by_command
// shows an operator, including the "(other)" bucket past kMaxCommands names.
#include <gtest/gtest.h>

#include <string>

#include "redmirror/diff/report.h"

namespace redmirror::diff {
namespace {

Comparison match() { return Comparison{}; }
Comparison divergence() {
  Comparison result;
  result.outcome = Outcome::kValue;
  return result;
}

TEST(CanaryReportTest, CountsEachCommandUnderItsOwnNameWhenInterleaved) {
  CanaryReport report;
  for (int i = 0; i < 10; ++i) {
    report.recordComparison("get", match(), 100, 120, false, false);
    report.recordComparison("get", match(), 100, 120, false, false);
    report.recordComparison("set", i % 5 == 0 ? divergence() : match(), 100, 120, false, false);
  }
  const ReportData data = report.snapshot();
  ASSERT_EQ(data.byCommand.size(), 2u);
  EXPECT_EQ(data.byCommand.at("get").compared, 20u);
  EXPECT_EQ(data.byCommand.at("get").diverged, 0u);
  EXPECT_EQ(data.byCommand.at("set").compared, 10u);
  EXPECT_EQ(data.byCommand.at("set").diverged, 2u);
  EXPECT_EQ(data.compared, 30u);
  EXPECT_EQ(data.diverged, 2u);
}

TEST(CanaryReportTest, NamesPastTheLimitAreCountedUnderOtherAndKnownOnesStayApart) {
  CanaryReport report;
  for (size_t i = 0; i < CanaryReport::kMaxCommands; ++i) {
    report.recordComparison("cmd" + std::to_string(i), match(), 1, 1, false, false);
  }
  // New names go to "(other)", repeated or not; a known name keeps its own count.
  report.recordComparison("late1", match(), 1, 1, false, false);
  report.recordComparison("late1", divergence(), 1, 1, false, false);
  report.recordComparison("cmd7", match(), 1, 1, false, false);
  report.recordComparison("late2", match(), 1, 1, false, false);
  report.recordComparison("cmd7", match(), 1, 1, false, false);
  const ReportData data = report.snapshot();
  EXPECT_EQ(data.byCommand.count("late1"), 0u);
  EXPECT_EQ(data.byCommand.at("(other)").compared, 3u);
  EXPECT_EQ(data.byCommand.at("(other)").diverged, 1u);
  EXPECT_EQ(data.byCommand.at("cmd7").compared, 3u);
}

TEST(CanaryReportTest, ResetStartsAnEmptyWindow) {
  CanaryReport report;
  report.recordComparison("get", match(), 1, 1, false, false);
  report.reset();
  report.recordComparison("get", divergence(), 1, 1, false, false);
  const ReportData data = report.snapshot();
  EXPECT_EQ(data.compared, 1u);
  EXPECT_EQ(data.byCommand.at("get").compared, 1u);
  EXPECT_EQ(data.byCommand.at("get").diverged, 1u);
}

}  // namespace
}  // namespace redmirror::diff
