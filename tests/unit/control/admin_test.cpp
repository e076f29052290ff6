#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "redmirror/control/admin_server.h"
#include "redmirror/control/mirror_control.h"

namespace redmirror::control {
namespace {

using nlohmann::json;

class FakeMirrorControl : public MirrorControl {
 public:
  FakeMirrorControl() {
    CanaryStatus c1;
    c1.name = "c1";
    c1.address = "127.0.0.1:6381";
    c1.percentHundredths = 2500;
    c1.mirrored = 10;
    c1.compared = 8;
    c1.matched = 7;
    c1.diverged = 1;
    c1.dropped = {{"queue_full", 3}, {"timeout", 1}};
    c1.linksUp = 2;
    c1.linksTotal = 4;
    canaries_.push_back(c1);
  }

  std::string setPercent(const std::string& canary, uint32_t hundredths) override {
    std::lock_guard lock(mutex_);
    setCalls.emplace_back(canary, hundredths);
    for (CanaryStatus& c : canaries_) {
      if (c.name == canary) {
        c.percentHundredths = hundredths;
        return "";
      }
    }
    return "unknown canary '" + canary + "'";
  }
  std::string addCanary(const std::string& name, const std::string& address) override {
    std::lock_guard lock(mutex_);
    for (const CanaryStatus& c : canaries_) {
      if (c.name == name) return "canary '" + name + "' already exists";
    }
    CanaryStatus status;
    status.name = name;
    status.address = address;
    canaries_.push_back(status);
    return "";
  }
  std::string removeCanary(const std::string& name) override {
    std::lock_guard lock(mutex_);
    for (auto it = canaries_.begin(); it != canaries_.end(); ++it) {
      if (it->name == name) {
        canaries_.erase(it);
        return "";
      }
    }
    return "unknown canary '" + name + "'";
  }
  std::string report(const std::string& canary, std::string& json) const override {
    if (!canary.empty() && canary != "c1") return "unknown canary '" + canary + "'";
    json = canary.empty() ? R"({"canaries":[{"canary":"c1"}]})" : R"({"canary":"c1"})";
    return "";
  }
  std::string resetWindow(const std::string& canary) override {
    if (!canary.empty() && canary != "c1") return "unknown canary '" + canary + "'";
    resets.push_back(canary);
    return "";
  }
  std::vector<std::string> resets;
  std::string setPaused(bool paused) override {
    std::lock_guard lock(mutex_);
    paused_ = paused;
    return "";
  }
  bool paused() const override {
    std::lock_guard lock(mutex_);
    return paused_;
  }
  std::vector<CanaryStatus> canaries() const override {
    std::lock_guard lock(mutex_);
    return canaries_;
  }
  uint32_t percentOf(const std::string& name) const {
    std::lock_guard lock(mutex_);
    for (const CanaryStatus& c : canaries_) {
      if (c.name == name) return c.percentHundredths;
    }
    return 99999;
  }

  std::vector<std::pair<std::string, uint32_t>> setCalls;

