// Forwarding through the proxy against a real redis-server: pipelines, large values,
// transactions, blocking commands, pub/sub, MONITOR, CLIENT REPLY, SELECT, AUTH and
// concurrency with several workers. Every test runs with the framer observing and with
// --no-observe (pure byte pipe).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "harness.h"

namespace it {
namespace {

using std::chrono::steady_clock;

std::vector<std::string> modeArgs(bool observe) {
  return observe ? std::vector<std::string>{} : std::vector<std::string>{"--no-observe"};
}

class Forwarding : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    proxy_ = std::make_unique<Proxy>(redis_.port(), modeArgs(GetParam()));
  }
  void TearDown() override {
    if (!proxy_) return;  // SetUp failed
    ASSERT_TRUE(proxy_->alive()) << "proxy died: status " << proxy_->exitStatus().value_or(-1)
                                 << "\n" << proxy_->stderrText();
    const int status = proxy_->stop();
    EXPECT_EQ(status, 0) << proxy_->stderrText();
  }
  uint16_t port() const { return proxy_->port(); }
  Ctx client(Millis timeout = Millis(10000)) {
    Ctx c = connectRedis(port(), timeout);
    EXPECT_TRUE(c && !c->err) << (c ? c->errstr : "alloc");
    return c;
  }

  RedisServer redis_;
  std::unique_ptr<Proxy> proxy_;
};

INSTANTIATE_TEST_SUITE_P(Modes, Forwarding, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "observe" : "no_observe"; });

// 100,000 pipelined commands written in one go; replies must come back in order, byte exact.
TEST_P(Forwarding, HundredThousandPipelinedCommandsAnsweredInOrder) {
  RawClient c(port());
  ASSERT_TRUE(c.connected());
  std::string requests, expected;
  requests.reserve(4 << 20);
  expected.reserve(2 << 20);
  long long counter = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string key = "key:" + std::to_string((i / 3) % 997);
    switch (i % 3) {
      case 0: {
        requests += cmd({"SET", key, "value-" + std::to_string(i)});
        expected += "+OK\r\n";
        break;
      }
      case 1:
        requests += cmd({"INCR", "counter"});
        expected += ":" + std::to_string(++counter) + "\r\n";
        break;
      default: {
        requests += cmd({"GET", key});
        const std::string v = "value-" + std::to_string(i - 2);
        expected += "$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
      }
    }
  }
  ASSERT_TRUE(c.sendAll(requests, Millis(60000)));
  const std::string got = c.readExactly(expected.size(), Millis(30000));
  ASSERT_EQ(got.size(), expected.size());
  // Locate the first difference for a readable failure.
  if (got != expected) {
    size_t at = 0;
    while (at < got.size() && got[at] == expected[at]) ++at;
    FAIL() << "replies differ at byte " << at << ": got '" << got.substr(at, 60)
           << "' expected '" << expected.substr(at, 60) << "'";
  }
  EXPECT_TRUE(c.quietFor(Millis(50)));
}

// The same through hiredis's pipelining API (redisAppendCommand), mixed with large-ish values.
TEST_P(Forwarding, HiredisPipelineMixedSizes) {
  Ctx c = client();
  ASSERT_TRUE(c && !c->err);
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) {
    const std::string v(static_cast<size_t>(i % 50 == 0 ? 40000 : i % 100), static_cast<char>('a' + i % 26));
    redisAppendCommand(c.get(), "SET k%d %b", i % 64, v.data(), v.size());
    redisAppendCommand(c.get(), "GET k%d", i % 64);
  }
  for (int i = 0; i < kN; ++i) {
    Reply set = getReply(c.get());
    ASSERT_TRUE(set) << c->errstr;
    ASSERT_EQ(set->type, REDIS_REPLY_STATUS) << describe(set.get());
    Reply get = getReply(c.get());
    ASSERT_TRUE(get) << c->errstr;
    ASSERT_EQ(get->type, REDIS_REPLY_STRING) << describe(get.get());
    const std::string v(static_cast<size_t>(i % 50 == 0 ? 40000 : i % 100), static_cast<char>('a' + i % 26));
    ASSERT_EQ(std::string(get->str, get->len), v) << "command " << i;
  }
}

