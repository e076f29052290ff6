// SIGHUP reloads under load: a client pipelines SET/GET through the proxy
// without pause while a good file (c1 re-weighted, c2 added) and then a bad one
// are loaded. The client must see no error and every reply correct; the bad
// file must leave the running configuration as the good one set it.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class ReloadUnderLoad : public MirrorTest {};

std::string entry(const std::string& name, uint16_t port, const std::string& percent) {
  return "  - name: " + name + "\n    address: 127.0.0.1:" + std::to_string(port) + "\n    percent: " + percent + "\n";
}

// Pipelines batches of SET k v / GET k through one connection until stopped,
// checking every reply.
class LoadClient {
 public:
  explicit LoadClient(uint16_t port) : ctx_(connectOrDie(port)) {
    const timeval timeout{30, 0};  // a stuck proxy fails the test instead of hanging it
    redisSetTimeout(ctx_.get(), timeout);
    thread_ = std::thread([this] { loop(); });
  }
  ~LoadClient() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t rounds() const { return rounds_; }
  uint64_t replies() const { return replies_; }
  uint64_t errors() const { return errors_; }
  std::string firstError() {
    std::lock_guard<std::mutex> lock(mutex_);
    return firstError_;
  }
  // Waits until `more` further batches completed (false after the timeout or on an error).
  bool waitRounds(uint64_t more, Millis timeout = Millis(30000)) {
    const uint64_t target = rounds_ + more;
    return eventually([&]() -> std::string { return rounds_ >= target || errors_ > 0 ? "" : "slow"; }, timeout)
               .empty() &&
           errors_ == 0;
  }

 private:
  static constexpr int kBatch = 50;
  void fail(const std::string& what) {
    ++errors_;
    std::lock_guard<std::mutex> lock(mutex_);
    if (firstError_.empty()) firstError_ = what;
  }
  void loop() {
    redisContext* c = ctx_.get();
    for (uint64_t round = 0; !stop_ && errors_ == 0; ++round) {
      for (int i = 0; i < kBatch; ++i) {
        const std::string key = "load:" + std::to_string(round % 20) + ":" + std::to_string(i);
        const std::string value = "v" + std::to_string(round) + ":" + std::to_string(i);
        redisAppendCommand(c, "SET %s %s", key.c_str(), value.c_str());
        redisAppendCommand(c, "GET %s", key.c_str());
      }
      for (int i = 0; i < kBatch; ++i) {
        const std::string value = "v" + std::to_string(round) + ":" + std::to_string(i);
        Reply set = it::getReply(c);
        if (!set || set->type != REDIS_REPLY_STATUS || str(set.get()) != "OK") {
          fail("round " + std::to_string(round) + " SET: " + it::describe(set.get()));
          return;
        }
        Reply get = it::getReply(c);
        if (!get || get->type != REDIS_REPLY_STRING || str(get.get()) != value) {
          fail("round " + std::to_string(round) + " GET: " + it::describe(get.get()) + ", expected " + value);
          return;
        }
        replies_ += 2;
      }
      ++rounds_;
    }
  }

  Ctx ctx_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> rounds_{0};
  std::atomic<uint64_t> replies_{0};
  std::atomic<uint64_t> errors_{0};
  std::mutex mutex_;
  std::string firstError_;
};

TEST_F(ReloadUnderLoad, GoodThenBadFileWithoutAClientError) {
  it::TempDir dir;
  const std::string auditPath = dir.file("audit.jsonl");
  it::RedisServer c2(serverArgs());
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) { return oneCanaryYaml(ports[0], 100); };
  options.extraArgs = {"--audit-log", auditPath};
  Rig s(options);
  const std::string yamlPath = s.dir.file("redmirror.yaml");
  const uint16_t c1Port = s.canaries[0]->port();
  ASSERT_TRUE(s.waitLinksUp("c1"));

  LoadClient load(s.proxyPort());
  ASSERT_TRUE(load.waitRounds(5)) << load.firstError();

  // The good file: c1 to 50%, c2 added at 100%.
  std::ofstream(yamlPath) << "canaries:\n" + entry("c1", c1Port, "50") + entry("c2", c2.port(), "100");
  s.proxy->signal(SIGHUP);
  const nlohmann::json reloaded = nlohmann::json::parse(R"({"c1":50.0,"c2":100.0})");
  EXPECT_EQ(eventually(
                [&]() -> std::string {
                  const auto state = nlohmann::json::parse(s.admin->text({"MIRROR", "GET"}), nullptr, false);
                  return state.is_object() && state["canaries"] == reloaded ? "" : state.dump();
                },
                Millis(15000)),
            "");
  ASSERT_TRUE(s.waitLinksUp("c2"));
  ASSERT_TRUE(load.waitRounds(5)) << load.firstError();
  // The client's traffic reaches the new canary and compares there.
  EXPECT_EQ(eventually([&]() -> std::string {
              return reportOf(*s.admin, "c2").value("compared", 0) > 0 ? "" : "c2 compared nothing";
            }, Millis(15000)),
            "");

  // The bad file: a percent out of range, and a canary c3 that must not appear.
  std::ofstream(yamlPath) << "canaries:\n" + entry("c1", c1Port, "250") + entry("c2", c2.port(), "100") +
                                 entry("c3", c2.port(), "5");
  s.proxy->signal(SIGHUP);
  EXPECT_EQ(eventually(
                [&]() -> std::string {
                  return s.proxy->stderrText().find("rejected, the running configuration stays") != std::string::npos
                             ? ""
                             : "no rejection logged";
                },
                Millis(15000)),
            "")
      << s.proxy->stderrText();
  ASSERT_TRUE(load.waitRounds(5)) << load.firstError();
  load.stop();

  EXPECT_EQ(load.errors(), 0u) << load.firstError();
  EXPECT_GE(load.rounds(), 15u);
  EXPECT_EQ(load.replies(), load.rounds() * 100);
  const auto state = nlohmann::json::parse(s.admin->text({"MIRROR", "GET"}), nullptr, false);
  EXPECT_EQ(state["canaries"], reloaded) << state.dump();
  EXPECT_TRUE(s.admin->canary("c3").is_null());
  EXPECT_EQ(s.admin->canary("c2").value("links_up", 0), s.admin->canary("c2").value("links_total", -1));

  std::vector<std::string> results;
  std::ifstream in(auditPath);
  for (std::string line; std::getline(in, line);) {
    results.push_back(nlohmann::json::parse(line, nullptr, false).value("result", "?"));
  }
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0], "ok");
  EXPECT_EQ(results[1].rfind("rejected: field 'canaries[0].percent'", 0), 0u) << results[1];
  EXPECT_TRUE(s.proxy->alive());
}

}  // namespace
}  // namespace mirror_it