 private:
  mutable std::mutex mutex_;
  std::vector<CanaryStatus> canaries_;
  bool paused_ = false;
};

// ---------------------------------------------------------------- AdminReply

TEST(AdminReplyTest, EncodesEveryKind) {
  EXPECT_EQ(AdminReply::ok().encode(), "+OK\r\n");
  EXPECT_EQ(AdminReply::error("bad thing").encode(), "-ERR bad thing\r\n");
  EXPECT_EQ(AdminReply::error("ERR already coded").encode(), "-ERR already coded\r\n");
  EXPECT_EQ(AdminReply::error("WRONGTYPE Operation").encode(), "-WRONGTYPE Operation\r\n");
  EXPECT_EQ(AdminReply::error("A canary").encode(), "-ERR A canary\r\n");
  EXPECT_EQ(AdminReply::error("unknown").encode(), "-ERR unknown\r\n");
  EXPECT_EQ(AdminReply::error("line\r\nbreak").encode(), "-ERR line  break\r\n");
  EXPECT_EQ(AdminReply::bulk("{\"a\":1}").encode(), "$7\r\n{\"a\":1}\r\n");
  EXPECT_EQ(AdminReply::bulk("").encode(), "$0\r\n\r\n");
  AdminReply integer{AdminReply::Kind::kInteger, "", -42};
  EXPECT_EQ(integer.encode(), ":-42\r\n");
}

// ---------------------------------------------------------------- AdminCommands

class AdminCommandsTest : public ::testing::Test {
 protected:
  std::string run(std::vector<std::string> args) { return commands_.execute(args).encode(); }
  FakeMirrorControl fake_;
  AdminCommands commands_{fake_};
};

std::string bulkPayload(const std::string& encoded) {
  EXPECT_EQ(encoded.substr(0, 1), "$") << encoded;
  const size_t crlf = encoded.find("\r\n");
  if (crlf == std::string::npos) return "";
  const size_t length = std::stoul(encoded.substr(1, crlf - 1));
  EXPECT_EQ(encoded.size(), crlf + 2 + length + 2) << encoded;
  return encoded.substr(crlf + 2, length);
}

TEST_F(AdminCommandsTest, MirrorSetParsesPercentExactly) {
  const std::vector<std::pair<std::string, uint32_t>> cases = {
      {"12.34", 1234}, {"0.01", 1},     {"100", 10000}, {"100.00", 10000}, {"25", 2500},
      {"0.5", 50},     {"0", 0},        {"0.0", 0},     {"99.99", 9999},   {"1.1", 110},
      {"007", 700},    {"33.33", 3333}, {"0.29", 29},   {"57.01", 5701}};
  for (const auto& [text, hundredths] : cases) {
    EXPECT_EQ(run({"MIRROR", "SET", "c1", text}), "+OK\r\n") << text;
    EXPECT_EQ(fake_.percentOf("c1"), hundredths) << text;
  }
}

TEST_F(AdminCommandsTest, MirrorSetRefusesBadPercents) {
  for (const std::string text :
       {"100.01", "250", "-1", "1e2", "", "abc", "1.234", ".5", "5.", "+5", " 5", "5 ", "1..2",
        "0x10", "101", "1000000000000000000000000", "12,5", "nan", "inf"}) {
    const std::string reply = run({"MIRROR", "SET", "c1", text});
    EXPECT_EQ(reply,
              "-ERR percent must be a number between 0 and 100 with at most 2 decimals, got '" +
                  text + "'\r\n")
        << text;
  }
  EXPECT_TRUE(fake_.setCalls.empty());
  EXPECT_EQ(fake_.percentOf("c1"), 2500u);
}

TEST_F(AdminCommandsTest, MirrorSetPassesControlErrors) {
  EXPECT_EQ(run({"MIRROR", "SET", "nope", "5"}), "-ERR unknown canary 'nope'\r\n");
}

TEST_F(AdminCommandsTest, CommandWordsAreCaseInsensitive) {
  EXPECT_EQ(run({"mirror", "set", "c1", "5"}), "+OK\r\n");
  EXPECT_EQ(run({"MiRrOr", "SeT", "c1", "6"}), "+OK\r\n");
  EXPECT_EQ(fake_.percentOf("c1"), 600u);
  EXPECT_EQ(run({"mirror", "pause"}), "+OK\r\n");
  EXPECT_TRUE(fake_.paused());
  EXPECT_EQ(run({"Mirror", "Resume"}), "+OK\r\n");
  EXPECT_FALSE(fake_.paused());
  EXPECT_EQ(run({"help"}).substr(0, 1), "$");
  // Canary names are not command words: they stay case-sensitive.
  EXPECT_EQ(run({"MIRROR", "GET", "C1"}), "-ERR unknown canary 'C1'\r\n");
}

TEST_F(AdminCommandsTest, MirrorGetAllIsJson) {
  fake_.addCanary("c2", "127.0.0.1:6382");
  fake_.setPercent("c2", 1234);
  const std::string payload = bulkPayload(run({"MIRROR", "GET"}));
  const json value = json::parse(payload);
  EXPECT_EQ(value["paused"], false);
  ASSERT_TRUE(value["canaries"].is_object());
  EXPECT_DOUBLE_EQ(value["canaries"]["c1"].get<double>(), 25.0);
  EXPECT_DOUBLE_EQ(value["canaries"]["c2"].get<double>(), 12.34);
  EXPECT_TRUE(value["canaries"]["c1"].is_number_float());
  EXPECT_EQ(payload, R"({"paused":false,"canaries":{"c1":25.0,"c2":12.34}})");

  run({"MIRROR", "PAUSE"});
  EXPECT_EQ(json::parse(bulkPayload(run({"MIRROR", "GET"})))["paused"], true);
}

TEST_F(AdminCommandsTest, MirrorGetOneIsJson) {
  EXPECT_EQ(bulkPayload(run({"MIRROR", "GET", "c1"})), R"({"canary":"c1","percent":25.0})");
  run({"MIRROR", "SET", "c1", "0.01"});
  EXPECT_EQ(bulkPayload(run({"MIRROR", "GET", "c1"})), R"({"canary":"c1","percent":0.01})");
  EXPECT_EQ(run({"MIRROR", "GET", "x"}), "-ERR unknown canary 'x'\r\n");
}

TEST_F(AdminCommandsTest, CanaryAddRemoveList) {
  EXPECT_EQ(run({"CANARY", "ADD", "c2", "127.0.0.1:6382"}), "+OK\r\n");
  EXPECT_EQ(run({"CANARY", "ADD", "c2", "127.0.0.1:6382"}), "-ERR canary 'c2' already exists\r\n");
  EXPECT_EQ(run({"canary", "add", "tls-c.3_x", "tls://[::1]:6383"}), "+OK\r\n");

  const json list = json::parse(bulkPayload(run({"CANARY", "LIST"})));
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 3u);
  const json& c1 = list[0];
  EXPECT_EQ(c1["name"], "c1");
  EXPECT_EQ(c1["address"], "127.0.0.1:6381");
  EXPECT_DOUBLE_EQ(c1["percent"].get<double>(), 25.0);
  EXPECT_EQ(c1["mirrored"], 10);
  EXPECT_EQ(c1["compared"], 8);
  EXPECT_EQ(c1["matched"], 7);
  EXPECT_EQ(c1["diverged"], 1);
  EXPECT_EQ(c1["dropped"], json::parse(R"({"queue_full":3,"timeout":1})"));
  EXPECT_EQ(c1["links_up"], 2);
  EXPECT_EQ(c1["links_total"], 4);
  EXPECT_EQ(list[1]["name"], "c2");
  EXPECT_EQ(list[1]["percent"], 0.0);
  EXPECT_EQ(list[1]["dropped"], json::object());
  EXPECT_EQ(list[2]["address"], "tls://[::1]:6383");

