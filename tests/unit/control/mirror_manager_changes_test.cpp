// MirrorManager records every change in its journal before making it, refuses
// the change when the journal cannot record it, and applies a reload's canary
// changes at once.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "redmirror/control/mirror_manager.h"

namespace redmirror::control {
namespace {

class CountingSubscriber : public mirror::SettingsSubscriber {
 public:
  void publish(std::shared_ptr<const mirror::MirrorSettings> settings) override {
    latest = std::move(settings);
    ++published;
  }
  std::shared_ptr<const mirror::MirrorSettings> latest;
  int published = 0;
};

class FakeJournal : public ChangeJournal {
 public:
  std::string recordChange(const nlohmann::ordered_json& before, const nlohmann::ordered_json& after) override {
    if (!refusal.empty()) return refusal;
    records.push_back({before, after});
    return "";
  }
  std::string refusal;
  std::vector<std::pair<nlohmann::ordered_json, nlohmann::ordered_json>> records;
};

CanaryConfig canary(const std::string& name, uint16_t port, uint32_t hundredths) {
  CanaryConfig config;
  config.name = name;
  config.address = {"127.0.0.1", port};
  config.percentHundredths = hundredths;
  return config;
}

class MirrorManagerChangesTest : public ::testing::Test {
 protected:
  MirrorManagerChangesTest() {
    config_.primary = {"127.0.0.1", 7000};
    config_.canaries = {canary("c1", 7001, 1000), canary("c3", 7003, 100), canary("c4", 7004, 100)};
    manager_ = std::make_unique<MirrorManager>(config_, std::vector<mirror::SettingsSubscriber*>{&worker_});
    manager_->setJournal(&journal_);
  }

  std::map<std::string, const mirror::CanarySettings*> running() const {
    std::map<std::string, const mirror::CanarySettings*> out;
    for (const mirror::CanarySettings& c : worker_.latest->canaries) out[c.name] = &c;
    return out;
  }

