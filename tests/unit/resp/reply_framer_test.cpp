// ReplyFramer: every input is also fed split at every byte boundary and one byte
// at a time (replyAllWays).
#include "redmirror/resp/reply_framer.h"

#include <gtest/gtest.h>

#include <string>

#include "framer_test_util.h"

namespace redmirror::resp {
namespace {

using testing::printable;
using testing::RecordedAtom;
using testing::RecordedReply;
using testing::replyAllWays;
using testing::replyPieces;

RecordedAtom atom(char type, std::string text = "", int64_t integer = 0, bool isNull = false,
                  bool complete = true) {
  // Integers and aggregates have no text: their capture is never "complete".
  if (type == 0 || std::string_view(":*%~>").find(type) != std::string_view::npos) complete = false;
  return {type, {std::move(text), complete}, integer, isNull};
}

// The single frame an input must produce; checks begin/end cover the input.
RecordedReply single(const std::string& in) {
  const auto run = replyAllWays(in);
  EXPECT_TRUE(run.ok) << printable(in) << ": " << run.error;
  EXPECT_EQ(run.frames.size(), 1u) << printable(in);
  if (run.frames.size() != 1) return {};
  EXPECT_EQ(run.frames[0].begin, 0u);
  EXPECT_EQ(run.frames[0].end, in.size());
  return run.frames[0];
}

std::string failureOf(const std::string& in) {
  const auto run = replyAllWays(in);
  EXPECT_FALSE(run.ok) << printable(in);
  return run.error;
}

TEST(ReplyFramer, SimpleTypes) {
  EXPECT_EQ(single("+OK\r\n").top, atom('+', "OK"));
  EXPECT_EQ(single("+\r\n").top, atom('+', ""));
  EXPECT_EQ(single("-ERR unknown command\r\n").top, atom('-', "ERR unknown command"));
  EXPECT_EQ(single(":0\r\n").top, atom(':', "", 0));
  EXPECT_EQ(single(":-42\r\n").top, atom(':', "", -42));
  EXPECT_EQ(single(":9223372036854775807\r\n").top, atom(':', "", INT64_MAX));
  EXPECT_EQ(single(":-9223372036854775808\r\n").top, atom(':', "", INT64_MIN));
  EXPECT_EQ(single("_\r\n").top, atom('_', "", 0, true));
  EXPECT_EQ(single(",3.14\r\n").top, atom(',', "3.14"));
  EXPECT_EQ(single(",-inf\r\n").top, atom(',', "-inf"));
  EXPECT_EQ(single("#t\r\n").top, atom('#', "t", 1));
  EXPECT_EQ(single("#f\r\n").top, atom('#', "f", 0));
  EXPECT_EQ(single("(3492890328409238509324850943850943825024385\r\n").top,
            atom('(', "34928903284092385093248509438509", 0, false, false));
}

TEST(ReplyFramer, IsErrorAndIsPush) {
  ReplyFrame f;
  f.top.type = '-';
  EXPECT_TRUE(f.isError());
  f.top.type = '!';
  EXPECT_TRUE(f.isError());
  f.top.type = '>';
  EXPECT_TRUE(f.isPush());
  EXPECT_FALSE(f.isError());
}

TEST(ReplyFramer, LengthPrefixedTypes) {
  EXPECT_EQ(single("$5\r\nhello\r\n").top, atom('$', "hello", 5));
  EXPECT_EQ(single("$0\r\n\r\n").top, atom('$', "", 0));
  EXPECT_EQ(single("$-1\r\n").top, atom('$', "", -1, true, false));
  const std::string binary("a\r\nb\0c\r\n", 8);
  EXPECT_EQ(single("$8\r\n" + binary + "\r\n").top, atom('$', binary, 8));
  const std::string big(100, 'z');
  EXPECT_EQ(single("$100\r\n" + big + "\r\n").top, atom('$', std::string(32, 'z'), 100, false, false));
  EXPECT_EQ(single("!21\r\nSYNTAX invalid syntax\r\n").top, atom('!', "SYNTAX invalid syntax", 21));
  EXPECT_EQ(single("=15\r\ntxt:Some string\r\n").top, atom('=', "txt:Some string", 15));
}

TEST(ReplyFramer, Aggregates) {
  auto r = single("*2\r\n$3\r\nfoo\r\n:1\r\n");
  EXPECT_EQ(r.top, atom('*', "", 2));
  EXPECT_EQ(r.head[0], atom('$', "foo", 3));
  EXPECT_EQ(r.head[1], atom(':', "", 1));
  EXPECT_EQ(r.head[2], atom(0, "", 0, false, false));

  EXPECT_EQ(single("*0\r\n").top, atom('*', "", 0));
  EXPECT_EQ(single("*-1\r\n").top, atom('*', "", -1, true, false));

  r = single("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n");
  EXPECT_EQ(r.top, atom('%', "", 2));
  EXPECT_EQ(r.head[0], atom('+', "a"));
  EXPECT_EQ(r.head[1], atom(':', "", 1));
  EXPECT_EQ(r.head[2], atom('+', "b"));

  r = single("~3\r\n_\r\n#t\r\n,1.5\r\n");
  EXPECT_EQ(r.top, atom('~', "", 3));
  EXPECT_EQ(r.head[0], atom('_', "", 0, true));

  EXPECT_EQ(single("%0\r\n").top, atom('%', "", 0));
}

TEST(ReplyFramer, NestedAggregatesAreOneFrameAndNotSummarisedInHead) {
  const auto r = single("*3\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n*0\r\n");
  EXPECT_EQ(r.top, atom('*', "", 3));
  EXPECT_EQ(r.head[0].type, 0);  // an aggregate: not a scalar
  EXPECT_EQ(r.head[1], atom('$', "", -1, true, false));
  EXPECT_EQ(r.head[2].type, 0);
}

TEST(ReplyFramer, PubSubMessagesResp2AndResp3) {
  auto r = single("*3\r\n$9\r\nsubscribe\r\n$3\r\nfoo\r\n:1\r\n");
  EXPECT_TRUE(r.head[0].text.bytes == "subscribe");
  EXPECT_EQ(r.head[1], atom('$', "foo", 3));
  EXPECT_EQ(r.head[2], atom(':', "", 1));
  r = single(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
  EXPECT_EQ(r.top, atom('>', "", 3));
  EXPECT_EQ(r.head[0], atom('$', "message", 7));
  EXPECT_EQ(r.head[2], atom('$', "hello", 5));
}

TEST(ReplyFramer, AttributesFoldIntoTheFollowingValue) {
  // DEBUG PROTOCOL ATTRIB, as in Redis's protocol tests.
  const std::string in =
      "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
      "$39\r\nSome real reply following the attribute\r\n";
  const auto r = single(in);
  EXPECT_EQ(r.top, atom('$', "Some real reply following the at", 39, false, false));
  EXPECT_EQ(r.head[0].type, 0);

  // An attribute inside an aggregate is not an element.
  const auto nested = single("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n|0\r\n:2\r\n");
  EXPECT_EQ(nested.top, atom('*', "", 2));
  EXPECT_EQ(nested.head[0], atom(':', "", 1));
  EXPECT_EQ(nested.head[1], atom(':', "", 2));

  // Two attributes in a row, then a pipeline.
  const std::string two = "|0\r\n|1\r\n+k\r\n+v\r\n+OK\r\n";
  const auto run = replyAllWays(two + ":5\r\n");
  ASSERT_EQ(run.frames.size(), 2u);
  EXPECT_EQ(run.frames[0].begin, 0u);
  EXPECT_EQ(run.frames[0].end, two.size());
  EXPECT_EQ(run.frames[0].top, atom('+', "OK"));
  EXPECT_EQ(run.frames[1].top, atom(':', "", 5));
}

TEST(ReplyFramer, StreamedStrings) {
  const auto r = single("$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;2\r\nld\r\n;0\r\n");
  EXPECT_EQ(r.top, atom('$', "Hello world", -1));
  const auto longer = single("$?\r\n;20\r\n01234567890123456789\r\n;20\r\n01234567890123456789\r\n;0\r\n");
  EXPECT_EQ(longer.top, atom('$', "01234567890123456789012345678901", -1, false, false));
  EXPECT_EQ(single("$?\r\n;0\r\n").top, atom('$', "", -1));
}

TEST(ReplyFramer, StreamedAggregates) {
  auto r = single("*?\r\n:1\r\n:2\r\n.\r\n");
  EXPECT_EQ(r.top, atom('*', "", -1));
  EXPECT_EQ(r.head[1], atom(':', "", 2));
  r = single("%?\r\n+a\r\n:1\r\n.\r\n");
  EXPECT_EQ(r.top, atom('%', "", -1));
  r = single("~?\r\n*?\r\n.\r\n.\r\n");
  EXPECT_EQ(r.top, atom('~', "", -1));
  EXPECT_EQ(r.head[0].type, 0);
  r = single(">?\r\n*?\r\n:1\r\n.\r\n$?\r\n;1\r\nx\r\n;0\r\n.\r\n");
  EXPECT_EQ(r.top, atom('>', "", -1));
  EXPECT_EQ(r.head[1], atom('$', "x", -1));
}

TEST(ReplyFramer, PipelineOffsetsAreExact) {
  const std::vector<std::string> replies = {
      "+OK\r\n", "$3\r\nbar\r\n", "$-1\r\n", ":12\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
      "-WRONGTYPE Operation\r\n", "%1\r\n+k\r\n*1\r\n_\r\n", ">2\r\n+x\r\n+y\r\n", "*0\r\n"};
  std::string in;
  for (const auto& r : replies) in += r;
  const auto run = replyAllWays(in);
  ASSERT_TRUE(run.ok) << run.error;
  ASSERT_EQ(run.frames.size(), replies.size());
  uint64_t at = 0;
  for (size_t i = 0; i < replies.size(); ++i) {
    EXPECT_EQ(run.frames[i].begin, at);
    at += replies[i].size();
    EXPECT_EQ(run.frames[i].end, at);
    EXPECT_EQ(run.frames[i].top.type, replies[i][0]);
  }
}

TEST(ReplyFramer, HeadIsClearedForTheNextFrame) {
  const auto run = replyAllWays("*3\r\n+a\r\n+b\r\n+c\r\n+OK\r\n:1\r\n$1\r\nx\r\n*1\r\n:2\r\n");
  ASSERT_EQ(run.frames.size(), 5u);
  for (size_t i = 1; i < 4; ++i) {
    for (const auto& h : run.frames[i].head) EXPECT_EQ(h, atom(0)) << "frame " << i;
  }
  EXPECT_EQ(run.frames[4].head[0], atom(':', "", 2));
  EXPECT_EQ(run.frames[4].head[1], atom(0));
}

TEST(ReplyFramer, LoneCarriageReturnInsideALineIsContent) {
  EXPECT_EQ(single("+a\rb\r\n").top, atom('+', "a\rb"));
  EXPECT_EQ(single("-\r\r\n").top, atom('-', "\r"));
  EXPECT_EQ(single("+\r\r\r\n").top, atom('+', "\r\r"));
}

TEST(ReplyFramer, SimpleStringsHaveNoLengthLimit) {
  const std::string text(200000, 's');
  const auto run = replyPieces("+" + text + "\r\n+OK\r\n", {100, 70000, 150000});
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 2u);
  EXPECT_EQ(run.frames[0].top, atom('+', std::string(32, 's'), 0, false, false));
  EXPECT_EQ(run.frames[1].begin, text.size() + 3);
}

TEST(ReplyFramer, DepthIsBounded) {
  std::string ok;
  for (size_t i = 0; i < kMaxReplyDepth; ++i) ok += "*1\r\n";
  ok += ":1\r\n";
  EXPECT_EQ(single(ok).top, atom('*', "", 1));
  std::string deep;
  for (size_t i = 0; i <= kMaxReplyDepth; ++i) deep += "*1\r\n";
  EXPECT_EQ(failureOf(deep + ":1\r\n"), "Protocol error: reply nested too deep");
  // Attributes count towards the depth too.
  std::string attrs;
  for (size_t i = 0; i <= kMaxReplyDepth; ++i) attrs += "|1\r\n";
  EXPECT_FALSE(replyAllWays(attrs).ok);
}

TEST(ReplyFramer, HugeCountsAreOnlyCounters) {
  ReplyFramer framer;
  testing::ReplyRecorder rec;
  EXPECT_TRUE(framer.feed(std::string_view("*2147483647\r\n:1\r\n:2\r\n%2147483647\r\n"), rec));
  EXPECT_TRUE(rec.frames.empty());
  EXPECT_EQ(failureOf("*2147483648\r\n"), "Protocol error: invalid aggregate length");
  EXPECT_EQ(failureOf("$536870913\r\n"), "Protocol error: invalid bulk length");
  EXPECT_TRUE(replyAllWays("$536870912\r\nabc").ok);
}

TEST(ReplyFramer, MalformedStreams) {
  EXPECT_EQ(failureOf("@foo\r\n"), "Protocol error: unknown reply type byte '@'");
  EXPECT_EQ(failureOf("+OK\r\n\x01"), "Protocol error: unknown reply type byte 0x01");
  EXPECT_EQ(failureOf("$5\r\nhelloXY"), "Protocol error: bulk payload not followed by CRLF");
  EXPECT_EQ(failureOf("$5\r\nhello\rX"), "Protocol error: bulk payload not followed by CRLF");
  EXPECT_EQ(failureOf("$-2\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(failureOf("!-1\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(failureOf("=?\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(failureOf("%-1\r\n"), "Protocol error: invalid aggregate length");
  EXPECT_EQ(failureOf("~-1\r\n"), "Protocol error: invalid aggregate length");
  EXPECT_EQ(failureOf("|?\r\n"), "Protocol error: invalid aggregate length");
  EXPECT_EQ(failureOf(":1.5\r\n"), "Protocol error: invalid integer reply");
  EXPECT_EQ(failureOf(":01\r\n"), "Protocol error: invalid integer reply");
  EXPECT_EQ(failureOf(":\r\n"), "Protocol error: invalid integer reply");
  EXPECT_EQ(failureOf(":123456789012345678901\r\n"), "Protocol error: number line too long");
  EXPECT_EQ(failureOf(":1\rx"), "Protocol error: '\\r' not followed by '\\n'");
  EXPECT_EQ(failureOf("_x\r\n"), "Protocol error: null '_' with a payload");
  EXPECT_EQ(failureOf("#x\r\n"), "Protocol error: boolean '#' is neither t nor f");
  EXPECT_EQ(failureOf("#tt\r\n"), "Protocol error: boolean '#' is neither t nor f");
  EXPECT_EQ(failureOf(".\r\n"), "Protocol error: '.' outside a streamed aggregate");
  EXPECT_EQ(failureOf("*1\r\n.\r\n"), "Protocol error: '.' outside a streamed aggregate");
  EXPECT_EQ(failureOf("*?\r\n.x\r\n"), "Protocol error: '.' with a payload");
  EXPECT_EQ(failureOf("%?\r\n+k\r\n.\r\n"), "Protocol error: streamed map ended after a key");
  EXPECT_EQ(failureOf("$?\r\n:1\r\n"), "Protocol error: expected ';' in a streamed string");
  EXPECT_EQ(failureOf("$?\r\n;-1\r\n"), "Protocol error: invalid streamed string chunk length");
  EXPECT_EQ(failureOf("$?\r\n;2\r\nabX\r\n"), "Protocol error: bulk payload not followed by CRLF");
}

TEST(ReplyFramer, FramesBeforeAFailureAreReportedAndFailureIsSticky) {
  const auto run = replyAllWays("+OK\r\n:1\r\n$2\r\nabc\r\n");
  EXPECT_FALSE(run.ok);
  EXPECT_EQ(run.frames.size(), 2u);
  ReplyFramer framer;
  testing::ReplyRecorder rec;
  EXPECT_FALSE(framer.feed(std::string_view("?"), rec));
  EXPECT_FALSE(framer.feed(std::string_view("+OK\r\n"), rec));
  EXPECT_TRUE(rec.frames.empty());
  EXPECT_EQ(framer.offset(), 6u);
}

TEST(ReplyFramer, LargeBulkAcrossManyFeeds) {
  const std::string value(1 << 20, 'v');
  const std::string in = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n+OK\r\n";
  std::vector<size_t> cuts;
  for (size_t i = 16384; i < in.size(); i += 16384) cuts.push_back(i);
  const auto run = replyPieces(in, cuts);
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 2u);
  EXPECT_EQ(run.frames[0].top, atom('$', std::string(32, 'v'), 1 << 20, false, false));
  EXPECT_EQ(run.frames[1].begin, in.size() - 5);
  EXPECT_EQ(run.frames, replyPieces(in, {}).frames);
  // Split right inside the CRLF after the payload.
  EXPECT_EQ(replyPieces(in, {in.size() - 6}).frames, run.frames);
  EXPECT_EQ(replyPieces(in, {in.size() - 7}).frames, run.frames);
}

}  // namespace
}  // namespace redmirror::resp