// A 64 MiB binary value: SET then GET, byte exact; also SET+GET pipelined in one write.
TEST_P(Forwarding, SixtyFourMiBValueRoundTrip) {
  Ctx c = client(Millis(60000));
  ASSERT_TRUE(c && !c->err);
  std::string value(64u << 20, '\0');
  std::mt19937_64 rng(42);
  for (size_t i = 0; i + 8 <= value.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(&value[i], &r, 8);
  }
  // Make sure protocol-looking bytes are inside.
  std::memcpy(&value[1000], "\r\n$5\r\n*3\r\n", 10);
  Reply set = command(c.get(), "SET big %b", value.data(), value.size());
  ASSERT_TRUE(set) << c->errstr;
  ASSERT_EQ(describe(set.get()), "+OK");
  Reply get = command(c.get(), "GET big");
  ASSERT_TRUE(get) << c->errstr;
  ASSERT_EQ(get->type, REDIS_REPLY_STRING);
  ASSERT_EQ(get->len, value.size());
  EXPECT_TRUE(std::memcmp(get->str, value.data(), value.size()) == 0) << "value differs";
  get.reset();

  value[0] ^= 0x5a;
  redisAppendCommand(c.get(), "SET big2 %b", value.data(), value.size());
  redisAppendCommand(c.get(), "STRLEN big2");
  redisAppendCommand(c.get(), "GET big2");
  redisAppendCommand(c.get(), "PING");
  Reply r1 = getReply(c.get());
  ASSERT_TRUE(r1) << c->errstr;
  EXPECT_EQ(describe(r1.get()), "+OK");
  Reply r2 = getReply(c.get());
  ASSERT_TRUE(r2) << c->errstr;
  EXPECT_EQ(describe(r2.get()), ":" + std::to_string(value.size()));
  Reply r3 = getReply(c.get());
  ASSERT_TRUE(r3) << c->errstr;
  ASSERT_EQ(r3->type, REDIS_REPLY_STRING);
  ASSERT_EQ(r3->len, value.size());
  EXPECT_TRUE(std::memcmp(r3->str, value.data(), value.size()) == 0) << "pipelined value differs";
  Reply r4 = getReply(c.get());
  ASSERT_TRUE(r4) << c->errstr;
  EXPECT_EQ(describe(r4.get()), "+PONG");
}

// A client that stops reading while a large reply stream is owed: the proxy must pause
// (back-pressure) rather than buffer everything, then deliver all of it, in order.
TEST_P(Forwarding, SlowReaderBackPressure) {
  Ctx setup = client();
  ASSERT_TRUE(setup && !setup->err);
  std::string value(65536, 'x');
  for (size_t i = 0; i < value.size(); i += 97) value[i] = static_cast<char>('A' + i % 26);
  ASSERT_EQ(describe(command(setup.get(), "SET v64k %b", value.data(), value.size()).get()), "+OK");
  constexpr int kGets = 1000;  // 64 MiB of replies
  RawClient c(port());
  ASSERT_TRUE(c.connected());
  std::string requests;
  for (int i = 0; i < kGets; ++i) requests += cmd({"GET", "v64k"});
  requests += cmd({"PING"});
  ASSERT_TRUE(c.sendAll(requests));
  const long rssBefore = directMode() ? 0 : rssKib(proxy_->pid());
  std::this_thread::sleep_for(Millis(700));  // not reading
  if (!directMode() && !kSanitizedBuild) {
    const long rssStalled = rssKib(proxy_->pid());
    EXPECT_LT(rssStalled - rssBefore, 32 * 1024)
        << "proxy grew from " << rssBefore << " KiB to " << rssStalled << " KiB while the client stalled";
  }
  const std::string one = "$65536\r\n" + value + "\r\n";
  for (int i = 0; i < kGets; ++i) {
    const std::string got = c.readExactly(one.size(), Millis(10000));
    ASSERT_EQ(got.size(), one.size()) << "reply " << i;
    ASSERT_TRUE(got == one) << "reply " << i << " differs";
  }
  EXPECT_EQ(c.readReply(), std::optional<std::string>("+PONG\r\n"));
}

