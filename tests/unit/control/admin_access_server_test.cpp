// The admin server's access rules, limits and audit, in process: a Unix socket
// with uids listed (SO_PEERCRED), the TCP listener that answers only -NOAUTH
// until AUTH <token>, per-connection size and rate limits that cost only the
// client that crossed them, and the audit records of changes and refusals.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "redmirror/control/admin_server.h"
#include "redmirror/control/audit_log.h"
#include "redmirror/control/audit_trail.h"

namespace redmirror::control {
namespace {

using nlohmann::json;

const std::string kToken = "0123456789abcdef0123456789abcdef";

// One canary "c1"; only what these tests use does anything.
class OneCanary : public MirrorControl {
 public:
  std::string setPercent(const std::string& canary, uint32_t hundredths) override {
    if (canary != "c1") return "unknown canary '" + canary + "'";
    if (journal != nullptr) {
      if (std::string refused = journal->recordChange({{"percent", percent / 100.0}}, {{"percent", hundredths / 100.0}});
          !refused.empty()) {
        return refused;
      }
    }
    percent = hundredths;
    return "";
  }
  std::string addCanary(const std::string&, const std::string&) override { return "not here"; }
  std::string removeCanary(const std::string&) override { return "not here"; }
  std::string setPaused(bool) override { return "not here"; }
  bool paused() const override { return false; }
  std::vector<CanaryStatus> canaries() const override {
    CanaryStatus c1;
    c1.name = "c1";
    c1.percentHundredths = percent;
    return {c1};
  }
  std::string report(const std::string&, std::string& json) const override {
    json = "{}";
    return "";
  }
  std::string resetWindow(const std::string&) override { return ""; }

