// RESP3 through the proxy (raw sockets: hiredis 0.14 only reads RESP2): HELLO 3 maps, sets,
// doubles, every type of DEBUG PROTOCOL, CLIENT TRACKING invalidation pushes, RESP3 pub/sub
// pushes, and switching back to RESP2. Replies are compared byte for byte with the same
// exchange made with Redis directly.
#include <gtest/gtest.h>

#include "harness.h"

namespace it {
namespace {

std::string hello3Prefix() {
  return "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n";
}

class Resp3 : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    proxy_ = std::make_unique<Proxy>(
        redis_.port(), GetParam() ? std::vector<std::string>{} : std::vector<std::string>{"--no-observe"});
  }
  void TearDown() override {
    if (!proxy_) return;  // SetUp failed
    EXPECT_TRUE(proxy_->alive()) << proxy_->stderrText();
    EXPECT_EQ(proxy_->stop(), 0) << proxy_->stderrText();
  }
  // Sends the command on both connections and expects identical replies; returns the reply.
  std::string same(RawClient& direct, RawClient& proxied, const std::vector<std::string>& args) {
    const std::string request = cmd(args);
    EXPECT_TRUE(direct.sendAll(request));
    EXPECT_TRUE(proxied.sendAll(request));
    const auto expected = direct.readReply();
    const auto got = proxied.readReply();
    EXPECT_TRUE(expected.has_value()) << args[0];
    EXPECT_TRUE(got.has_value()) << args[0] << ": proxy sent '" << proxied.buffer() << "'"
                                 << (proxied.peerClosed() ? " and closed" : "");
    if (!expected || !got) return "";
    EXPECT_EQ(*got, *expected) << "command " << request;
    return *got;
  }

  RedisServer redis_{{"--enable-debug-command", "yes"}};
  std::unique_ptr<Proxy> proxy_;
};

INSTANTIATE_TEST_SUITE_P(Modes, Resp3, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "observe" : "no_observe"; });

