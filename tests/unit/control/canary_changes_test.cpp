// What a reloaded file changes about the canaries, against the file loaded before.
#include <gtest/gtest.h>

#include "redmirror/control/canary_changes.h"

namespace redmirror::control {
namespace {

CanaryConfig canary(const std::string& name, uint16_t port, uint32_t hundredths) {
  CanaryConfig config;
  config.name = name;
  config.address = {"127.0.0.1", port};
  config.percentHundredths = hundredths;
  return config;
}

std::vector<std::string> names(const std::vector<CanaryConfig>& canaries) {
  std::vector<std::string> out;
  for (const CanaryConfig& c : canaries) out.push_back(c.name);
  return out;
}

TEST(CanaryChangesTest, SameFileChangesNothing) {
  const std::vector<CanaryConfig> file = {canary("c1", 7001, 1000), canary("c2", 7002, 0)};
  const CanaryChanges changes = planCanaryChanges(file, file);
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(changes.summary(file), "no canary changed");
}

TEST(CanaryChangesTest, AddsRemovesReweightsReplaces) {
  const std::vector<CanaryConfig> before = {canary("c1", 7001, 1000), canary("c2", 7002, 500),
                                            canary("c3", 7003, 100), canary("c4", 7004, 100)};
  CanaryConfig moved = canary("c3", 7013, 100);
  CanaryConfig authed = canary("c4", 7004, 100);
  authed.password.file = "/etc/redmirror/c4.pass";
  const std::vector<CanaryConfig> after = {canary("c1", 7001, 2550), moved, authed, canary("c5", 7005, 10000)};
  const CanaryChanges changes = planCanaryChanges(before, after);
  EXPECT_EQ(changes.removed, (std::vector<std::string>{"c2"}));
  EXPECT_EQ(names(changes.added), (std::vector<std::string>{"c5"}));
  EXPECT_EQ(names(changes.replaced), (std::vector<std::string>{"c3", "c4"}));
  EXPECT_EQ(names(changes.reweighted), (std::vector<std::string>{"c1"}));
  EXPECT_EQ(changes.reweighted[0].percentHundredths, 2550u);
  EXPECT_EQ(changes.summary(before), "added c5 (100%); replaced c3, c4; re-weighted c1 (10% -> 25.50%); removed c2");
}

TEST(CanaryChangesTest, LimitsOrCredentialsMeanAnotherConnection) {
  CanaryConfig base = canary("c1", 7001, 100);
  CanaryConfig other = base;
  EXPECT_TRUE(sameConnection(base, other));
  other.percentHundredths = 9999;
  EXPECT_TRUE(sameConnection(base, other));
  other = base;
  other.queueBudgetBytes = 1;
  EXPECT_FALSE(sameConnection(base, other));
  other = base;
  other.replyTimeoutMs = 1;
  EXPECT_FALSE(sameConnection(base, other));
  other = base;
  other.username = "u";
  EXPECT_FALSE(sameConnection(base, other));
  other = base;
  other.password.env = "PASS";
  EXPECT_FALSE(sameConnection(base, other));
  other = base;
  other.address.host = "127.0.0.2";
  EXPECT_FALSE(sameConnection(base, other));
}

}  // namespace
}  // namespace redmirror::control
