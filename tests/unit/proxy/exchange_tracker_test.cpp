// Reply matching through the connection modes where Redis does not answer one
// reply per command. Bytes go through the real framers, as in a session.
#include "redmirror/proxy/exchange_tracker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace redmirror::proxy {
namespace {

class Recorder : public ExchangeObserver {
 public:
  void onExchange(const Exchange& exchange) override {
    matched.push_back(std::string(exchange.command.name.view()) + "=" +
                      std::string(1, exchange.reply.top.type) +
                      std::string(exchange.reply.top.text.view()));
  }
  void onMatchingEnded(std::string_view reason) override { ended = std::string(reason); }
  std::vector<std::string> matched;
  std::string ended;
};

class TrackerTest : public ::testing::Test {
 protected:
  void client(const std::string& bytes) { ASSERT_TRUE(requests_.feed(bytes, tracker_)); }
  void server(const std::string& bytes) { ASSERT_TRUE(replies_.feed(bytes, tracker_)); }

  Recorder recorder_;
  ExchangeTracker tracker_{&recorder_};
  resp::RequestFramer requests_;
  resp::ReplyFramer replies_;
};

using Matched = std::vector<std::string>;

TEST_F(TrackerTest, PipelinedRepliesPairInOrder) {
  client("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\nGET a\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
  EXPECT_EQ(tracker_.pending(), 3u);
  server("+OK\r\n$1\r\n1\r\n:7\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"set=+OK", "get=$1", "incr=:"}));
  EXPECT_EQ(tracker_.pending(), 0u);
  EXPECT_TRUE(tracker_.active());
}

TEST_F(TrackerTest, EmptyAndZeroLengthRequestsExpectNoReply) {
  client("\r\n*0\r\n*-1\r\nPING\r\n");
  EXPECT_EQ(tracker_.pending(), 1u);
  server("+PONG\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"ping=+PONG"}));
}

TEST_F(TrackerTest, ClientReplyOffSuppressesRepliesUntilOn) {
  client("CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nCLIENT REPLY ON\r\nGET a\r\n");
  server("+OK\r\n$1\r\n1\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"client=+OK", "get=$1"}));
  EXPECT_TRUE(tracker_.active());
}

TEST_F(TrackerTest, ClientReplySkipSuppressesOnlyTheNextCommand) {
  client("CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\n");
  server("$1\r\n1\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"get=$1"}));
  EXPECT_TRUE(tracker_.active());
}

TEST_F(TrackerTest, ClientReplySkipWhileOffChangesNothing) {
  client("CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n");
  server("+OK\r\n+PONG\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"client=+OK", "ping=+PONG"}));
}

TEST_F(TrackerTest, ClientReplyWithABadModeGetsItsErrorMatched) {
  client("CLIENT REPLY MAYBE\r\nPING\r\n");
  server("-ERR syntax error\r\n+PONG\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"client=-ERR syntax error", "ping=+PONG"}));
}

TEST_F(TrackerTest, AReplyNobodyAskedForEndsMatching) {
  client("CLIENT REPLY OFF\r\n");
  server("-NOAUTH Authentication required.\r\n");
  EXPECT_FALSE(tracker_.active());
  EXPECT_EQ(recorder_.ended, "a reply arrived with no command awaiting it");
}

TEST_F(TrackerTest, Resp2SubscribeConfirmationsAndMessagesAreNotReplies) {
  client("SUBSCRIBE a b\r\n");
  server("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
  EXPECT_TRUE(tracker_.subscribed());
  EXPECT_EQ(tracker_.pending(), 0u);
  server("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n");
  client("PING\r\n");
  server("*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nhi\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"ping=*"}));
  // UNSUBSCRIBE with no channel answers once per channel held.
  client("UNSUBSCRIBE\r\nGET k\r\n");
  server("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n");
  EXPECT_EQ(tracker_.pending(), 2u);
  server("*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n$-1\r\n");
  EXPECT_FALSE(tracker_.subscribed());
  EXPECT_EQ(recorder_.matched, (Matched{"ping=*", "get=$"}));
  EXPECT_TRUE(tracker_.active());
}

TEST_F(TrackerTest, InPubSubFromTheSubscribeUntilTheLastUnsubscribe) {
  client("SUBSCRIBE a\r\n");
  EXPECT_TRUE(tracker_.inPubSub());  // before its confirmation: a pipelined PING answers *2 pong
  EXPECT_FALSE(tracker_.subscribed());
  server("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  EXPECT_TRUE(tracker_.inPubSub());
  client("UNSUBSCRIBE a\r\n");
  server("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n");
  EXPECT_FALSE(tracker_.inPubSub());
}

TEST_F(TrackerTest, UnsubscribeAllCountsOnlyItsOwnKind) {
  client("SUBSCRIBE a\r\nPSUBSCRIBE p*\r\nUNSUBSCRIBE\r\nPING\r\n");
  server("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  server("*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n");
  // One channel held: one confirmation; the pattern remains (count 1).
  server("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n");
  EXPECT_EQ(tracker_.pending(), 1u);
  EXPECT_TRUE(tracker_.subscribed());
  server("*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"ping=*"}));
}

TEST_F(TrackerTest, UnsubscribeWithNothingHeldAnswersOnce) {
  client("UNSUBSCRIBE\r\nPING\r\n");
  server("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n+PONG\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"ping=+PONG"}));
  EXPECT_TRUE(tracker_.active());
}

TEST_F(TrackerTest, AFailedSubscribeIsAnsweredByItsError) {
  client("SUBSCRIBE a\r\nPING\r\n");
  server("-NOAUTH Authentication required.\r\n+PONG\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"subscribe=-NOAUTH Authentication required.", "ping=+PONG"}));
  EXPECT_FALSE(tracker_.subscribed());
}

TEST_F(TrackerTest, Resp3PushesAnswerNothing) {
  client("HELLO 3\r\n");
  server("%1\r\n+server\r\n+redis\r\n");
  EXPECT_EQ(tracker_.protocol(), 3);
  client("SUBSCRIBE a\r\nGET k\r\n");
  server(">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  server(">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n");
  server(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
  server("_\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"hello=%", "get=_"}));
  EXPECT_TRUE(tracker_.active());
}

TEST_F(TrackerTest, Resp3ArraysThatLookLikeMessagesAreReplies) {
  client("HELLO 3\r\nLRANGE l 0 -1\r\n");
  server("%0\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"hello=%", "lrange=*"}));
}

TEST_F(TrackerTest, Resp2ArraysThatLookLikeMessagesAreRepliesWhenNotSubscribed) {
  client("LRANGE l 0 -1\r\n");
  server("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"lrange=*"}));
}

TEST_F(TrackerTest, FailedHelloKeepsTheProtocol) {
  client("HELLO 4\r\nHELLO 3\r\n");
  server("-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(tracker_.protocol(), 2);
  server("%0\r\n");
  EXPECT_EQ(tracker_.protocol(), 3);
}

TEST_F(TrackerTest, MonitorEndsMatchingOnlyWhenItSucceeds) {
  client("MONITOR\r\n");
  server("-NOAUTH Authentication required.\r\n");
  EXPECT_TRUE(tracker_.active());
  client("MONITOR\r\n");
  server("+OK\r\n+1700000000.000000 [0 127.0.0.1:1234] \"PING\"\r\n");
  EXPECT_FALSE(tracker_.active());
  EXPECT_EQ(recorder_.ended, "MONITOR");
}

TEST_F(TrackerTest, ModeChangeInsideMultiEndsMatching) {
  client("MULTI\r\nSET a 1\r\nEXEC\r\nMULTI\r\nSUBSCRIBE x\r\n");
  EXPECT_FALSE(tracker_.active());
  EXPECT_EQ(recorder_.ended, "connection mode change inside MULTI");
}

TEST_F(TrackerTest, TransactionsPairOneReplyPerCommand) {
  client("MULTI\r\nINCR a\r\nINCR a\r\nEXEC\r\nPING\r\n");
  server("+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:2\r\n+PONG\r\n");
  EXPECT_EQ(recorder_.matched,
            (Matched{"multi=+OK", "incr=+QUEUED", "incr=+QUEUED", "exec=*", "ping=+PONG"}));
}

TEST_F(TrackerTest, ResetLeavesPubSubAndResp3) {
  client("HELLO 3\r\nSUBSCRIBE a\r\nRESET\r\nGET k\r\n");
  server("%0\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n+RESET\r\n$-1\r\n");
  EXPECT_EQ(tracker_.protocol(), 2);
  EXPECT_FALSE(tracker_.subscribed());
  EXPECT_EQ(recorder_.matched, (Matched{"hello=%", "reset=+RESET", "get=$"}));
}

TEST_F(TrackerTest, AttributesFoldIntoTheReplyTheyPrecede) {
  client("HELLO 3\r\nGET k\r\n");
  server("%0\r\n|1\r\n+key-popularity\r\n%1\r\n$1\r\nk\r\n,0.5\r\n$1\r\nv\r\n");
  EXPECT_EQ(recorder_.matched, (Matched{"hello=%", "get=$v"}));
}

TEST_F(TrackerTest, EndClearsPendingAndIgnoresLaterBytes) {
  client("GET a\r\nGET b\r\n");
  tracker_.end("framer failed");
  EXPECT_EQ(tracker_.pending(), 0u);
  server("$-1\r\n$-1\r\n");
  EXPECT_TRUE(recorder_.matched.empty());
  EXPECT_EQ(recorder_.ended, "framer failed");
}

}  // namespace
}  // namespace redmirror::proxy