  std::atomic<uint32_t> percent{1000};
  ChangeJournal* journal = nullptr;
};

// A blocking client over a Unix socket or TCP, with a 5 s receive timeout.
class Client {
 public:
  static Client unix(const std::string& path) {
    Client client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    client.connected_ = ::connect(client.fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    return client;
  }
  static Client tcp(uint16_t port) {
    Client client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    client.connected_ = ::connect(client.fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    return client;
  }
  Client(Client&& other) noexcept : fd_(other.fd_), connected_(other.connected_) { other.fd_ = -1; }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // One whole reply of the kinds the admin server sends (status, error, bulk).
  std::string readReply() {
    std::string line;
    while (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) {
      char c;
      if (::recv(fd_, &c, 1, 0) != 1) return line;
      line += c;
    }
    if (line[0] != '$') return line;
    std::string payload(std::stoul(line.substr(1)) + 2, '\0');
    size_t got = 0;
    while (got < payload.size()) {
      const ssize_t n = ::recv(fd_, payload.data() + got, payload.size() - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    return line + payload.substr(0, got);
  }
  std::string bulk() {
    const std::string reply = readReply();
    const size_t crlf = reply.find("\r\n");
    if (reply.empty() || reply[0] != '$' || crlf == std::string::npos) return "not a bulk: " + reply;
    return reply.substr(crlf + 2, reply.size() - crlf - 4);
  }
  // Waits (up to the receive timeout) for the server to close the connection.
  bool closedByPeer() {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  explicit Client(int fd) : fd_(fd) {
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  int fd_;
  bool connected_ = false;
};

class AdminAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/redmirror_access_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/admin.sock";
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    mirror_.journal = &trail_;
    commands_.setAuditLog(&log_);
    server_ = std::make_unique<AdminServer>(&loop_, commands_, &trail_);
  }

  // Opens the Unix socket (and the TCP listener when asked) and runs the loop in a thread.
  void start(bool tcp = false) {
    ASSERT_EQ(server_->listen(path_), "");
    if (tcp) {
      ASSERT_EQ(server_->listenTcp({"127.0.0.1", 0}, AdminToken::fromSecret(kToken)), "");
      tcpPort_ = server_->tcpPort();
      ASSERT_NE(tcpPort_, 0);
    }
    ASSERT_EQ(uv_async_init(&loop_, &stop_,
                            [](uv_async_t* async) {
                              static_cast<AdminAccessTest*>(async->data)->server_->close();
                              uv_close(reinterpret_cast<uv_handle_t*>(async), nullptr);
                            }),
              0);
    stop_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
    running_ = true;
  }

  void TearDown() override {
    if (running_) {
      uv_async_send(&stop_);
      thread_.join();
    }
    server_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    server_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    std::filesystem::remove_all(dir_);
  }

  json audit() { return json::parse(log_.recentJson(100)); }

  std::string dir_;
  std::string path_;
  uint16_t tcpPort_ = 0;
  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::thread thread_;
  bool running_ = false;
  OneCanary mirror_;
  AuditLog log_;
  AuditTrail trail_{log_};
  AdminCommands commands_{mirror_};
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminAccessTest, ListedUidIsAllowed) {
  server_->setAllowedUids(UidAllowList({::getuid() + 1, ::getuid()}));
  start();
  Client client = Client::unix(path_);
  ASSERT_TRUE(client.send("MIRROR SET c1 5\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  EXPECT_EQ(mirror_.percent, 500u);
}

TEST_F(AdminAccessTest, UnlistedUidIsRefusedAnsweredAndAudited) {
  server_->setAllowedUids(UidAllowList({::getuid() + 1}));
  start();
  Client client = Client::unix(path_);
  ASSERT_TRUE(client.send("MIRROR SET c1 5\r\n"));
  EXPECT_EQ(client.readReply(), "-NOPERM uid " + std::to_string(::getuid()) +
                                    " is not allowed on the admin socket (--admin-allow-uid)\r\n");
  EXPECT_TRUE(client.closedByPeer());
  EXPECT_EQ(mirror_.percent, 1000u) << "a refused peer changed the percent";
  const json records = audit();
  ASSERT_EQ(records.size(), 1u) << records.dump();
  EXPECT_EQ(records[0]["peer"]["uid"], ::getuid());
  EXPECT_EQ(records[0]["peer"]["pid"], ::getpid());
  EXPECT_EQ(records[0]["result"].get<std::string>().rfind("refused: uid ", 0), 0u) << records.dump();
}

TEST_F(AdminAccessTest, RefusedPeerThatSendsNothingIsClosedAfterTheAccessTimeout) {
  AdminLimits limits;
  limits.accessTimeoutMs = 100;
  server_->setLimits(limits);
  server_->setAllowedUids(UidAllowList({::getuid() + 1}));
  start();
  Client client = Client::unix(path_);
  EXPECT_EQ(client.readReply().rfind("-NOPERM uid ", 0), 0u);
  EXPECT_TRUE(client.closedByPeer());
}

TEST_F(AdminAccessTest, AuthIsNotUsedOnTheUnixSocket) {
  start();
  Client client = Client::unix(path_);
  ASSERT_TRUE(client.send("AUTH " + kToken + "\r\nMIRROR GET c1\r\n"));
  EXPECT_EQ(client.readReply(), "-ERR the admin Unix socket does not use AUTH: access is by uid\r\n");
  EXPECT_EQ(client.bulk(), R"({"canary":"c1","percent":10.0})");
}

TEST_F(AdminAccessTest, TcpAnswersOnlyNoauthUntilTheToken) {
  start(true);
  Client client = Client::tcp(tcpPort_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("MIRROR GET c1\r\nMIRROR SET c1 50\r\nHELP\r\nQUIT\r\nAUDIT\r\n"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client.readReply(), "-NOAUTH Authentication required.\r\n") << i;
  EXPECT_EQ(mirror_.percent, 1000u);
  ASSERT_TRUE(client.send("AUTH\r\n"));
  EXPECT_EQ(client.readReply(), "-ERR wrong number of arguments for 'auth' (AUTH <token>)\r\n");
  ASSERT_TRUE(client.send("*2\r\n$4\r\nAUTH\r\n$" + std::to_string(kToken.size()) + "\r\n" + kToken + "\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  ASSERT_TRUE(client.send("MIRROR SET c1 50\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  EXPECT_EQ(mirror_.percent, 5000u);

  const json records = audit();
  ASSERT_EQ(records.size(), 2u) << records.dump();
  EXPECT_EQ(records[0]["command"], json::parse(R"j(["AUTH","(redacted)"])j"));
  EXPECT_EQ(records[0]["result"], "ok");
  EXPECT_EQ(records[1]["peer"]["transport"], "tcp");
  EXPECT_EQ(records[1]["peer"]["address"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(records[1]["before"]["percent"], 10.0);
  EXPECT_EQ(records[1]["after"]["percent"], 50.0);
  EXPECT_EQ(log_.recentJson(100).find(kToken), std::string::npos);
}

TEST_F(AdminAccessTest, WrongTokenIsAnsweredAuditedAndClosed) {
  start(true);
  Client client = Client::tcp(tcpPort_);
  const std::string wrong = kToken.substr(0, kToken.size() - 1) + "X";
  ASSERT_TRUE(client.send("AUTH " + wrong + "\r\nMIRROR SET c1 50\r\n"));
  EXPECT_EQ(client.readReply(), "-WRONGPASS wrong admin token\r\n");
  EXPECT_TRUE(client.closedByPeer());
  EXPECT_EQ(mirror_.percent, 1000u);
  const json records = audit();
  ASSERT_EQ(records.size(), 1u) << records.dump();
  EXPECT_EQ(records[0]["result"], "refused: wrong token");
  EXPECT_EQ(log_.recentJson(100).find(wrong), std::string::npos);
}

TEST_F(AdminAccessTest, UnauthenticatedTcpConnectionIsClosedAfterTheAccessTimeout) {
  AdminLimits limits;
  limits.accessTimeoutMs = 100;
  server_->setLimits(limits);
  start(true);
  Client client = Client::tcp(tcpPort_);
  EXPECT_EQ(client.readReply(), "-NOAUTH Authentication required (timed out)\r\n");
  EXPECT_TRUE(client.closedByPeer());
  // An authenticated connection is not timed out.
  Client authed = Client::tcp(tcpPort_);
  ASSERT_TRUE(authed.send("AUTH " + kToken + "\r\n"));
  EXPECT_EQ(authed.readReply(), "+OK\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the timeout: must not matter
  ASSERT_TRUE(authed.send("MIRROR GET c1\r\n"));
  EXPECT_EQ(authed.bulk(), R"({"canary":"c1","percent":10.0})");
}

TEST_F(AdminAccessTest, RateLimitCostsOnlyTheFloodingClient) {
  AdminLimits limits;
  limits.commandBurst = 5;
  limits.commandsPerSecond = 1;
  server_->setLimits(limits);
  start();
  Client flood = Client::unix(path_);
  Client other = Client::unix(path_);
  std::string batch;
  for (int i = 0; i < 50; ++i) batch += "MIRROR GET c1\r\n";
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(flood.send(batch));
  int answered = 0;
  int refused = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string reply = flood.readReply();
    if (reply.rfind("$", 0) == 0) {
      ++answered;
    } else {
      EXPECT_EQ(reply, "-ERR too many admin commands, not run: at most 1 a second (5 at once) per connection\r\n");
      ++refused;
    }
  }
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  EXPECT_GE(answered, 5);
  EXPECT_LE(answered, 5 + seconds + 1) << "the rate limit let through more than it earned";
  EXPECT_EQ(answered + refused, 50);
  // The other client was never limited.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(other.send("MIRROR GET c1\r\n"));
    EXPECT_EQ(other.bulk(), R"({"canary":"c1","percent":10.0})");
  }
  // And the flooding one still works: the limit refuses commands, not the client.
  ASSERT_TRUE(flood.send("MIRROR GET c1\r\n"));
  const std::string reply = flood.readReply();
  EXPECT_TRUE(reply.rfind("$", 0) == 0 || reply.rfind("-ERR too many", 0) == 0) << reply;
}

TEST_F(AdminAccessTest, OversizedCommandIsRefusedAndTheConnectionGoesOn) {
  AdminLimits limits;
  limits.maxCommandBytes = 1024;
  server_->setLimits(limits);
  start();
  Client client = Client::unix(path_);
  const std::string big(2000, 'x');
  ASSERT_TRUE(client.send("*4\r\n$6\r\nMIRROR\r\n$3\r\nSET\r\n$2\r\nc1\r\n$2000\r\n" + big + "\r\nMIRROR GET c1\r\n"));
  EXPECT_EQ(client.readReply(), "-ERR command larger than 1 KiB, not run (the admin limit)\r\n");
  EXPECT_EQ(client.bulk(), R"({"canary":"c1","percent":10.0})");
  EXPECT_TRUE(audit().empty()) << "a command refused before it ran was audited as run";
}

TEST_F(AdminAccessTest, ChangesAreAuditedWithThePeerReadsAreNot) {
  start();
  Client client = Client::unix(path_);
  ASSERT_TRUE(client.send("MIRROR GET c1\r\nMIRROR SET c1 20\r\nMIRROR SET c1 30\r\nMIRROR SET c1 999\r\nCANARY LIST\r\n"));
  EXPECT_EQ(client.bulk(), R"({"canary":"c1","percent":10.0})");
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  EXPECT_EQ(client.readReply().rfind("-ERR percent must be", 0), 0u);
  client.readReply();
  const json records = audit();
  ASSERT_EQ(records.size(), 3u) << records.dump();
  EXPECT_EQ(records[0]["peer"]["uid"], ::getuid());
  EXPECT_EQ(records[0]["peer"]["pid"], ::getpid());
  EXPECT_EQ(records[0]["after"]["percent"], 20.0);
  EXPECT_EQ(records[1]["before"]["percent"], 20.0);
  EXPECT_EQ(records[1]["after"]["percent"], 30.0);
  EXPECT_EQ(records[2]["result"].get<std::string>().rfind("error: percent must be", 0), 0u);

  // AUDIT 2: the last two, oldest first.
  ASSERT_TRUE(client.send("AUDIT 2\r\n"));
  const json lastTwo = json::parse(client.bulk());
  ASSERT_EQ(lastTwo.size(), 2u);
  EXPECT_EQ(lastTwo[0], records[1]);
  EXPECT_EQ(lastTwo[1], records[2]);
  ASSERT_TRUE(client.send("AUDIT\r\nAUDIT 0\r\nAUDIT x\r\nAUDIT 1 2\r\n"));
  EXPECT_EQ(json::parse(client.bulk()).size(), 3u);
  EXPECT_EQ(client.readReply(), "-ERR count must be a positive integer, got '0'\r\n");
  EXPECT_EQ(client.readReply(), "-ERR count must be a positive integer, got 'x'\r\n");
  EXPECT_EQ(client.readReply(), "-ERR wrong number of arguments for 'audit'\r\n");
}

TEST_F(AdminAccessTest, ChangeRefusedWhenTheAuditLogCannotBeWritten) {
  const std::string path = dir_ + "/audit.jsonl";
  std::filesystem::create_directory(path);  // unwritable, even for root
  AuditLog fileLog(path);
  AuditTrail fileTrail(fileLog);
  mirror_.journal = &fileTrail;  // where the change is recorded before it is made
  start();
  Client client = Client::unix(path_);
  ASSERT_TRUE(client.send("MIRROR SET c1 50\r\nMIRROR GET c1\r\n"));
  const std::string refusal = client.readReply();
  EXPECT_EQ(refusal.rfind("-ERR the audit log cannot be written (", 0), 0u) << refusal;
  EXPECT_NE(refusal.find("nothing changed"), std::string::npos) << refusal;
  EXPECT_EQ(client.bulk(), R"({"canary":"c1","percent":10.0})");
  EXPECT_EQ(mirror_.percent, 1000u);
}

}  // namespace
}  // namespace redmirror::control