TEST_P(Resp3, HelloMapsSetsDoubles) {
  RawClient c(proxy_->port());
  ASSERT_TRUE(c.sendAll(cmd({"HELLO", "3"})));
  auto hello = c.readReply();
  ASSERT_TRUE(hello) << c.buffer();
  EXPECT_EQ(hello->rfind(hello3Prefix(), 0), 0u) << *hello;
  EXPECT_NE(hello->find("$5\r\nproto\r\n:3\r\n"), std::string::npos) << *hello;

  ASSERT_TRUE(c.sendAll(cmd({"SADD", "s", "m1"}) + cmd({"SMEMBERS", "s"}) +
                        cmd({"ZADD", "z", "1.5", "a"}) + cmd({"ZSCORE", "z", "a"}) +
                        cmd({"HSET", "h", "f", "v"}) + cmd({"HGETALL", "h"}) +
                        cmd({"GET", "missing"}) + cmd({"INCRBYFLOAT", "fl", "0.5"}) +
                        cmd({"ZRANGE", "z", "0", "-1", "WITHSCORES"})));
  EXPECT_EQ(c.readReply(), std::optional<std::string>(":1\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("~1\r\n$2\r\nm1\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>(":1\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>(",1.5\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>(":1\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("%1\r\n$1\r\nf\r\n$1\r\nv\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("_\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("$3\r\n0.5\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n"));

  // Back to RESP2 on the same connection.
  ASSERT_TRUE(c.sendAll(cmd({"HELLO", "2"}) + cmd({"SMEMBERS", "s"}) + cmd({"ZSCORE", "z", "a"}) +
                        cmd({"GET", "missing"})));
  hello = c.readReply();
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->rfind("*14\r\n", 0), 0u) << *hello;
  EXPECT_EQ(c.readReply(), std::optional<std::string>("*1\r\n$2\r\nm1\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("$3\r\n1.5\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("$-1\r\n"));
}

// Every reply type Redis can produce (DEBUG PROTOCOL), in RESP3 and RESP2, as Redis sends it.
TEST_P(Resp3, EveryDebugProtocolTypeSameAsDirect) {
  RawClient direct(redis_.port()), proxied(proxy_->port());
  ASSERT_TRUE(direct.connected() && proxied.connected());
  const std::vector<std::string> types = {"string", "integer", "double", "bignum", "null",
                                          "array",  "set",     "map",    "attrib", "push",
                                          "verbatim", "true",  "false"};
  for (int resp : {3, 2}) {
    ASSERT_TRUE(direct.sendAll(cmd({"HELLO", std::to_string(resp)})));
    ASSERT_TRUE(proxied.sendAll(cmd({"HELLO", std::to_string(resp)})));
    ASSERT_TRUE(direct.readReply());
    ASSERT_TRUE(proxied.readReply());
    for (const auto& type : types) {
      const std::string reply = same(direct, proxied, {"DEBUG", "PROTOCOL", type});
      if (resp == 3 && type == "attrib") {
        EXPECT_EQ(reply.substr(0, 1), "|");
      }
      if (resp == 3 && type == "push") {
        EXPECT_EQ(reply.substr(0, 1), ">");
        // A push is followed by the real reply.
        same(direct, proxied, {"PING"});
      }
    }
    // The same, pipelined in one write.
    std::string batch;
    for (const auto& type : types) batch += cmd({"DEBUG", "PROTOCOL", type});
    batch += cmd({"ECHO", "batch-end"});
    ASSERT_TRUE(direct.sendAll(batch));
    ASSERT_TRUE(proxied.sendAll(batch));
    const auto expected = direct.readUntil("batch-end\r\n");
    const auto got = proxied.readUntil("batch-end\r\n");
    ASSERT_TRUE(expected);
    ASSERT_TRUE(got) << proxied.buffer();
    EXPECT_EQ(*got, *expected);
  }
}

TEST_P(Resp3, ClientTrackingInvalidationPush) {
  RawClient tracked(proxy_->port());
  ASSERT_TRUE(tracked.sendAll(cmd({"HELLO", "3"})));
  ASSERT_TRUE(tracked.readReply());
  ASSERT_TRUE(tracked.sendAll(cmd({"CLIENT", "TRACKING", "ON"}) + cmd({"SET", "tk", "1"}) +
                              cmd({"GET", "tk"})));
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>("+OK\r\n"));
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>("+OK\r\n"));
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>("$1\r\n1\r\n"));

  Ctx writer = connectRedis(proxy_->port());
  ASSERT_TRUE(writer && !writer->err);
  EXPECT_EQ(describe(command(writer.get(), "SET tk 2").get()), "+OK");
  EXPECT_EQ(tracked.readReply(),
            std::optional<std::string>(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\ntk\r\n"));

  // A push arriving between pipelined replies: read it again, then invalidate while a
  // request is in flight.
  ASSERT_TRUE(tracked.sendAll(cmd({"GET", "tk"})));
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>("$1\r\n2\r\n"));
  ASSERT_TRUE(tracked.sendAll(cmd({"BLPOP", "nolist", "0.3"})));
  EXPECT_EQ(describe(command(writer.get(), "SET tk 3").get()), "+OK");
  EXPECT_EQ(tracked.readReply(),
            std::optional<std::string>(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\ntk\r\n"));
  EXPECT_EQ(tracked.readReply(Millis(3000)), std::optional<std::string>("_\r\n"));
  ASSERT_TRUE(tracked.sendAll(cmd({"PING"})));
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>("+PONG\r\n"));

  // FLUSHALL invalidates everything with a null key list.
  ASSERT_TRUE(tracked.sendAll(cmd({"GET", "tk"})));
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>("$1\r\n3\r\n"));
  EXPECT_EQ(describe(command(writer.get(), "FLUSHALL").get()), "+OK");
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>(">2\r\n$10\r\ninvalidate\r\n_\r\n"));
  ASSERT_TRUE(tracked.sendAll(cmd({"CLIENT", "TRACKING", "OFF"}) + cmd({"PING"})));
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>("+OK\r\n"));
  EXPECT_EQ(tracked.readReply(), std::optional<std::string>("+PONG\r\n"));
}

TEST_P(Resp3, PubSubPushesAndCommandsWhileSubscribed) {
  RawClient sub(proxy_->port());
  ASSERT_TRUE(sub.sendAll(cmd({"HELLO", "3"})));
  ASSERT_TRUE(sub.readReply());
  ASSERT_TRUE(sub.sendAll(cmd({"SUBSCRIBE", "ch"})));
  EXPECT_EQ(sub.readReply(), std::optional<std::string>(">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"));
  Ctx pub = connectRedis(proxy_->port());
  ASSERT_TRUE(pub && !pub->err);
  EXPECT_EQ(describe(command(pub.get(), "PUBLISH ch m1").get()), ":1");
  EXPECT_EQ(sub.readReply(), std::optional<std::string>(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nm1\r\n"));
  // RESP3 allows ordinary commands while subscribed.
  ASSERT_TRUE(sub.sendAll(cmd({"SET", "x", "y"}) + cmd({"GET", "x"})));
  EXPECT_EQ(sub.readReply(), std::optional<std::string>("+OK\r\n"));
  EXPECT_EQ(describe(command(pub.get(), "PUBLISH ch m2").get()), ":1");
  EXPECT_EQ(sub.readReply(), std::optional<std::string>("$1\r\ny\r\n"));
  EXPECT_EQ(sub.readReply(), std::optional<std::string>(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nm2\r\n"));
  ASSERT_TRUE(sub.sendAll(cmd({"UNSUBSCRIBE", "ch"}) + cmd({"PING"})));
  EXPECT_EQ(sub.readReply(), std::optional<std::string>(">3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"));
  EXPECT_EQ(sub.readReply(), std::optional<std::string>("+PONG\r\n"));
}

}  // namespace
}  // namespace it
