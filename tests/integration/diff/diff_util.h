// Helpers for the diff integration tests: a primary and one canary started with their own
// redis-server arguments (encodings, eviction, renamed commands, passwords), a proxy
// mirroring to the canary with an admin socket, and REPORT polling.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../harness.h"
#include "../mirror/mirror_util.h"

namespace diff_it {

using it::Ctx;
using it::Millis;
using it::Reply;
using nlohmann::json;

// Diffing needs the proxy, so REDMIRROR_IT_DIRECT=1 skips these tests.
class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (it::directMode()) GTEST_SKIP() << "diffing needs the proxy (REDMIRROR_IT_DIRECT is set)";
  }
};

// A primary, one canary "c1" and a proxy (--workers 2) mirroring 100% to it.
struct DiffRig {
  struct Options {
    std::vector<std::string> primaryArgs;  // extra redis-server arguments
    std::vector<std::string> canaryArgs;
    std::vector<std::string> proxyArgs;    // extra redmirror arguments
    // When set: its text (given the canary port and the rig directory) is written to a file
    // and passed with --config, and no --canary/--mirror flags are given.
    std::function<std::string(uint16_t canaryPort, const it::TempDir& dir)> yaml;
    unsigned workers = 2;
  };
  explicit DiffRig(const Options& options);

  it::TempDir dir;
  std::unique_ptr<it::RedisServer> primary;
  std::unique_ptr<it::RedisServer> canary;
  std::unique_ptr<it::Proxy> proxy;
  std::unique_ptr<mirror_it::Admin> admin;
  std::string adminPath;

  uint16_t proxyPort() const { return proxy->port(); }
  // REPORT c1 parsed (a failure is recorded and an empty object returned when it is not JSON).
  json report(const std::string& canary = "c1");
  // Waits until mirrored and compared of REPORT have not changed for `quiet` (and, when
  // minCompared > 0, compared reached it). Returns the last report.
  json settle(uint64_t minCompared = 0, Millis quiet = Millis(800), Millis timeout = Millis(30000));
  // Polls REPORT until command_table.checked is true; returns the report.
  json waitCommandTableChecked(Millis timeout = Millis(20000));
};

// Number under divergences/skipped for a class (0 when absent).
uint64_t divergence(const json& report, const std::string& cls);
uint64_t skipped(const json& report, const std::string& reason);
// Short text of a report for assertion messages (counters and the first samples).
std::string summary(const json& report);

// Sends all commands pipelined (in batches) and returns the replies in order; a missing
// reply records a failure.
std::vector<Reply> pipeline(redisContext* c, const std::vector<std::vector<std::string>>& commands,
                            size_t batch = 500);

}  // namespace diff_it