TEST_P(Forwarding, MultiExecAndDiscard) {
  Ctx c = client();
  ASSERT_TRUE(c && !c->err);
  EXPECT_EQ(describe(command(c.get(), "MULTI").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "SET t 10").get()), "+QUEUED");
  EXPECT_EQ(describe(command(c.get(), "INCRBY t 5").get()), "+QUEUED");
  EXPECT_EQ(describe(command(c.get(), "GET t").get()), "+QUEUED");
  EXPECT_EQ(describe(command(c.get(), "EXEC").get()), "[+OK, :15, \"15\"]");

  EXPECT_EQ(describe(command(c.get(), "MULTI").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "SET t 99").get()), "+QUEUED");
  EXPECT_EQ(describe(command(c.get(), "DISCARD").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "GET t").get()), "\"15\"");

  // A syntax error inside MULTI aborts EXEC.
  EXPECT_EQ(describe(command(c.get(), "MULTI").get()), "+OK");
  Reply bad = command(c.get(), "NOSUCHCOMMAND x");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->type, REDIS_REPLY_ERROR);
  Reply exec = command(c.get(), "EXEC");
  ASSERT_TRUE(exec);
  ASSERT_EQ(exec->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(exec->str).rfind("EXECABORT", 0), 0u) << describe(exec.get());

  // Pipelined transaction in one write.
  redisAppendCommand(c.get(), "MULTI");
  redisAppendCommand(c.get(), "INCR t");
  redisAppendCommand(c.get(), "INCR t");
  redisAppendCommand(c.get(), "EXEC");
  redisAppendCommand(c.get(), "GET t");
  const char* expected[] = {"+OK", "+QUEUED", "+QUEUED", "[:16, :17]", "\"17\""};
  for (const char* e : expected) EXPECT_EQ(describe(getReply(c.get()).get()), e);
}

TEST_P(Forwarding, WatchedKeyModifiedByOtherClientAbortsExec) {
  Ctx a = client(), b = client();
  ASSERT_TRUE(a && !a->err && b && !b->err);
  EXPECT_EQ(describe(command(a.get(), "SET w 1").get()), "+OK");
  EXPECT_EQ(describe(command(a.get(), "WATCH w").get()), "+OK");
  EXPECT_EQ(describe(command(b.get(), "SET w 2").get()), "+OK");
  EXPECT_EQ(describe(command(a.get(), "MULTI").get()), "+OK");
  EXPECT_EQ(describe(command(a.get(), "SET w 3").get()), "+QUEUED");
  Reply exec = command(a.get(), "EXEC");
  ASSERT_TRUE(exec);
  EXPECT_EQ(exec->type, REDIS_REPLY_NIL) << describe(exec.get());
  EXPECT_EQ(describe(command(a.get(), "GET w").get()), "\"2\"");

  // Without interference the WATCHed transaction commits.
  EXPECT_EQ(describe(command(a.get(), "WATCH w").get()), "+OK");
  EXPECT_EQ(describe(command(a.get(), "MULTI").get()), "+OK");
  EXPECT_EQ(describe(command(a.get(), "SET w 4").get()), "+QUEUED");
  EXPECT_EQ(describe(command(a.get(), "EXEC").get()), "[+OK]");
  EXPECT_EQ(describe(command(b.get(), "GET w").get()), "\"4\"");
}