  EXPECT_EQ(run({"CANARY", "REMOVE", "c2"}), "+OK\r\n");
  EXPECT_EQ(run({"CANARY", "REMOVE", "c2"}), "-ERR unknown canary 'c2'\r\n");
  EXPECT_EQ(json::parse(bulkPayload(run({"CANARY", "LIST"}))).size(), 2u);
}

TEST_F(AdminCommandsTest, CanaryAddValidates) {
  EXPECT_EQ(run({"CANARY", "ADD", "bad name", "127.0.0.1:1"}),
            "-ERR canary name must be 1-64 characters of A-Z a-z 0-9 _ . -, got 'bad name'\r\n");
  EXPECT_EQ(run({"CANARY", "ADD", "", "127.0.0.1:1"}).substr(0, 28),
            "-ERR canary name must be 1-6");
  EXPECT_EQ(run({"CANARY", "ADD", std::string(64, 'a'), "127.0.0.1:1"}), "+OK\r\n");
  EXPECT_EQ(run({"CANARY", "ADD", std::string(65, 'a'), "127.0.0.1:1"}).substr(0, 24),
            "-ERR canary name must be");
  EXPECT_EQ(run({"CANARY", "ADD", "c/3", "127.0.0.1:1"}).substr(0, 24), "-ERR canary name must be");
  EXPECT_EQ(run({"CANARY", "ADD", "c3", "nowhere"}).substr(0, 29), "-ERR invalid canary address: ");
  EXPECT_EQ(run({"CANARY", "ADD", "c3", "127.0.0.1:0"}).substr(0, 29),
            "-ERR invalid canary address: ");
  EXPECT_EQ(json::parse(bulkPayload(run({"CANARY", "LIST"}))).size(), 2u);
}

TEST_F(AdminCommandsTest, ArityErrors) {
  EXPECT_EQ(run({"MIRROR", "SET", "c1"}), "-ERR wrong number of arguments for 'mirror set'\r\n");
  EXPECT_EQ(run({"MIRROR", "SET", "c1", "1", "2"}),
            "-ERR wrong number of arguments for 'mirror set'\r\n");
  EXPECT_EQ(run({"mirror"}), "-ERR wrong number of arguments for 'mirror'\r\n");
  EXPECT_EQ(run({"MIRROR", "GET", "a", "b"}),
            "-ERR wrong number of arguments for 'mirror get'\r\n");
  EXPECT_EQ(run({"MIRROR", "PAUSE", "now"}),
            "-ERR wrong number of arguments for 'mirror pause'\r\n");
  EXPECT_EQ(run({"CANARY", "ADD", "c2"}), "-ERR wrong number of arguments for 'canary add'\r\n");
  EXPECT_EQ(run({"CANARY", "REMOVE"}), "-ERR wrong number of arguments for 'canary remove'\r\n");
  EXPECT_EQ(run({"CANARY", "LIST", "x"}), "-ERR wrong number of arguments for 'canary list'\r\n");
  EXPECT_EQ(run({"HELP", "me"}), "-ERR wrong number of arguments for 'help'\r\n");
}

TEST_F(AdminCommandsTest, UnknownCommands) {
  EXPECT_EQ(run({"FLY"}), "-ERR unknown command 'FLY', try HELP\r\n");
  EXPECT_EQ(run({"MIRROR", "FLY"}), "-ERR unknown subcommand 'FLY' for 'mirror', try HELP\r\n");
  EXPECT_EQ(run({"CANARY", "FLY"}), "-ERR unknown subcommand 'FLY' for 'canary', try HELP\r\n");
  EXPECT_EQ(run({std::string("a\r\nb")}), "-ERR unknown command 'a\\x0d\\x0ab', try HELP\r\n");
  EXPECT_EQ(run({}).substr(0, 1), "-");
}

TEST_F(AdminCommandsTest, ReportAndReset) {
  EXPECT_EQ(bulkPayload(run({"REPORT", "c1"})), R"({"canary":"c1"})");
  EXPECT_EQ(bulkPayload(run({"report"})), R"({"canaries":[{"canary":"c1"}]})");
  EXPECT_EQ(run({"REPORT", "nope"}), "-ERR unknown canary 'nope'\r\n");
  EXPECT_EQ(run({"REPORT", "a", "b"}), "-ERR wrong number of arguments for 'report'\r\n");
  EXPECT_EQ(run({"RESET"}), "+OK\r\n");
  EXPECT_EQ(run({"reset", "c1"}), "+OK\r\n");
  EXPECT_EQ(fake_.resets, (std::vector<std::string>{"", "c1"}));
}

TEST_F(AdminCommandsTest, CommandsWithoutTheirSourceAnswerWhy) {
  EXPECT_EQ(run({"verdict", "c1"}), "-ERR 'VERDICT' has no statistics source\r\n");
  EXPECT_EQ(run({"STATS"}), "-ERR 'STATS' has no statistics source\r\n");
  EXPECT_EQ(run({"AUDIT", "10"}), "-ERR 'AUDIT' is not available: no audit log\r\n");
}

TEST_F(AdminCommandsTest, HelpListsEveryCommand) {
  const std::string help = bulkPayload(run({"HELP"}));
  for (const char* usage :
       {"MIRROR SET <canary> <percent>", "MIRROR GET [<canary>]", "MIRROR PAUSE", "MIRROR RESUME",
        "CANARY ADD <name> <host:port>", "CANARY REMOVE <name>", "CANARY LIST", "REPORT [<canary>]",
        "VERDICT [<canary>]", "RESET [<canary>]", "STATS", "AUDIT [<n>]", "HELP"}) {
    EXPECT_NE(help.find(usage), std::string::npos) << usage;
  }
  size_t notYet = 0;
  for (size_t at = help.find("(not yet available)"); at != std::string::npos;
       at = help.find("(not yet available)", at + 1)) {
    ++notYet;
  }
  EXPECT_EQ(notYet, 0u);
  std::map<std::string, std::string> lines;  // usage -> line
  size_t start = 0;
  for (size_t end = help.find('\n'); end != std::string::npos; end = help.find('\n', start)) {
    const std::string line = help.substr(start, end - start);
    lines[line.substr(0, line.find("  "))] = line;  // usage, padded
    start = end + 1;
  }
  ASSERT_EQ(lines.count("MIRROR SET <canary> <percent>"), 1u);
  EXPECT_EQ(lines["MIRROR SET <canary> <percent>"].find("not yet"), std::string::npos);
  EXPECT_EQ(lines["REPORT [<canary>]"].find("(not yet available)"), std::string::npos);
  EXPECT_EQ(lines["VERDICT [<canary>]"].find("(not yet available)"), std::string::npos);
  EXPECT_EQ(lines["AUDIT [<n>]"].find("(not yet available)"), std::string::npos);
}

// ---------------------------------------------------------------- AdminServer

// A blocking client socket with a receive timeout.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
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
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  // Reads until `count` bytes arrived, the peer closed, or the timeout.
  std::string read(size_t count) {
    std::string out;
    while (out.size() < count) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, std::min(sizeof(buf), count - out.size()), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads one whole RESP reply of the simple kinds the admin socket sends.
  std::string readReply() {
    std::string line;
    while (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) {
      const std::string c = read(1);
      if (c.empty()) return line;
      line += c;
    }
    if (line[0] != '$') return line;
    const size_t length = std::stoul(line.substr(1));
    return line + read(length + 2);
  }
  // True when the server closed the connection (EOF, or a reset after unread data).
  bool closedByPeer() {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/redmirror_admin_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/admin.sock";
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    server_ = std::make_unique<AdminServer>(&loop_, commands_);
  }

  // Listens and runs the loop in a thread until TearDown.
  void start() {
    ASSERT_EQ(server_->listen(path_), "");
    ASSERT_EQ(uv_async_init(&loop_, &stop_,
                            [](uv_async_t* async) {
                              auto* self = static_cast<AdminServerTest*>(async->data);
                              self->server_->close();
                              uv_close(reinterpret_cast<uv_handle_t*>(async), nullptr);
                            }),
              0);
    stop_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
    running_ = true;
  }

  void stop() {
    if (!running_) return;
    uv_async_send(&stop_);
    thread_.join();
    running_ = false;
  }

  void TearDown() override {
    stop();
    server_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    server_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::string path_;
  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::thread thread_;
  bool running_ = false;
  FakeMirrorControl fake_;
  AdminCommands commands_{fake_};
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, SocketHasMode0600AndIsRemovedOnClose) {
  const mode_t previous = ::umask(0);  // the server must not depend on the umask
  start();
  ::umask(previous);
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  stop();
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
}

TEST_F(AdminServerTest, RespMirrorSet) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("*4\r\n$6\r\nMIRROR\r\n$3\r\nSET\r\n$2\r\nc1\r\n$2\r\n25\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  ASSERT_TRUE(client.send("*4\r\n$6\r\nMIRROR\r\n$3\r\nSET\r\n$2\r\nc1\r\n$5\r\n12.34\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  EXPECT_EQ(fake_.percentOf("c1"), 1234u);
  ASSERT_TRUE(client.send("*4\r\n$6\r\nMIRROR\r\n$3\r\nSET\r\n$2\r\nc1\r\n$3\r\n250\r\n"));
  EXPECT_EQ(client.readReply(),
            "-ERR percent must be a number between 0 and 100 with at most 2 decimals, got "
            "'250'\r\n");
}

TEST_F(AdminServerTest, InlineMirrorGet) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("MIRROR GET c1\r\n"));
  const std::string payload = R"({"canary":"c1","percent":25.0})";
  EXPECT_EQ(client.readReply(), "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n");
  ASSERT_TRUE(client.send("mirror get \"c1\"\n"));  // bare LF and quotes, as redis accepts
  EXPECT_EQ(client.readReply(), "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n");
}

