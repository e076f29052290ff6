// Isolation: a canary stopped (SIGSTOP) or killed in the middle of load never affects the
// primary path: every reply correct and in order, drops counted, the proxy's memory
// within the canary's byte budget, and mirroring resumes by itself when it returns.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class MirrorIsolation : public MirrorTest {};

using Clock = std::chrono::steady_clock;

constexpr long kBudgetKiB = 16 * 1024;  // the default queue_budget_bytes
constexpr long kSlackKiB = 32 * 1024;

// Several client threads, each pipelining SET/GET pairs on its own keys and checking that
// every GET returns the value its SET just wrote.
class Load {
 public:
  Load(uint16_t port, int threads) {
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this, port, t] { body(port, t); });
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& th : threads_) {
      if (th.joinable()) th.join();
    }
  }
  uint64_t ops() const { return ops_.load(); }
  uint64_t errors() const { return errors_.load(); }
  std::string firstError() {
    std::lock_guard<std::mutex> lock(mutex_);
    return firstError_;
  }

 private:
  void fail(const std::string& what) {
    if (errors_++ == 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      firstError_ = what;
    }
  }
  void body(uint16_t port, int id) {
    Ctx c = it::connectRedis(port, Millis(10000));
    if (!c || c->err) {
      fail("connect failed");
      return;
    }
    const std::string padding(200, 'p');
    constexpr int kPairs = 100;
    for (uint64_t iteration = 0; !stop_; ++iteration) {
      std::vector<std::string> keys, vals;
      for (int j = 0; j < kPairs; ++j) {
        keys.push_back("load:" + std::to_string(id) + ":" + std::to_string((iteration * kPairs + j) % 2000));
        vals.push_back(std::to_string(iteration) + ":" + std::to_string(j) + ":" + padding);
        redisAppendCommand(c.get(), "SET %b %b", keys[j].data(), keys[j].size(), vals[j].data(), vals[j].size());
        redisAppendCommand(c.get(), "GET %b", keys[j].data(), keys[j].size());
      }
      for (int j = 0; j < kPairs; ++j) {
        Reply set = it::getReply(c.get());
        Reply get = it::getReply(c.get());
        if (!set || set->type != REDIS_REPLY_STATUS || str(set.get()) != "OK") {
          fail("SET " + keys[j] + " -> " + it::describe(set.get()));
          return;
        }
        if (!get || get->type != REDIS_REPLY_STRING || str(get.get()) != vals[j]) {
          fail("GET " + keys[j] + " -> " + it::describe(get.get()).substr(0, 60) + ", expected " +
               vals[j].substr(0, 20));
          return;
        }
        ops_ += 2;
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> ops_{0};
  std::atomic<uint64_t> errors_{0};
  std::mutex mutex_;
  std::string firstError_;
  std::vector<std::thread> threads_;
};

// Sends SIGCONT on scope exit, so that a failed assertion does not leave a stopped server.
struct Continue {
  pid_t pid;
  ~Continue() {
    if (pid > 0) kill(pid, SIGCONT);
  }
};

enum class Outage { kStopped, kKilled };

void runOutage(Outage outage) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1")) << s.admin->canaryList().dump();
  const pid_t proxyPid = s.proxy->pid();
  const pid_t canaryPid = s.canaries[0]->pid();
  Continue guard{outage == Outage::kStopped ? canaryPid : -1};

  Load load(s.proxyPort(), 4);
  std::this_thread::sleep_for(Millis(1000));
  ASSERT_EQ(load.errors(), 0u) << load.firstError();
  const long baseline = rssKiB(proxyPid);
  ASSERT_GT(baseline, 0);
  const uint64_t mirroredBefore = s.admin->canary("c1").value("mirrored", 0ULL);
  EXPECT_GT(mirroredBefore, 0u);

  kill(canaryPid, outage == Outage::kStopped ? SIGSTOP : SIGKILL);
  const uint64_t opsAtOutage = load.ops();
  long peak = baseline;
  const auto until = Clock::now() + Millis(4500);
  while (Clock::now() < until) {
    peak = std::max(peak, rssKiB(proxyPid));
    std::this_thread::sleep_for(Millis(50));
  }
  const uint64_t opsDuringOutage = load.ops() - opsAtOutage;
  load.stop();
  EXPECT_EQ(load.errors(), 0u) << "primary path broken while the canary was down: " << load.firstError();
  EXPECT_GT(opsDuringOutage, 2000u) << "the primary path stalled while the canary was down";
  if (!kSanitizedBuild) {
    EXPECT_LT(peak, baseline + kBudgetKiB + kSlackKiB)
      << "proxy RSS grew from " << baseline << " KiB to " << peak << " KiB";
  }
  const auto down = s.admin->canary("c1");
  EXPECT_GT(dropsOf(down), 0u) << "no drops counted: " << down.dump();
  ASSERT_TRUE(s.proxy->alive()) << s.proxy->stderrText();
  std::cout << "[ info ] ops during outage " << opsDuringOutage << ", RSS baseline " << baseline
            << " KiB, peak " << peak << " KiB; " << down.dump() << std::endl;

  // The canary comes back: mirroring resumes by itself.
  const auto back = Clock::now();
  if (outage == Outage::kStopped) {
    kill(canaryPid, SIGCONT);
  } else {
    s.canaries[0]->stop();   // reaps the killed process
    s.canaries[0]->start();  // same port
  }
  ASSERT_TRUE(s.waitLinksUp("c1", Millis(35000))) << "links not back: " << s.admin->canary("c1").dump();
  const uint64_t mirroredBack = s.admin->canary("c1").value("mirrored", 0ULL);
  Ctx client = connectOrDie(s.proxyPort());
  Ctx canary = connectOrDie(s.canaries[0]->port());
  int n = 0;
  const std::string failure = eventually(
      [&]() -> std::string {
        // Keep writing new keys: the first ones may meet a link that is still recovering.
        const std::string key = "resumed:" + std::to_string(n++);
        Reply set = run(client.get(), {"SET", key, "v"});
        if (str(set.get()) != "OK") return "SET failed";
        std::this_thread::sleep_for(Millis(100));
        return str(run(canary.get(), {"EXISTS", key}).get()) == "1" ? "" : "not on the canary";
      },
      Millis(35000), Millis(200));
  EXPECT_EQ(failure, "") << "mirroring did not resume: " << s.admin->canary("c1").dump();
  EXPECT_GT(s.admin->canary("c1").value("mirrored", 0ULL), mirroredBack);
  std::cout << "[ info ] mirroring resumed "
            << std::chrono::duration_cast<Millis>(Clock::now() - back).count() << " ms after the canary returned"
            << std::endl;
  // The primary's data is intact and reads still work through the proxy.
  EXPECT_EQ(str(run(client.get(), {"PING"}).get()), "PONG");
}

// The byte budget bounds everything the proxy keeps for a canary that does not answer,
// including the primary's replies held for comparison: with a 4 MiB budget and small GETs
// whose replies are 4 KiB, the proxy must not keep hundreds of MiB.
TEST_F(MirrorIsolation, StoppedCanaryMemoryBoundedByBudgetWithLargeReadReplies) {
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) {
    return oneCanaryYaml(ports[0], 100, "    queue_budget_bytes: 4194304\n");
  };
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  constexpr int kKeys = 1000;
  const std::string value(4096, 'v');
  {
    Ctx primary = connectOrDie(s.primary->port());
    for (int i = 0; i < kKeys; ++i) run(primary.get(), {"SET", "big:" + std::to_string(i), value});
  }
  const pid_t canaryPid = s.canaries[0]->pid();
  Continue guard{canaryPid};
  const long baseline = rssKiB(s.proxy->pid());
  kill(canaryPid, SIGSTOP);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> gets{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      Ctx c = it::connectRedis(s.proxyPort());
      for (int round = 0; !stop; ++round) {
        for (int j = 0; j < 200; ++j) redisAppendCommand(c.get(), "GET big:%d", (round * 200 + j + t * 77) % kKeys);
        for (int j = 0; j < 200; ++j) {
          Reply r = it::getReply(c.get());
          if (!r || r->type != REDIS_REPLY_STRING || r->len != value.size()) {
            ++wrong;
            return;
          }
          ++gets;
        }
      }
    });
  }
  const long limit = baseline + 4 * 1024 + kSlackKiB;
  long peak = baseline;
  const auto until = Clock::now() + Millis(4000);
  // Stops early once the limit is clearly passed, so that a failure does not eat the
  // machine's memory.
  while (Clock::now() < until && peak < limit + 128 * 1024) {
    peak = std::max(peak, rssKiB(s.proxy->pid()));
    std::this_thread::sleep_for(Millis(20));
  }
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0u);
  const auto status = s.admin->canary("c1");
  std::cout << "[ info ] " << gets.load() << " GETs while stopped, RSS baseline " << baseline << " KiB, peak "
            << peak << " KiB; " << status.dump() << std::endl;
  if (!kSanitizedBuild) {
    EXPECT_LT(peak, limit)
      << "with a 4 MiB budget the proxy's RSS grew from " << baseline << " KiB to " << peak << " KiB";
  }
}

