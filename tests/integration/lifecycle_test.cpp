// Connection and process life cycle: clients vanishing mid-pipeline (no fd leak), the
// primary going away and coming back, graceful shutdown, configuration errors.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"

namespace it {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> modeArgs(bool observe) {
  return observe ? std::vector<std::string>{} : std::vector<std::string>{"--no-observe"};
}

// Waits up to timeout for the proxy's fd count to come back to `baseline`; returns the last count.
int waitForFds(pid_t pid, int baseline, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  int count = countFds(pid);
  while (count != baseline && Clock::now() < deadline) {
    std::this_thread::sleep_for(Millis(20));
    count = countFds(pid);
  }
  return count;
}

bool pingOk(uint16_t port) {
  RawClient c(port);
  return c.connected() && c.sendAll("PING\r\n") && c.readReply() == std::optional<std::string>("+PONG\r\n");
}

class Lifecycle : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Modes, Lifecycle, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "observe" : "no_observe"; });

TEST_P(Lifecycle, ClientDisconnectingMidPipelineLeaksNothing) {
  if (directMode()) GTEST_SKIP() << "needs the proxy process";
  RedisServer redis;
  Proxy proxy(redis.port(), modeArgs(GetParam()));
  ASSERT_TRUE(pingOk(proxy.port()));
  const int baseline = waitForFds(proxy.pid(), -2, Millis(300));  // settle
  ASSERT_GT(baseline, 0);
  {
    Ctx c = connectRedis(redis.port());
    ASSERT_TRUE(c && !c->err);
    const std::string big(16384, 'v');
    ASSERT_EQ(describe(command(c.get(), "SET big %b", big.data(), big.size()).get()), "+OK");
  }
  // Several clients each write a pipeline of 10,000 commands and close without reading.
  std::string small, large;
  for (int i = 0; i < 10000; ++i) {
    small += cmd({"INCR", "ctr"});
    large += cmd({"GET", "big"});  // ~160 MB of replies toward a client that is gone
  }
  for (int round = 0; round < 3; ++round) {
    RawClient a(proxy.port()), b(proxy.port());
    ASSERT_TRUE(a.connected() && b.connected());
    ASSERT_TRUE(a.sendAll(small));
    ASSERT_TRUE(b.sendAll(large.substr(0, large.size() / 2)));
    a.close();
    b.close();
  }
  // One that closes with a half-written command, and one that resets (SO_LINGER 0).
  {
    RawClient c(proxy.port());
    ASSERT_TRUE(c.sendAll(small + "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc"));
    c.close();
    RawClient r(proxy.port());
    ASSERT_TRUE(r.sendAll(large.substr(0, 100000)));
    linger l{1, 0};
    setsockopt(r.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    r.close();
  }
  const int after = waitForFds(proxy.pid(), baseline, Millis(5000));
  EXPECT_EQ(after, baseline) << "proxy fds did not return to baseline";
  EXPECT_TRUE(pingOk(proxy.port()));
  // Redis sees only our probe connection eventually (the proxy closed its
  // upstreams), besides the proxy's own named control connection.
  Ctx c = connectRedis(redis.port());
  ASSERT_TRUE(c && !c->err);
  Reply clients;
  auto sessionLines = [&] {
    std::istringstream lines(std::string(clients->str, clients->len));
    int n = 0;
    for (std::string line; std::getline(lines, line);) {
      n += line.rfind("id=", 0) == 0 && line.find(" name=redmirror-control ") == std::string::npos;
    }
    return n;
  };
  const auto deadline = Clock::now() + Millis(5000);
  do {
    clients = command(c.get(), "CLIENT LIST");
    ASSERT_TRUE(clients && clients->type == REDIS_REPLY_STRING);
    if (sessionLines() == 1) break;
    std::this_thread::sleep_for(Millis(50));
  } while (Clock::now() < deadline);
  EXPECT_EQ(sessionLines(), 1) << clients->str;
  EXPECT_TRUE(proxy.alive());
  EXPECT_EQ(proxy.stop(), 0) << proxy.stderrText();
}

TEST_P(Lifecycle, PrimaryRestart) {
  RedisServer redis;
  Proxy proxy(redis.port(), [&] {
    auto args = modeArgs(GetParam());
    args.insert(args.end(), {"--connect-timeout-ms", "1000"});
    return args;
  }());
  ASSERT_TRUE(pingOk(proxy.port()));
  const int baseline = directMode() ? 0 : waitForFds(proxy.pid(), -2, Millis(300));
  RawClient before(proxy.port());
  ASSERT_TRUE(before.sendAll(cmd({"SET", "persist", "1"})));
  ASSERT_EQ(before.readReply(), std::optional<std::string>("+OK\r\n"));

  redis.stop();
  // The connected client's next command gets an error or the connection closes; no hang.
  const auto start = Clock::now();
  before.sendAll(cmd({"PING"}));
  const std::string seen = before.readUntilClosed(Millis(5000));
  EXPECT_TRUE(before.peerClosed() || (!seen.empty() && seen[0] == '-'))
      << "got '" << seen << "' and the connection is still open";
  EXPECT_LT(Clock::now() - start, Millis(5000));

  if (!directMode()) {
    // A new client while the primary is down: the proxy's error, then close.
    RawClient during(proxy.port());
    ASSERT_TRUE(during.connected());
    during.sendAll(cmd({"PING"}));
    const std::string error = during.readUntilClosed(Millis(5000));
    const std::string prefix =
        "-ERR redmirror: primary 127.0.0.1:" + std::to_string(redis.port()) + " unreachable: ";
    EXPECT_EQ(error.rfind(prefix, 0), 0u) << "got '" << error << "'";
    EXPECT_EQ(error.size() > 2 ? error.substr(error.size() - 2) : "", "\r\n") << error;
    EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
    EXPECT_TRUE(during.peerClosed());
    // Even a client that sends nothing is told and closed.
    RawClient silent(proxy.port());
    const std::string silentError = silent.readUntilClosed(Millis(5000));
    EXPECT_EQ(silentError.rfind(prefix, 0), 0u) << "got '" << silentError << "'";
    EXPECT_TRUE(silent.peerClosed());
    // Many failing sessions leak nothing.
    for (int i = 0; i < 50; ++i) {
      RawClient c(proxy.port());
      c.sendAll(cmd({"PING"}));
      c.readUntilClosed(Millis(2000));
      EXPECT_TRUE(c.peerClosed());
    }
    before.close();
    during.close();
    silent.close();
    EXPECT_EQ(waitForFds(proxy.pid(), baseline, Millis(3000)), baseline);
    EXPECT_TRUE(proxy.alive()) << proxy.stderrText();
  }

  redis.start();  // same port
  RawClient after(proxy.port());
  ASSERT_TRUE(after.sendAll(cmd({"PING"}) + cmd({"SET", "back", "yes"}) + cmd({"GET", "back"})));
  EXPECT_EQ(after.readReply(), std::optional<std::string>("+PONG\r\n"));
  EXPECT_EQ(after.readReply(), std::optional<std::string>("+OK\r\n"));
  EXPECT_EQ(after.readReply(), std::optional<std::string>("$3\r\nyes\r\n"));
  after.close();  // without observation, open sessions are held until the shutdown deadline
  EXPECT_EQ(proxy.stop(), 0) << proxy.stderrText();
}

// The primary closing one session's connection (CLIENT KILL) closes that client only.
TEST_P(Lifecycle, UpstreamKilledClosesOnlyThatClient) {
  RedisServer redis;
  Proxy proxy(redis.port(), modeArgs(GetParam()));
  RawClient victim(proxy.port()), bystander(proxy.port());
  ASSERT_TRUE(victim.sendAll(cmd({"CLIENT", "ID"})));
  const auto id = victim.readReply();
  ASSERT_TRUE(id && id->size() > 3 && (*id)[0] == ':') << victim.buffer();
  Ctx admin = connectRedis(redis.port());
  ASSERT_TRUE(admin && !admin->err);
  const std::string victimId = id->substr(1, id->size() - 3);
  EXPECT_EQ(describe(command(admin.get(), "CLIENT KILL ID %s", victimId.c_str()).get()), ":1");
  victim.readUntilClosed(Millis(3000));
  EXPECT_TRUE(victim.peerClosed());
  ASSERT_TRUE(bystander.sendAll(cmd({"PING"})));
  EXPECT_EQ(bystander.readReply(), std::optional<std::string>("+PONG\r\n"));
  bystander.close();
  EXPECT_EQ(proxy.stop(), 0) << proxy.stderrText();
}

TEST_P(Lifecycle, GracefulShutdownLetsBlockedCommandFinish) {
  if (directMode()) GTEST_SKIP() << "needs the proxy process";
  RedisServer redis;
  auto args = modeArgs(GetParam());
  args.insert(args.end(), {"--shutdown-timeout-ms", "5000"});
  Proxy proxy(redis.port(), args);
  RawClient blocked(proxy.port());
  ASSERT_TRUE(blocked.sendAll(cmd({"PING"})));
  ASSERT_EQ(blocked.readReply(), std::optional<std::string>("+PONG\r\n"));
  RawClient idle(proxy.port());
  ASSERT_TRUE(idle.sendAll(cmd({"PING"})));
  ASSERT_EQ(idle.readReply(), std::optional<std::string>("+PONG\r\n"));

  ASSERT_TRUE(blocked.sendAll(cmd({"BLPOP", "nothing", "2"})));
  std::this_thread::sleep_for(Millis(200));
  const auto start = Clock::now();
  proxy.signal(SIGTERM);
  if (GetParam()) {
    // Observing, the proxy knows the idle session owes nothing: it is closed at once.
    idle.readUntilClosed(Millis(1000));
    EXPECT_TRUE(idle.peerClosed()) << "idle client not closed promptly";
  }
  // New connections are no longer served.
  std::this_thread::sleep_for(Millis(100));
  {
    RawClient late;
    if (late.connect(proxy.port(), Millis(1000))) {
      late.sendAll(cmd({"PING"}));
      EXPECT_NE(late.readReply(Millis(1000)), std::optional<std::string>("+PONG\r\n"))
          << "proxy still serves new clients after SIGTERM";
    }
  }
  const auto reply = blocked.readReply(Millis(6000));
  EXPECT_EQ(reply, std::optional<std::string>("*-1\r\n")) << "buffer '" << blocked.buffer() << "'";
  // Observing, the session closes once its reply is through; without observation the
  // replies owed are unknown and sessions are held until the shutdown deadline.
  blocked.readUntilClosed(Millis(6000));
  EXPECT_TRUE(blocked.peerClosed());
  idle.readUntilClosed(Millis(6000));
  EXPECT_TRUE(idle.peerClosed());
  EXPECT_EQ(proxy.wait(Millis(8000)), 0) << proxy.stderrText();
  const auto took = Clock::now() - start;
  EXPECT_GT(took, Millis(1500));
  EXPECT_LT(took, GetParam() ? Millis(4000) : Millis(6500));
}

TEST_P(Lifecycle, ShutdownTimeoutBoundsTheWait) {
  if (directMode()) GTEST_SKIP() << "needs the proxy process";
  RedisServer redis;
  auto args = modeArgs(GetParam());
  args.insert(args.end(), {"--shutdown-timeout-ms", "500"});
  Proxy proxy(redis.port(), args);
  RawClient blocked(proxy.port());
  ASSERT_TRUE(blocked.sendAll(cmd({"BLPOP", "nothing", "0"})));  // blocks forever
  std::this_thread::sleep_for(Millis(200));
  const auto start = Clock::now();
  EXPECT_EQ(proxy.stop(Millis(5000)), 0) << proxy.stderrText();
  EXPECT_LT(Clock::now() - start, Millis(3000));
  blocked.readUntilClosed(Millis(2000));
  EXPECT_TRUE(blocked.peerClosed());
}

TEST(Lifecycle, SigintAlsoExitsZero) {
  if (directMode()) GTEST_SKIP() << "needs the proxy process";
  RedisServer redis;
  Proxy proxy(redis.port());
  ASSERT_TRUE(pingOk(proxy.port()));
  proxy.signal(SIGINT);
  EXPECT_EQ(proxy.wait(Millis(5000)), 0) << proxy.stderrText();
}

// ---------------------------------------------------------------- configuration

TEST(Config, BadListenAddressExits2NamingTheFlag) {
  const auto r = runProxyBinary({"--listen", "nonsense", "--primary", "127.0.0.1:6379"});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("--listen"), std::string::npos) << r.err;
}