TEST_F(AdminServerTest, PipelinedRepliesInOrder) {
  start();
  Client client(path_);
  ASSERT_TRUE(
      client.send("MIRROR SET c1 7\r\n*3\r\n$6\r\nMIRROR\r\n$3\r\nGET\r\n$2\r\nc1\r\n"
                  "NOPE\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  const std::string payload = R"({"canary":"c1","percent":7.0})";
  EXPECT_EQ(client.readReply(), "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n");
  EXPECT_EQ(client.readReply(), "-ERR unknown command 'NOPE', try HELP\r\n");
}

TEST_F(AdminServerTest, CommandSplitAcrossWrites) {
  start();
  Client client(path_);
  const std::string request = "*4\r\n$6\r\nMIRROR\r\n$3\r\nSET\r\n$2\r\nc1\r\n$4\r\n0.01\r\n";
  for (char c : request) {
    ASSERT_TRUE(client.send(std::string(1, c)));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  EXPECT_EQ(fake_.percentOf("c1"), 1u);
}

TEST_F(AdminServerTest, HalfCloseStillGetsReplies) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("MIRROR PAUSE\r\nMIRROR GET\r\n"));
  client.shutdownWrite();
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  const std::string payload = R"({"paused":true,"canaries":{"c1":25.0}})";
  EXPECT_EQ(client.readReply(), "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n");
  EXPECT_TRUE(client.closedByPeer());
}

TEST_F(AdminServerTest, MalformedRequestGetsProtocolErrorAndClose) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("MIRROR PAUSE\r\n*x\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  EXPECT_EQ(client.readReply(), "-ERR Protocol error: invalid multibulk length\r\n");
  EXPECT_TRUE(client.closedByPeer());
  EXPECT_TRUE(fake_.paused());
}

TEST_F(AdminServerTest, UnbalancedQuotesGetProtocolError) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("MIRROR GET \"c1\r\n"));
  EXPECT_EQ(client.readReply(), "-ERR Protocol error: unbalanced quotes in request\r\n");
  EXPECT_TRUE(client.closedByPeer());
}