  ProxyConfig config_;
  CountingSubscriber worker_;
  FakeJournal journal_;
  std::unique_ptr<MirrorManager> manager_;
};

TEST_F(MirrorManagerChangesTest, EachChangeIsRecordedBeforeAndAfter) {
  ASSERT_EQ(manager_->setPercent("c1", 2500), "");
  ASSERT_EQ(manager_->setPaused(true), "");
  ASSERT_EQ(manager_->addCanary("c9", "127.0.0.1:7009"), "");
  ASSERT_EQ(manager_->removeCanary("c3"), "");
  ASSERT_EQ(manager_->resetWindow("c1"), "");
  ASSERT_EQ(journal_.records.size(), 5u);
  EXPECT_EQ(journal_.records[0].first.dump(), R"({"canary":"c1","percent":10.0})");
  EXPECT_EQ(journal_.records[0].second.dump(), R"({"canary":"c1","percent":25.0})");
  EXPECT_EQ(journal_.records[1].first.dump(), R"({"paused":false})");
  EXPECT_EQ(journal_.records[1].second.dump(), R"({"paused":true})");
  EXPECT_TRUE(journal_.records[2].first.is_null());
  EXPECT_EQ(journal_.records[2].second.dump(), R"({"canary":"c9","address":"127.0.0.1:7009","percent":0.0})");
  EXPECT_EQ(journal_.records[3].first.dump(), R"({"canary":"c3","address":"127.0.0.1:7003","percent":1.0})");
  EXPECT_TRUE(journal_.records[3].second.is_null());
  EXPECT_TRUE(journal_.records[4].first["c1"].contains("window_seconds"));
  EXPECT_EQ(journal_.records[4].second.dump(), R"({"c1":{"window_seconds":0.0}})");
  // Refused commands change nothing and are not journaled as changes.
  EXPECT_NE(manager_->setPercent("nope", 1), "");
  EXPECT_NE(manager_->removeCanary("nope"), "");
  EXPECT_EQ(journal_.records.size(), 5u);
}

TEST_F(MirrorManagerChangesTest, ChangeTheJournalRefusesIsNotMade) {
  const int published = worker_.published;
  journal_.refusal = "the audit log cannot be written (disk full), nothing changed";
  EXPECT_EQ(manager_->setPercent("c1", 2500), journal_.refusal);
  EXPECT_EQ(manager_->setPaused(true), journal_.refusal);
  EXPECT_EQ(manager_->addCanary("c9", "127.0.0.1:7009"), journal_.refusal);
  EXPECT_EQ(manager_->removeCanary("c3"), journal_.refusal);
  EXPECT_EQ(manager_->resetWindow(""), journal_.refusal);
  CanaryChanges changes;
  changes.removed = {"c1"};
  EXPECT_EQ(manager_->applyCanaryChanges(changes), journal_.refusal);

  EXPECT_EQ(worker_.published, published) << "a refused change was published to the workers";
  EXPECT_FALSE(manager_->paused());
  const auto canaries = manager_->canaries();
  ASSERT_EQ(canaries.size(), 3u);
  EXPECT_EQ(canaries[0].name, "c1");
  EXPECT_EQ(canaries[0].percentHundredths, 1000u);
  EXPECT_EQ(canaries[1].name, "c3");
}

TEST_F(MirrorManagerChangesTest, ReloadAppliesAllChangesInOneSnapshot) {
  const auto before = running();
  const uint64_t c1Id = before.at("c1")->id;
  const uint64_t c4Id = before.at("c4")->id;
  ASSERT_EQ(manager_->setPercent("c4", 5000), "");  // set at run time
  const int published = worker_.published;
  journal_.records.clear();

  CanaryChanges changes;
  changes.removed = {"c3"};
  changes.added = {canary("c2", 7002, 10000)};
  changes.reweighted = {canary("c1", 7001, 2500)};
  changes.replaced = {canary("c4", 7014, 200)};
  ASSERT_EQ(manager_->applyCanaryChanges(changes), "");
  EXPECT_EQ(worker_.published, published + 1);
  ASSERT_EQ(journal_.records.size(), 1u);
  EXPECT_EQ(journal_.records[0].first.dump(),
            R"({"canaries":{"c1":{"address":"127.0.0.1:7001","percent":10.0},)"
            R"("c3":{"address":"127.0.0.1:7003","percent":1.0},"c4":{"address":"127.0.0.1:7004","percent":50.0}}})");
  EXPECT_EQ(journal_.records[0].second.dump(),
            R"({"canaries":{"c1":{"address":"127.0.0.1:7001","percent":25.0},)"
            R"("c4":{"address":"127.0.0.1:7014","percent":2.0},"c2":{"address":"127.0.0.1:7002","percent":100.0}}})");

  const auto after = running();
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after.count("c3"), 0u);
  EXPECT_EQ(after.at("c1")->id, c1Id) << "a re-weighted canary must keep its links";
  EXPECT_EQ(after.at("c1")->percentHundredths, 2500u);
  EXPECT_NE(after.at("c4")->id, c4Id) << "a canary at another address needs new links";
  EXPECT_EQ(after.at("c4")->address.port, 7014);
  EXPECT_EQ(after.at("c2")->percentHundredths, 10000u);
}

TEST_F(MirrorManagerChangesTest, ReloadOfACanaryRemovedAtRunTimeAddsItBack) {
  ASSERT_EQ(manager_->removeCanary("c1"), "");
  CanaryChanges changes;
  changes.reweighted = {canary("c1", 7001, 3000)};
  ASSERT_EQ(manager_->applyCanaryChanges(changes), "");
  ASSERT_EQ(running().count("c1"), 1u);
  EXPECT_EQ(running().at("c1")->percentHundredths, 3000u);
}

TEST_F(MirrorManagerChangesTest, UnreadableSecretRejectsTheWholeReloadNamingTheField) {
  const int published = worker_.published;
  CanaryChanges changes;
  changes.removed = {"c3"};
  CanaryConfig secret = canary("c2", 7002, 100);
  secret.password.file = "/nonexistent/redmirror/c2.pass";
  changes.added = {secret};
  const std::string error = manager_->applyCanaryChanges(changes);
  EXPECT_NE(error.find("canaries.c2.password"), std::string::npos) << error;
  EXPECT_EQ(worker_.published, published);
  EXPECT_TRUE(journal_.records.empty());
  EXPECT_EQ(running().count("c3"), 1u);
}

TEST_F(MirrorManagerChangesTest, ReloadCannotMakeThePrimaryACanary) {
  CanaryChanges changes;
  changes.added = {canary("c2", 7000, 100)};
  EXPECT_NE(manager_->applyCanaryChanges(changes).find("primary"), std::string::npos);
  EXPECT_EQ(running().count("c2"), 0u);
}

}  // namespace
}  // namespace redmirror::control