TEST_P(Forwarding, BlpopUnblockedByAnotherClient) {
  RawClient blocked(port());
  ASSERT_TRUE(blocked.connected());
  ASSERT_TRUE(blocked.sendAll(cmd({"BLPOP", "queue", "10"})));
  EXPECT_TRUE(blocked.quietFor(Millis(300))) << "BLPOP answered early: " << blocked.buffer();
  Ctx pusher = client();
  ASSERT_TRUE(pusher && !pusher->err);
  const auto start = steady_clock::now();
  EXPECT_EQ(describe(command(pusher.get(), "LPUSH queue job1").get()), ":1");
  auto reply = blocked.readReply(Millis(5000));
  ASSERT_TRUE(reply) << "no BLPOP reply; got '" << blocked.buffer() << "'";
  EXPECT_EQ(*reply, "*2\r\n$5\r\nqueue\r\n$4\r\njob1\r\n");
  EXPECT_LT(steady_clock::now() - start, Millis(2000));
  // The connection keeps working, and a BLPOP with data present answers at once.
  ASSERT_TRUE(blocked.sendAll(cmd({"RPUSH", "queue", "a", "b"}) + cmd({"BLPOP", "queue", "1"}) +
                              cmd({"PING"})));
  EXPECT_EQ(blocked.readReply(), std::optional<std::string>(":2\r\n"));
  EXPECT_EQ(blocked.readReply(), std::optional<std::string>("*2\r\n$5\r\nqueue\r\n$1\r\na\r\n"));
  EXPECT_EQ(blocked.readReply(), std::optional<std::string>("+PONG\r\n"));
  // A timed-out BLPOP gives the nil array.
  ASSERT_TRUE(blocked.sendAll(cmd({"BLPOP", "empty", "0.2"}) + cmd({"PING"})));
  EXPECT_EQ(blocked.readReply(), std::optional<std::string>("*-1\r\n"));
  EXPECT_EQ(blocked.readReply(), std::optional<std::string>("+PONG\r\n"));
}

TEST_P(Forwarding, PubSubMessagesThenUnsubscribeAndNormalCommands) {
  Ctx sub = client(), pub = client();
  ASSERT_TRUE(sub && !sub->err && pub && !pub->err);
  EXPECT_EQ(describe(command(sub.get(), "SUBSCRIBE news sport").get()),
            "[\"subscribe\", \"news\", :1]");
  EXPECT_EQ(describe(getReply(sub.get()).get()), "[\"subscribe\", \"sport\", :2]");
  redisAppendCommand(sub.get(), "PSUBSCRIBE n*");
  EXPECT_EQ(describe(getReply(sub.get()).get()), "[\"psubscribe\", \"n*\", :3]");

  EXPECT_EQ(describe(command(pub.get(), "PUBLISH news hello").get()), ":2");  // channel + pattern
  EXPECT_EQ(describe(command(pub.get(), "PUBLISH sport goal").get()), ":1");
  const std::string big(100000, 'x');
  EXPECT_EQ(describe(command(pub.get(), "PUBLISH sport %b", big.data(), big.size()).get()), ":1");
  EXPECT_EQ(describe(getReply(sub.get()).get()), "[\"message\", \"news\", \"hello\"]");
  EXPECT_EQ(describe(getReply(sub.get()).get()), "[\"pmessage\", \"n*\", \"news\", \"hello\"]");
  EXPECT_EQ(describe(getReply(sub.get()).get()), "[\"message\", \"sport\", \"goal\"]");
  Reply bigMsg = getReply(sub.get());
  ASSERT_TRUE(bigMsg && bigMsg->type == REDIS_REPLY_ARRAY && bigMsg->elements == 3);
  EXPECT_EQ(std::string(bigMsg->element[2]->str, bigMsg->element[2]->len), big);

  // PING in subscribed mode (RESP2) answers ["pong", ""].
  redisAppendCommand(sub.get(), "PING");
  EXPECT_EQ(describe(getReply(sub.get()).get()), "[\"pong\", \"\"]");

  redisAppendCommand(sub.get(), "UNSUBSCRIBE");
  Reply u1 = getReply(sub.get());
  Reply u2 = getReply(sub.get());
  ASSERT_TRUE(u1 && u2);
  const std::string both = describe(u1.get()) + describe(u2.get());
  EXPECT_NE(both.find("\"unsubscribe\", \"news\""), std::string::npos) << both;
  EXPECT_NE(both.find("\"unsubscribe\", \"sport\""), std::string::npos) << both;
  redisAppendCommand(sub.get(), "PUNSUBSCRIBE");
  EXPECT_EQ(describe(getReply(sub.get()).get()), "[\"punsubscribe\", \"n*\", :0]");

  EXPECT_EQ(describe(command(pub.get(), "PUBLISH news nobody").get()), ":0");
  EXPECT_EQ(describe(command(sub.get(), "PING").get()), "+PONG");
  EXPECT_EQ(describe(command(sub.get(), "SET after sub").get()), "+OK");
  EXPECT_EQ(describe(command(sub.get(), "GET after").get()), "\"sub\"");
}