// A stopped canary's kernel still completes TCP handshakes: a reconnected link
// must not count as up (nor take mirrored commands, which would cost the proxy
// as much as a healthy canary until the reply timeout) before the canary answers.
TEST_F(MirrorIsolation, StoppedCanaryIsNotTakenForUpAfterReconnecting) {
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) {
    return oneCanaryYaml(ports[0], 100, "    reply_timeout_ms: 300\n");
  };
  options.workers = 1;  // one link: idle links are not found dead (nothing of theirs times out)
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  const pid_t canaryPid = s.canaries[0]->pid();
  Continue guard{canaryPid};
  kill(canaryPid, SIGSTOP);
  Ctx c = connectOrDie(s.proxyPort());
  // Until the reply timeout takes the links down.
  const std::string down = eventually(
      [&]() -> std::string {
        if (str(run(c.get(), {"SET", "probe", "1"}).get()) != "OK") return "SET through the proxy failed";
        const auto status = s.admin->canary("c1");
        return status.value("links_up", -1) == 0 ? "" : "links_up " + std::to_string(status.value("links_up", -1));
      },
      Millis(10000));
  ASSERT_EQ(down, "");
  const auto before = s.admin->canary("c1");
  // Reconnects (back-off 100, 200, 400 ms, each given 300 ms to answer) while
  // commands keep coming: none may find a link up.
  int sawUp = 0;
  for (int i = 0; i < 60; ++i) {
    for (int j = 0; j < 20; ++j) {
      ASSERT_EQ(str(run(c.get(), {"SET", "k:" + std::to_string(i * 20 + j), "v"}).get()), "OK");
    }
    sawUp += s.admin->canary("c1").value("links_up", 0) > 0;
    std::this_thread::sleep_for(Millis(25));
  }
  const auto after = s.admin->canary("c1");
  EXPECT_EQ(sawUp, 0) << after.dump();
  EXPECT_EQ(after.value("mirrored", 0ULL), before.value("mirrored", 0ULL)) << after.dump();
  EXPECT_GE(after["dropped"].value("disconnected", 0ULL), before["dropped"].value("disconnected", 0ULL) + 1200)
    << after.dump();
  // Back: the links answer their PING and mirroring resumes by itself.
  kill(canaryPid, SIGCONT);
  ASSERT_TRUE(s.waitLinksUp("c1", Millis(15000))) << s.admin->canary("c1").dump();
  ASSERT_EQ(str(run(c.get(), {"SET", "after", "resume"}).get()), "OK");
  EXPECT_EQ(eventually(
                [&]() -> std::string {
                  Ctx canary = connectOrDie(s.canaries[0]->port());
                  return str(run(canary.get(), {"GET", "after"}).get()) == "resume" ? "" : "not on the canary yet";
                },
                Millis(5000)),
            "");
}

TEST_F(MirrorIsolation, CanaryStoppedUnderLoad) { runOutage(Outage::kStopped); }

TEST_F(MirrorIsolation, CanaryKilledUnderLoadAndRestarted) { runOutage(Outage::kKilled); }

}  // namespace
}  // namespace mirror_it
