// Helpers for the mirroring integration tests: a primary, canaries and a proxy
// with an admin socket, admin commands, CANARY LIST parsing, catch-up waits and
// data comparison between two Redis servers.
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../harness.h"

namespace mirror_it {

using it::Ctx;
using it::Millis;
using it::Reply;

// Base fixture: mirroring needs the proxy, so REDMIRROR_IT_DIRECT=1 skips these tests.
class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (it::directMode()) GTEST_SKIP() << "mirroring needs the proxy (REDMIRROR_IT_DIRECT is set)";
  }
};

// redis-server arguments every test server gets (DEBUG DIGEST needs the debug command).
std::vector<std::string> serverArgs();

// Redis Cluster's key slot (CRC16 of the hash tag, mod 16384), computed independently of
// the proxy.
uint16_t keySlot(const std::string& key);

// One admin-socket client (hiredis over the Unix socket).
class Admin {
 public:
  // Waits (up to 10 s) until the socket accepts a connection.
  explicit Admin(std::string path);
  const std::string& path() const { return path_; }
  // Sends one command; reconnects once if the connection went away.
  Reply run(const std::vector<std::string>& args);
  // Runs the command and returns its status/bulk text, or "ERR:<message>" for an error.
  std::string text(const std::vector<std::string>& args);
  nlohmann::json canaryList();
  // The entry of one canary in CANARY LIST (null json when absent).
  nlohmann::json canary(const std::string& name);

 private:
  void connect();
  std::string path_;
  std::unique_ptr<redisContext, it::RedisContextDeleter> ctx_;
};

uint64_t dropsOf(const nlohmann::json& canary);

// A primary and `canaries` canary servers, and a proxy (--workers 2) mirroring to them.
struct Rig {
  struct Options {
    int canaries = 1;
    std::vector<std::string> percents = {"100"};  // per canary, --mirror NAME=P
    // When set: its text (given the canary ports) is written to a file and passed with
    // --config, and no --canary/--mirror flags are given.
    std::function<std::string(const std::vector<uint16_t>&)> yaml;
    unsigned workers = 2;
    std::vector<std::string> extraArgs;  // more proxy flags
  };
  Rig();
  explicit Rig(const Options& options);

  it::TempDir dir;
  std::unique_ptr<it::RedisServer> primary;
  std::vector<std::unique_ptr<it::RedisServer>> canaries;
  std::unique_ptr<it::Proxy> proxy;
  std::unique_ptr<Admin> admin;
  std::string adminPath;

  uint16_t proxyPort() const { return proxy->port(); }
  // Waits until every link of the named canary is up (true) or the timeout passes.
  bool waitLinksUp(const std::string& name, Millis timeout = Millis(10000));
};

// YAML for one canary "c1" at 127.0.0.1:port mirroring `percent`, with more of
// its settings in `extra` (indented lines, e.g. "    reply_timeout_ms: 300\n").
std::string oneCanaryYaml(uint16_t port, int percent, const std::string& extra = "");

// Until every link of canary `name` is up (connected and answering: a link
// takes mirrored commands only then). False after `timeout`.
bool waitLinksUp(Admin& admin, const std::string& name, Millis timeout = Millis(10000));

// REPORT of one canary, parsed (a gtest failure when it is not JSON).
nlohmann::json reportOf(Admin& admin, const std::string& canary = "c1");
// REPORT's skipped count for one reason (0 when absent).
long long skippedOf(const nlohmann::json& report, const std::string& reason);

// Connects (asserting success) to a port on 127.0.0.1.
Ctx connectOrDie(uint16_t port);

// Runs a command; records a gtest failure when there is no reply or, unless allowError,
// an error reply.
Reply run(redisContext* c, const std::vector<std::string>& args, bool allowError = false);
std::string str(const redisReply* r);

// Waits until the canary's mirrored and dropped counts have not changed for `quiet`.
void waitMirrorQuiet(Admin& admin, const std::string& name, Millis quiet = Millis(600),
                     Millis timeout = Millis(15000));

// Polls `check` (empty string = success) until it succeeds or the timeout passes; returns
// the last failure text (empty on success).
std::string eventually(const std::function<std::string()>& check, Millis timeout,
                       Millis interval = Millis(100));

// Compares database `db` of two servers key by key: same keys, same TYPE, same
// DEBUG DIGEST-VALUE, both persistent or both volatile with PTTL within ttlSlackMs.
// Returns "" when equal, otherwise a description of (up to 10) differences.
std::string compareDb(uint16_t primaryPort, uint16_t canaryPort, int db, long ttlSlackMs = 2000);

// PERSISTs every volatile key of databases 0..maxDb on a server (direct connection).
void persistAll(uint16_t port, int maxDb);

// DEBUG DIGEST of the whole dataset (all databases).
std::string digest(uint16_t port);

// All keys of database db (SCAN).
std::vector<std::string> keysOf(redisContext* c, int db);

// DBSIZE of database db.
long long dbsize(uint16_t port, int db = 0);

// Waits until the primary reports `n` blocked clients.
bool waitBlocked(uint16_t primaryPort, int n, Millis timeout = Millis(5000));

// VmRSS of a process in KiB (-1 on error).
long rssKiB(pid_t pid);

// Runs a shell command and returns its stdout.
std::string shell(const std::string& command, int* status = nullptr);

// Whether an executable is on PATH.
bool haveProgram(const std::string& name);

}  // namespace mirror_it
