// Malformed and unusual requests: the same bytes are sent to redis-server directly and
// through the proxy; the replies must be identical byte for byte, and where Redis closes
// the connection the proxy must close it too.
#include <gtest/gtest.h>

#include <thread>

#include "harness.h"

namespace it {
namespace {

struct Case {
  const char* name;
  std::string input;
};

std::string repeat(char c, size_t n) { return std::string(n, c); }

// Inputs after which Redis replies with a protocol error and closes the connection
// (most from Redis's own tests/unit/protocol.tcl).
std::vector<Case> closingCases() {
  return {
      {"multibulk_length_out_of_range", "*3000000000\r\n"},
      {"multibulk_length_not_a_number", "*x\r\n"},
      {"expected_dollar", "*1\r\nfoo\r\n"},
      {"expected_dollar_got_minus", "*1\r\n-PING\r\n"},
      {"wrong_payload_header_after_args", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"},
      {"negative_bulk_length", "*1\r\n$-10\r\n"},
      {"negative_bulk_length_after_args", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"},
      {"bulk_length_out_of_range", "*1\r\n$3000000000\r\n"},
      {"bulk_length_over_512mb", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n"},
      {"bulk_length_not_a_number", "*1\r\n$abc\r\n"},
      {"bulk_length_blabla_after_args", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n"},
      {"unbalanced_quotes", "\"unbalanced\r\n"},
      {"unbalanced_quotes_in_args", "SET a \"b\r\n"},
      {"unbalanced_triple_quotes", "set \"\"\"test-key\"\"\" test-value\r\nping\r\n"},
      {"ping_then_bad_bulk_length", "PING\r\n*1\r\n$x\r\n"},
      {"valid_pipeline_then_bad_multibulk", "SET k v\r\nGET k\r\n*1\r\n$4\r\nPING\r\n*x\r\n"},
      {"valid_multibulk_then_expected_dollar", "*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\nfoo\r\n"},
      {"inline_over_64k_without_newline", repeat('a', 70000)},
      {"multibulk_count_line_over_64k", "*" + repeat('1', 70000)},
      {"bulk_count_line_over_64k", "*1\r\n$" + repeat('1', 70000)},
      {"quit_inline_then_more", "PING\r\nQUIT\r\nPING\r\n"},
      {"quit_multibulk_pipelined", "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n"},
  };
}

// Inputs Redis accepts (possibly with an error reply) without closing.
std::vector<Case> openCases() {
  return {
      {"empty_line_zero_and_null_multibulk", "\r\n*0\r\n*-1\r\nPING\r\n"},
      {"bare_newlines", "\n\n\nPING\n"},
      {"negative_multibulk_count", "*-5\r\nPING\r\n"},
      {"empty_command_name", "*1\r\n$0\r\n\r\n"},
      {"bulk_shorter_than_declared_crlf", "*2\r\n$3\r\nGET\r\n$1\r\nab\r\n"},
      {"wrong_number_of_args", "PING x y z\r\n"},
      {"inline_spaces_and_case", "  ping  \r\nEcHo   hello\r\n"},
      {"inline_quotes_and_escapes", "SET q 'single quoted'\r\nGET q\r\nECHO \"a\\x41b\\n\"\r\n"},
      {"inline_just_under_64k", "ECHO " + repeat('x', 60000) + "\r\n"},
      {"unknown_command", "NOSUCHCMD a b\r\n*2\r\n$9\r\nNOSUCHCMD\r\n$1\r\na\r\n"},
      {"binary_bulk_with_crlf_inside", "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$6\r\n\r\n*1\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"},
      {"quit_like_case_mixed_inline_and_multibulk", "PING\r\n*1\r\n$4\r\nPING\r\nPING\r\n"},
  };
}

struct Param {
  Case c;
  bool observe;
};

std::string paramName(const ::testing::TestParamInfo<Param>& info) {
  return std::string(info.param.c.name) + (info.param.observe ? "_observe" : "_no_observe");
}

std::vector<Param> withModes(const std::vector<Case>& cases) {
  std::vector<Param> out;
  for (bool observe : {true, false})
    for (const auto& c : cases) out.push_back({c, observe});
  return out;
}

std::string printable(const std::string& s) {
  std::string out;
  for (char ch : s.substr(0, 300)) {
    if (ch == '\r') out += "\\r";
    else if (ch == '\n') out += "\\n";
    else if (static_cast<unsigned char>(ch) < 32) out += "\\x" + std::to_string(ch);
    else out += ch;
  }
  if (s.size() > 300) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

class MalformedBase : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    proxy_ = std::make_unique<Proxy>(
        redis_.port(),
        GetParam().observe ? std::vector<std::string>{} : std::vector<std::string>{"--no-observe"});
  }
  void TearDown() override {
    if (!proxy_) return;  // SetUp failed
    // The proxy still serves new clients, and shuts down cleanly.
    RawClient after(proxy_->port());
    ASSERT_TRUE(after.connected());
    ASSERT_TRUE(after.sendAll("PING\r\n"));
    EXPECT_EQ(after.readReply(), std::optional<std::string>("+PONG\r\n"));
    after.close();
    EXPECT_TRUE(proxy_->alive()) << proxy_->stderrText();
    EXPECT_EQ(proxy_->stop(), 0) << proxy_->stderrText();
  }
  RedisServer redis_;
  std::unique_ptr<Proxy> proxy_;
};

class MalformedClosing : public MalformedBase {};
class MalformedOpen : public MalformedBase {};

TEST_P(MalformedClosing, SameBytesAndConnectionClosed) {
  const std::string& input = GetParam().c.input;
  RawClient direct(redis_.port()), proxied(proxy_->port());
  ASSERT_TRUE(direct.connected() && proxied.connected());
  direct.sendAll(input);
  proxied.sendAll(input);
  const std::string expected = direct.readUntilClosed(Millis(5000));
  const std::string got = proxied.readUntilClosed(Millis(5000));
  ASSERT_TRUE(direct.peerClosed()) << "redis did not close; test case is wrong";
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(printable(got), printable(expected));
  EXPECT_TRUE(proxied.peerClosed()) << "proxy did not close the connection";
}

TEST_P(MalformedOpen, SameBytesAndConnectionKeptOpen) {
  const std::string input = GetParam().c.input + cmd({"ECHO", "end-of-case"});
  RawClient direct(redis_.port()), proxied(proxy_->port());
  ASSERT_TRUE(direct.connected() && proxied.connected());
  ASSERT_TRUE(direct.sendAll(input));
  ASSERT_TRUE(proxied.sendAll(input));
  const auto expected = direct.readUntil("end-of-case\r\n", Millis(5000));
  ASSERT_TRUE(expected) << "redis did not answer: " << printable(direct.buffer());
  const auto got = proxied.readUntil("end-of-case\r\n", Millis(5000));
  ASSERT_TRUE(got) << "proxy did not answer; got " << printable(proxied.buffer())
                   << (proxied.peerClosed() ? " (closed)" : "");
  EXPECT_EQ(printable(*got), printable(*expected));
  // Still usable afterwards.
  ASSERT_TRUE(proxied.sendAll(cmd({"PING"})));
  EXPECT_EQ(proxied.readReply(), std::optional<std::string>("+PONG\r\n"));
}

INSTANTIATE_TEST_SUITE_P(Cases, MalformedClosing, ::testing::ValuesIn(withModes(closingCases())),
                         paramName);
INSTANTIATE_TEST_SUITE_P(Cases, MalformedOpen, ::testing::ValuesIn(withModes(openCases())),
                         paramName);

// A pipeline delivered one byte per write (TCP_NODELAY, tiny pauses) is answered exactly as
// Redis answers it, in both modes.
class ByteAtATime : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Modes, ByteAtATime, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "observe" : "no_observe"; });

TEST_P(ByteAtATime, SplitEverywhere) {
  RedisServer redis;
  Proxy proxy(redis.port(), GetParam() ? std::vector<std::string>{}
                                       : std::vector<std::string>{"--no-observe"});
  const std::string input = cmd({"SET", "split", "va\r\nlue"}) + "GET split\r\n" +
                            cmd({"HSET", "h", "f", "1"}) + "\r\n" + cmd({"HGETALL", "h"}) +
                            "*0\r\n" + cmd({"ECHO", "done"});
  RawClient direct(redis.port()), proxied(proxy.port());
  ASSERT_TRUE(direct.sendAll(input));
  const auto expected = direct.readUntil("done\r\n");
  ASSERT_TRUE(direct.sendAll(cmd({"FLUSHALL"})));
  ASSERT_EQ(direct.readReply(), std::optional<std::string>("+OK\r\n"));
  for (char ch : input) {
    ASSERT_TRUE(proxied.sendAll(std::string(1, ch)));
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  const auto got = proxied.readUntil("done\r\n");
  ASSERT_TRUE(expected);
  ASSERT_TRUE(got) << printable(proxied.buffer());
  EXPECT_EQ(printable(*got), printable(*expected));
  EXPECT_EQ(proxy.stop(), 0) << proxy.stderrText();
}

}  // namespace
}  // namespace it