TEST_F(AdminServerTest, OversizedRequestIsRefused) {
  start();
  Client client(path_);
  // A bulk length Redis would accept, but more than an admin command may be.
  client.send("*2\r\n$4\r\nHELP\r\n$2000000\r\n" + std::string(1100 * 1024, 'x'));
  EXPECT_EQ(client.readReply(), "-ERR Protocol error: command larger than 64 KiB\r\n");
  EXPECT_TRUE(client.closedByPeer());
}

TEST_F(AdminServerTest, QuitClosesAfterOk) {
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("QUIT\r\nMIRROR PAUSE\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
  EXPECT_TRUE(client.closedByPeer());
  EXPECT_FALSE(fake_.paused());  // nothing after QUIT runs
}

TEST_F(AdminServerTest, ManyClientsAtOnce) {
  start();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<Client>(path_));
    ASSERT_TRUE(clients.back()->send("MIRROR SET c1 " + std::to_string(i) + "\r\n"));
  }
  for (auto& client : clients) EXPECT_EQ(client->readReply(), "+OK\r\n");
}

TEST_F(AdminServerTest, ClientThatDoesNotReadIsPausedNotBuffered) {
  AdminLimits unlimited;
  unlimited.commandsPerSecond = 0;  // this test is about replies, not the rate limit
  server_->setLimits(unlimited);
  start();
  Client client(path_);
  constexpr int kRequests = 20000;  // about 20 MB of HELP replies
  std::thread sender([&] {
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += "HELP\r\n";
    for (int i = 0; i < kRequests / 100; ++i) client.send(batch);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the queues fill
  const std::string first = client.readReply();
  ASSERT_EQ(first.substr(0, 1), "$");
  int replies = 1;
  for (; replies < kRequests; ++replies) {
    if (client.readReply() != first) break;
  }
  sender.join();
  EXPECT_EQ(replies, kRequests);
}

TEST_F(AdminServerTest, LimitsConnections) {
  start();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 128; ++i) {
    clients.push_back(std::make_unique<Client>(path_));
    ASSERT_TRUE(clients.back()->send("MIRROR RESUME\r\n"));
    ASSERT_EQ(clients.back()->readReply(), "+OK\r\n");
  }
  Client extra(path_);
  EXPECT_EQ(extra.readReply(), "-ERR too many admin connections\r\n");
  EXPECT_TRUE(extra.closedByPeer());
  clients.pop_back();
  // The closed connection frees its slot (once the server has seen the close).
  for (int attempt = 0; attempt < 100; ++attempt) {
    Client another(path_);
    another.send("MIRROR RESUME\r\n");
    if (another.readReply() == "+OK\r\n") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "no slot freed";
}

TEST_F(AdminServerTest, CloseWithOpenConnections) {
  start();
  Client idle(path_);
  Client busy(path_);
  ASSERT_TRUE(busy.send("MIRROR GET\r\n"));
  EXPECT_EQ(busy.readReply().substr(0, 1), "$");
  ASSERT_TRUE(busy.send("*3\r\n$6\r\nMIRROR\r\n"));  // incomplete
  stop();
  EXPECT_TRUE(idle.closedByPeer());
  EXPECT_TRUE(busy.closedByPeer());
}

TEST_F(AdminServerTest, ReplacesStaleSocket) {
  {
    // A socket file left by a dead process: bound, never unlinked, nobody listening.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ::close(fd);
  }
  start();
  Client client(path_);
  ASSERT_TRUE(client.send("MIRROR RESUME\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
}

TEST_F(AdminServerTest, RefusesLiveSocket) {
  start();
  AdminServer second(&loop_, commands_);
  // listen() on another loop thread would race; the check itself is synchronous
  // and does not touch the loop unless the path is free, so call it from here.
  EXPECT_NE(second.listen(path_).find("in use"), std::string::npos);
  Client client(path_);
  ASSERT_TRUE(client.send("MIRROR RESUME\r\n"));
  EXPECT_EQ(client.readReply(), "+OK\r\n");
}

TEST_F(AdminServerTest, RefusesNonSocketPath) {
  std::ofstream(path_) << "keep me";
  const std::string error = server_->listen(path_);
  EXPECT_NE(error.find("is not a socket"), std::string::npos) << error;
  std::ifstream in(path_);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
}

TEST_F(AdminServerTest, ReportsBindErrors) {
  EXPECT_NE(server_->listen(dir_ + "/missing/admin.sock").find("cannot bind"), std::string::npos);
  EXPECT_NE(server_->listen(dir_ + "/" + std::string(120, 'a')).find("too long"),
            std::string::npos);
}

bool haveTool(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

std::string capture(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

TEST_F(AdminServerTest, RedisCli) {
  if (!haveTool("redis-cli")) GTEST_SKIP() << "redis-cli not installed";
  start();
  EXPECT_EQ(capture("timeout 10 redis-cli -s " + path_ + " MIRROR SET c1 25.5"), "OK\n");
  EXPECT_EQ(fake_.percentOf("c1"), 2550u);
  EXPECT_EQ(capture("timeout 10 redis-cli -s " + path_ + " mirror get c1"),
            "{\"canary\":\"c1\",\"percent\":25.5}\n");
  const std::string error = capture("timeout 10 redis-cli -s " + path_ + " MIRROR SET c1 250 2>&1");
  EXPECT_TRUE(error.starts_with(
      "ERR percent must be a number between 0 and 100 with at most 2 decimals, got '250'\n"))
      << error;
}

TEST_F(AdminServerTest, Socat) {
  if (!haveTool("socat")) GTEST_SKIP() << "socat not installed";
  start();
  EXPECT_EQ(capture("echo 'MIRROR GET c1' | timeout 10 socat - UNIX-CONNECT:" + path_),
            "$30\r\n{\"canary\":\"c1\",\"percent\":25.0}\r\n");
}

}  // namespace
}  // namespace redmirror::control