TEST_P(Forwarding, MonitorShowsOtherClientsCommands) {
  RawClient monitor(port());
  ASSERT_TRUE(monitor.connected());
  ASSERT_TRUE(monitor.sendAll(cmd({"MONITOR"})));
  EXPECT_EQ(monitor.readReply(), std::optional<std::string>("+OK\r\n"));
  Ctx other = client();
  ASSERT_TRUE(other && !other->err);
  EXPECT_EQ(describe(command(other.get(), "SET monitored-key v1").get()), "+OK");
  EXPECT_EQ(describe(command(other.get(), "GET monitored-key").get()), "\"v1\"");
  auto line = monitor.readUntil("\"GET\" \"monitored-key\"\r\n", Millis(5000));
  ASSERT_TRUE(line) << "feed so far: " << monitor.buffer();
  EXPECT_NE(line->find("\"SET\" \"monitored-key\" \"v1\""), std::string::npos) << *line;
  EXPECT_EQ(line->front(), '+');
}

TEST_P(Forwarding, ClientReplyOffSkipOn) {
  RawClient c(port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.sendAll(cmd({"CLIENT", "REPLY", "OFF"}) + cmd({"SET", "r", "1"}) +
                        cmd({"INCR", "r"}) + cmd({"GET", "r"}) + cmd({"NOSUCH"})));
  EXPECT_TRUE(c.quietFor(Millis(300))) << "got '" << c.buffer() << "'";
  ASSERT_TRUE(c.sendAll(cmd({"CLIENT", "REPLY", "ON"}) + cmd({"GET", "r"})));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("+OK\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("$1\r\n2\r\n"));

  // SKIP: the next command's reply is suppressed, then replies resume.
  ASSERT_TRUE(c.sendAll(cmd({"CLIENT", "REPLY", "SKIP"}) + cmd({"INCR", "r"}) +
                        cmd({"GET", "r"}) + cmd({"PING"})));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("$1\r\n3\r\n"));
  EXPECT_EQ(c.readReply(), std::optional<std::string>("+PONG\r\n"));
  EXPECT_TRUE(c.quietFor(Millis(100))) << "got '" << c.buffer() << "'";
}