TEST(Config, BadPrimaryAndWorkersExit2NamingTheFlag) {
  auto r = runProxyBinary({"--listen", "127.0.0.1:7000", "--primary", "127.0.0.1:99999"});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("--primary"), std::string::npos) << r.err;
  r = runProxyBinary({"--listen", "127.0.0.1:7000", "--primary", "127.0.0.1:6379", "--workers", "-1"});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("--workers"), std::string::npos) << r.err;
}

TEST(Config, UnknownYamlFieldExits2NamingIt) {
  TempDir dir;
  const std::string path = dir.file("bad.yaml");
  std::ofstream(path) << "listen: 127.0.0.1:7000\nprimary: 127.0.0.1:6379\nbogus_field: 1\n";
  const auto r = runProxyBinary({"--config", path});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("unknown field 'bogus_field'"), std::string::npos) << r.err;
}

TEST(Config, BadYamlFieldValueExits2NamingIt) {
  TempDir dir;
  const std::string path = dir.file("bad.yaml");
  std::ofstream(path) << "listen: 127.0.0.1:7000\nprimary: 127.0.0.1:6379\nworkers: -3\n";
  auto r = runProxyBinary({"--config", path, "--check-config"});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("field 'workers'"), std::string::npos) << r.err;
  std::ofstream(path) << "listen: [1, 2]\nprimary: 127.0.0.1:6379\n";
  r = runProxyBinary({"--config", path, "--check-config"});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("field 'listen'"), std::string::npos) << r.err;
}

TEST(Config, CheckConfigExits0) {
  TempDir dir;
  const std::string path = dir.file("good.yaml");
  std::ofstream(path) << "listen: 127.0.0.1:7000\nprimary: 127.0.0.1:6379\nworkers: 2\n"
                         "log_level: warn\n";
  auto r = runProxyBinary({"--config", path, "--check-config"});
  EXPECT_EQ(r.exitCode, 0) << r.err << r.out;
  r = runProxyBinary({"--listen", "127.0.0.1:7001", "--primary", "127.0.0.1:6379", "--check-config"});
  EXPECT_EQ(r.exitCode, 0) << r.err << r.out;
}

TEST(Config, MissingConfigFileFails) {
  const auto r = runProxyBinary({"--config", "/nonexistent/redmirror.yaml", "--check-config"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.exitCode, -1) << "timed out";
}

}  // namespace
}  // namespace it