TEST_P(Forwarding, SelectIsolatesDatabasesOnOneConnection) {
  Ctx c = client();
  ASSERT_TRUE(c && !c->err);
  EXPECT_EQ(describe(command(c.get(), "SET k db0").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "SELECT 1").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "GET k").get()), "(nil)");
  EXPECT_EQ(describe(command(c.get(), "SET k db1").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "SELECT 2").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "GET k").get()), "(nil)");
  EXPECT_EQ(describe(command(c.get(), "SELECT 1").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "GET k").get()), "\"db1\"");
  EXPECT_EQ(describe(command(c.get(), "SELECT 0").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "GET k").get()), "\"db0\"");
  Reply bad = command(c.get(), "SELECT 99999");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->type, REDIS_REPLY_ERROR);
  // A second connection starts in db 0, independently.
  EXPECT_EQ(describe(command(c.get(), "SELECT 1").get()), "+OK");
  Ctx d = client();
  ASSERT_TRUE(d && !d->err);
  EXPECT_EQ(describe(command(d.get(), "GET k").get()), "\"db0\"");
  EXPECT_EQ(describe(command(c.get(), "GET k").get()), "\"db1\"");
  // Directly on redis: db 1 holds db1.
  Ctx direct = connectRedis(redis_.port());
  ASSERT_TRUE(direct && !direct->err);
  EXPECT_EQ(describe(command(direct.get(), "SELECT 1").get()), "+OK");
  EXPECT_EQ(describe(command(direct.get(), "GET k").get()), "\"db1\"");
}

TEST_P(Forwarding, ManyConcurrentClientsWithTwoWorkers) {
  // This test wants its own proxy with two workers.
  Proxy proxy2(redis_.port(), modeArgs(GetParam()), 2);
  constexpr int kThreads = 20, kIncrs = 1000;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Ctx c = connectRedis(proxy2.port());
      if (!c || c->err) {
        ++errors;
        return;
      }
      for (int i = 0; i < kIncrs; ++i) {
        Reply r = command(c.get(), "INCR shared");
        if (!r || r->type != REDIS_REPLY_INTEGER) {
          ++errors;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  Ctx c = connectRedis(proxy2.port());
  ASSERT_TRUE(c && !c->err);
  EXPECT_EQ(describe(command(c.get(), "GET shared").get()), "\"20000\"");
  EXPECT_EQ(proxy2.stop(), 0) << proxy2.stderrText();
}

// AUTH against a server with requirepass.
class Auth : public ::testing::TestWithParam<bool> {
 protected:
  RedisServer redis_{{"--requirepass", "s3cret-pw"}};
};
INSTANTIATE_TEST_SUITE_P(Modes, Auth, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "observe" : "no_observe"; });

TEST_P(Auth, NoauthThenWrongPasswordThenOk) {
  Proxy proxy(redis_.port(), modeArgs(GetParam()));
  Ctx c = connectRedis(proxy.port());
  ASSERT_TRUE(c && !c->err);
  Reply r = command(c.get(), "GET k");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(r->str).rfind("NOAUTH", 0), 0u) << describe(r.get());
  r = command(c.get(), "AUTH wrong");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(r->str).rfind("WRONGPASS", 0), 0u) << describe(r.get());
  r = command(c.get(), "GET k");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, REDIS_REPLY_ERROR) << describe(r.get());
  EXPECT_EQ(describe(command(c.get(), "AUTH s3cret-pw").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "SET k v").get()), "+OK");
  EXPECT_EQ(describe(command(c.get(), "GET k").get()), "\"v\"");
  // AUTH is per connection: a new client is not authenticated.
  Ctx d = connectRedis(proxy.port());
  ASSERT_TRUE(d && !d->err);
  r = command(d.get(), "GET k");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, REDIS_REPLY_ERROR) << describe(r.get());
  // AUTH with a user name (ACL form).
  EXPECT_EQ(describe(command(d.get(), "AUTH default s3cret-pw").get()), "+OK");
  EXPECT_EQ(describe(command(d.get(), "GET k").get()), "\"v\"");
  // The proxy must not log the password.
  EXPECT_EQ(proxy.stop(), 0);
  EXPECT_EQ(proxy.stderrText().find("s3cret-pw"), std::string::npos) << proxy.stderrText();
}

}  // namespace
}  // namespace it
