// RequestFramer: every input is also fed split at every byte boundary and one
// byte at a time (requestAllWays), so split-independence is checked everywhere.
#include "redmirror/resp/request_framer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "framer_test_util.h"

// Largest single allocation made by this test program, to prove that no
// allocation is sized from a count on the wire.
namespace {
std::atomic<size_t> gLargestAllocation{0};
}  // namespace

// GCC flags free() on memory from (this very) operator new; the pair is consistent.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
  size_t seen = gLargestAllocation.load(std::memory_order_relaxed);
  while (n > seen && !gLargestAllocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace redmirror::resp {
namespace {

using testing::multibulk;
using testing::RecordedCapture;
using testing::requestAllWays;
using testing::requestPieces;

RecordedCapture cap(std::string bytes, bool complete = true) { return {std::move(bytes), complete}; }

using testing::printable;

std::string failureOf(const std::string& input) {
  const auto run = requestAllWays(input);
  EXPECT_FALSE(run.ok) << printable(input);
  return run.error;
}

TEST(RequestFramer, SingleCommandOffsetsAndCaptures) {
  const std::string in = "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
  const auto run = requestAllWays(in);
  ASSERT_TRUE(run.ok) << run.error;
  ASSERT_EQ(run.frames.size(), 1u);
  const auto& f = run.frames[0];
  EXPECT_EQ(f.begin, 0u);
  EXPECT_EQ(f.end, in.size());
  EXPECT_EQ(f.argc, 2u);
  EXPECT_FALSE(f.isInline);
  EXPECT_EQ(f.captured[0], cap("get"));
  EXPECT_EQ(f.captured[1], cap("foo"));
  EXPECT_EQ(f.captured[2], cap("", false));
  ASSERT_EQ(f.args.size(), 2u);
  EXPECT_EQ(f.args[0], std::make_pair(uint64_t{8}, uint64_t{3}));
  EXPECT_EQ(f.args[1], std::make_pair(uint64_t{17}, uint64_t{3}));
  EXPECT_FALSE(f.argsTruncated);
}

TEST(RequestFramer, NameIsLowercasedOtherArgsRaw) {
  const auto run = requestAllWays(multibulk({"SeT", "KeY", "VaLuE", "EX", "10"}));
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].captured[0], cap("set"));
  EXPECT_EQ(run.frames[0].captured[1], cap("KeY"));
  EXPECT_EQ(run.frames[0].captured[2], cap("VaLuE"));
  EXPECT_EQ(run.frames[0].argc, 5u);
  EXPECT_EQ(run.frames[0].args.size(), 5u);
}

TEST(RequestFramer, CapturesAreBoundedAndMarkedIncomplete) {
  const std::string name33(33, 'N');
  const std::string arg32(32, 'a');
  const std::string arg100(100, 'b');
  const auto run = requestAllWays(multibulk({name33, arg32, arg100}));
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].captured[0], cap(std::string(32, 'n'), false));
  EXPECT_EQ(run.frames[0].captured[1], cap(arg32, true));
  EXPECT_EQ(run.frames[0].captured[2], cap(std::string(32, 'b'), false));
  EXPECT_EQ(run.frames[0].args[2].second, 100u);
}

TEST(RequestFramer, CaptureIsMatchesCaseInsensitively) {
  struct Sink : RequestSink {
    void onCommand(const CommandFrame& f) override {
      isSubscribe = f.captured[0].is("subscribe");
      isReplyOff = f.captured[1].is("reply") && f.captured[2].is("off");
      truncated = f.captured[2].is(std::string(32, 'x'));
    }
    bool isSubscribe = false, isReplyOff = false, truncated = true;
  } sink;
  RequestFramer framer;
  ASSERT_TRUE(framer.feed(multibulk({"SUBSCRIBE", "Reply", "OFF"}), sink));
  EXPECT_TRUE(sink.isSubscribe);
  EXPECT_TRUE(sink.isReplyOff);
  ASSERT_TRUE(framer.feed(multibulk({"x", "y", std::string(40, 'x')}), sink));
  EXPECT_FALSE(sink.isSubscribe);
  EXPECT_FALSE(sink.truncated);  // 40 bytes captured as 32: never "is" anything
}

TEST(RequestFramer, BinaryPayloadIsSkippedByLengthNotScanned) {
  const std::string value("a\r\n*1\r\n$4\r\nPING\r\n\0\n", 19);
  const auto run = requestAllWays(multibulk({"SET", "k", value}) + multibulk({"GET", "k"}));
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 2u);
  EXPECT_EQ(run.frames[0].captured[2], cap(value));
  EXPECT_EQ(run.frames[1].captured[0], cap("get"));
  EXPECT_EQ(run.frames[1].begin, run.frames[0].end);
}

TEST(RequestFramer, TwoBytesAfterPayloadAreSkippedUncheckedAsRedisDoes) {
  const std::string in = "*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n";
  const auto run = requestAllWays(in);
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 2u);
  EXPECT_EQ(run.frames[0].end, 14u);
  EXPECT_EQ(run.frames[1].begin, 14u);
}

TEST(RequestFramer, EmptyArgument) {
  const auto run = requestAllWays("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n");
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].captured[1], cap(""));
  EXPECT_EQ(run.frames[0].args[1], std::make_pair(uint64_t{17}, uint64_t{0}));
}

TEST(RequestFramer, PipelineOffsetsAreExact) {
  std::string in;
  std::vector<std::pair<size_t, size_t>> expected;
  for (int i = 0; i < 20; ++i) {
    const size_t begin = in.size();
    if (i % 5 == 4) {
      in += "PING\r\n";
    } else if (i % 2 == 0) {
      in += multibulk({"SET", "key:" + std::to_string(i), std::string(static_cast<size_t>(i * 7), 'v')});
    } else {
      in += multibulk({"GET", "key:" + std::to_string(i)});
    }
    expected.emplace_back(begin, in.size());
  }
  const auto run = requestAllWays(in);
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(run.frames[i].begin, expected[i].first);
    EXPECT_EQ(run.frames[i].end, expected[i].second);
    EXPECT_EQ(run.frames[i].isInline, i % 5 == 4);
    for (const auto& [offset, length] : run.frames[i].args) {
      EXPECT_EQ(in.substr(offset + length, 2), "\r\n");
    }
  }
  EXPECT_EQ(run.offset, in.size());
}

TEST(RequestFramer, ArgumentPositionsPointAtPayloads) {
  const std::string in = "PING\r\n" + multibulk({"MSET", "a", "1", "bb", "22", "ccc", "333"});
  const auto run = requestAllWays(in);
  ASSERT_EQ(run.frames.size(), 2u);
  const std::vector<std::string> args{"MSET", "a", "1", "bb", "22", "ccc", "333"};
  ASSERT_EQ(run.frames[1].args.size(), args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    EXPECT_EQ(in.substr(run.frames[1].args[i].first, run.frames[1].args[i].second), args[i]);
  }
}

TEST(RequestFramer, ZeroAndNegativeCountsAreNoCommand) {
  const std::string ping = multibulk({"PING"});
  const std::string in = "*0\r\n*-1\r\n*-10\r\n" + ping;
  const auto run = requestAllWays(in);
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].begin, in.size() - ping.size());
  const auto minimal = requestAllWays("*-9223372036854775808\r\n");
  EXPECT_TRUE(minimal.ok);
  EXPECT_TRUE(minimal.frames.empty());
}

TEST(RequestFramer, ArgRefsStopAtTheLimitButTheCommandIsFramed) {
  std::vector<std::string> args{"MSET"};
  for (size_t i = 0; i < kMaxArgRefs; ++i) args.push_back(std::to_string(i % 10));
  const std::string in = multibulk(args) + multibulk({"GET", "x"});
  RequestFramer framer;
  testing::RequestRecorder rec;
  ASSERT_TRUE(framer.feed(in, rec));
  ASSERT_EQ(rec.frames.size(), 2u);
  EXPECT_EQ(rec.frames[0].argc, kMaxArgRefs + 1);
  EXPECT_EQ(rec.frames[0].args.size(), kMaxArgRefs);
  EXPECT_TRUE(rec.frames[0].argsTruncated);
  EXPECT_EQ(rec.frames[0].end, in.size() - multibulk({"GET", "x"}).size());
  EXPECT_FALSE(rec.frames[1].argsTruncated);
  // The same, split at every 997 bytes and one byte at a time.
  std::vector<size_t> cuts;
  for (size_t i = 997; i < in.size(); i += 997) cuts.push_back(i);
  EXPECT_EQ(requestPieces(in, cuts).frames, rec.frames);
  std::vector<size_t> bytewise;
  for (size_t i = 1; i < in.size(); ++i) bytewise.push_back(i);
  EXPECT_EQ(requestPieces(in, bytewise).frames, rec.frames);
}

TEST(RequestFramer, CountsAboveTheFastPathLimit) {
  std::vector<std::string> args{"DEL"};
  for (int i = 0; i < 5000; ++i) args.push_back("k");
  RequestFramer framer;
  testing::RequestRecorder rec;
  const std::string in = multibulk(args);
  ASSERT_TRUE(framer.feed(in, rec));
  ASSERT_EQ(rec.frames.size(), 1u);
  EXPECT_EQ(rec.frames[0].argc, 5001u);
  EXPECT_EQ(rec.frames[0].end, in.size());
}

// --- Inline commands ---------------------------------------------------------

TEST(RequestFramer, InlineCommands) {
  const std::string in = "PING\r\nset \"a b\" 'c d'\nGeT  x  \r\n";
  const auto run = requestAllWays(in);
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 3u);
  EXPECT_TRUE(run.frames[0].isInline);
  EXPECT_EQ(run.frames[0].begin, 0u);
  EXPECT_EQ(run.frames[0].end, 6u);
  EXPECT_EQ(run.frames[0].argc, 1u);
  EXPECT_EQ(run.frames[0].captured[0], cap("ping"));
  EXPECT_EQ(run.frames[1].begin, 6u);
  EXPECT_EQ(run.frames[1].end, 22u);
  EXPECT_EQ(run.frames[1].inlineArgs, (std::vector<std::string>{"set", "a b", "c d"}));
  EXPECT_EQ(run.frames[1].captured[1], cap("a b"));
  EXPECT_TRUE(run.frames[1].args.empty());
  EXPECT_EQ(run.frames[2].captured[0], cap("get"));
  EXPECT_EQ(run.frames[2].inlineArgs, (std::vector<std::string>{"GeT", "x"}));
  EXPECT_EQ(run.frames[2].end, in.size());
}

TEST(RequestFramer, InlineStripsOnlyOneCarriageReturn) {
  const auto run = requestAllWays("ECHO \"a\r\"\r\r\n");
  // Line is `ECHO "a\r"\r`: the closing quote is followed by '\r' (a space).
  ASSERT_TRUE(run.ok) << run.error;
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].inlineArgs, (std::vector<std::string>{"ECHO", "a\r"}));
}

TEST(RequestFramer, InlineThenMultibulkThenInline) {
  const std::string in = "PING\n" + multibulk({"GET", "a"}) + "\n \t \r\nQUIT\r\n";
  const auto run = requestAllWays(in);
  ASSERT_EQ(run.frames.size(), 3u);
  EXPECT_EQ(run.frames[2].captured[0], cap("quit"));
  EXPECT_EQ(run.frames[2].begin, in.size() - 6);
}

TEST(RequestFramer, InlineLineLimit) {
  // Up to 64 KiB before the '\n' is accepted; one more byte is refused.
  const std::string ok = "ECHO " + std::string(kMaxInlineLength - 5, 'x') + "\n";
  const auto run = requestAllWays(ok);
  ASSERT_TRUE(run.ok) << run.error;
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].inlineArgs[1].size(), kMaxInlineLength - 5);
  const std::string tooLong = "ECHO " + std::string(kMaxInlineLength - 4, 'x') + "\n";
  EXPECT_EQ(failureOf(tooLong), "Protocol error: too big inline request");
  EXPECT_EQ(failureOf(std::string(kMaxInlineLength + 10, 'x')), "Protocol error: too big inline request");
}

TEST(RequestFramer, InlineNulByteFails) {
  EXPECT_EQ(failureOf(std::string("GET a\0b\r\n", 9)), "Protocol error: too big inline request");
}

// --- Redis tests/unit/protocol.tcl ---------------------------------------------

TEST(RequestFramerRedisProtocol, HandleAnEmptyQuery) {
  const auto run = requestAllWays("\r\n" + multibulk({"PING"}));
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].captured[0], cap("ping"));
  EXPECT_EQ(run.frames[0].begin, 2u);
}

TEST(RequestFramerRedisProtocol, NegativeMultibulkLength) {
  const auto run = requestAllWays("*-10\r\n" + multibulk({"PING"}));
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].begin, 6u);
}

TEST(RequestFramerRedisProtocol, OutOfRangeMultibulkLength) {
  EXPECT_EQ(failureOf("*3000000000\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(failureOf("*2147483648\r\n"), "Protocol error: invalid multibulk length");
}

TEST(RequestFramerRedisProtocol, WrongMultibulkPayloadHeader) {
  EXPECT_EQ(failureOf("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"), "Protocol error: expected '$', got 'f'");
}

TEST(RequestFramerRedisProtocol, NegativeMultibulkPayloadLength) {
  EXPECT_EQ(failureOf("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"), "Protocol error: invalid bulk length");
}

TEST(RequestFramerRedisProtocol, OutOfRangeMultibulkPayloadLength) {
  EXPECT_EQ(failureOf("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n"), "Protocol error: invalid bulk length");
}

TEST(RequestFramerRedisProtocol, NonNumberMultibulkPayloadLength) {
  EXPECT_EQ(failureOf("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n"), "Protocol error: invalid bulk length");
}

TEST(RequestFramerRedisProtocol, MultiBulkRequestNotFollowedByBulkArguments) {
  EXPECT_EQ(failureOf("*1\r\nfoo\r\n"), "Protocol error: expected '$', got 'f'");
}

TEST(RequestFramerRedisProtocol, GenericWrongNumberOfArgsIsFramedNormally) {
  // Redis refuses "ping x y z" at the command level; the protocol is fine.
  const auto run = requestAllWays(multibulk({"ping", "x", "y", "z"}));
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 1u);
  EXPECT_EQ(run.frames[0].argc, 4u);
  EXPECT_EQ(run.frames[0].captured[0], cap("ping"));
}

TEST(RequestFramerRedisProtocol, UnbalancedNumberOfQuotesInInlineProtocol) {
  EXPECT_EQ(failureOf("set \"\"\"test-key\"\"\" test-value\r\nping\r\n"),
            "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(failureOf("set 'abc\r\n"), "Protocol error: unbalanced quotes in request");
}

TEST(RequestFramerRedisProtocol, ProtocolDesyncRegression) {
  // The test sends one of these, then "payload" repeated (no newline) until Redis
  // gives up: the line can never complete.
  std::string payload;
  while (payload.size() <= 2 * kMaxInlineLength) payload += "payload";
  EXPECT_EQ(failureOf(std::string(1, '\0') + payload), "Protocol error: too big inline request");
  EXPECT_EQ(failureOf(std::string("*\0", 2) + payload), "Protocol error: too big mbulk count string");
  EXPECT_EQ(failureOf(std::string("$\0", 2) + payload), "Protocol error: too big inline request");
  EXPECT_EQ(failureOf("*" + payload), "Protocol error: too big mbulk count string");
  EXPECT_EQ(failureOf("*1\r\n$" + payload), "Protocol error: too big bulk count string");
  EXPECT_EQ(failureOf("*1\r\n" + payload), "Protocol error: too big bulk count string");
}

// --- Number syntax (Redis string2ll) ----------------------------------------------

TEST(RequestFramer, CountSyntaxFollowsString2ll) {
  for (const char* bad : {"*\r\n", "*01\r\n", "*+1\r\n", "*-0\r\n", "*-\r\n", "*1x\r\n", "* 1\r\n",
                          "*99999999999999999999\r\n", "*123456789012345678901\r\n",
                          "*18446744073709551616\r\n", "*-9223372036854775809\r\n"}) {
    EXPECT_EQ(failureOf(bad), "Protocol error: invalid multibulk length") << printable(bad);
  }
  const auto pending = requestAllWays("*2147483647\r\n$4\r\nPING\r\n");
  EXPECT_TRUE(pending.ok);
  EXPECT_TRUE(pending.frames.empty());
}

TEST(RequestFramer, BulkLengthSyntaxFollowsString2ll) {
  for (const char* bad : {"$\r\n", "$01\r\n", "$+1\r\n", "$-0\r\n", "$-1\r\n", "$1 \r\n", "$536870913\r\n",
                          "$99999999999999999999\r\n", "$123456789012345678901\r\n"}) {
    EXPECT_EQ(failureOf(std::string("*1\r\n") + bad), "Protocol error: invalid bulk length") << printable(bad);
  }
  const auto maxLength = requestAllWays("*1\r\n$536870912\r\nabc");
  EXPECT_TRUE(maxLength.ok);
  EXPECT_TRUE(maxLength.frames.empty());
}

TEST(RequestFramer, ExpectedDollarMessageSanitisesLineBreaks) {
  EXPECT_EQ(failureOf("*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
  EXPECT_EQ(failureOf("*1\r\n\n$4\r\n"), "Protocol error: expected '$', got ' '");
  EXPECT_EQ(failureOf("*1\r\n:4\r\n"), "Protocol error: expected '$', got ':'");
}

TEST(RequestFramer, CarriageReturnMustBeFollowedByLineFeed) {
  EXPECT_FALSE(requestAllWays("*1\rx$4\r\nPING\r\n").ok);
  EXPECT_FALSE(requestAllWays("*1\r\n$4\rxPING\r\n").ok);
  // An invalid number is reported first, in Redis's words.
  EXPECT_EQ(failureOf("*x\rx"), "Protocol error: invalid multibulk length");
}

TEST(RequestFramer, NulInHeaderLineIsTooBig) {
  EXPECT_EQ(failureOf(std::string("*1\0\r\n", 5)), "Protocol error: too big mbulk count string");
  EXPECT_EQ(failureOf(std::string("*1\r\n$1\0\r\n", 9)), "Protocol error: too big bulk count string");
}

TEST(RequestFramer, HeaderLineLimit) {
  // A header line of 64 KiB (type byte included) is still judged by its number.
  EXPECT_EQ(failureOf("*" + std::string(kMaxInlineLength - 1, '1') + "\r\n"),
            "Protocol error: invalid multibulk length");
  EXPECT_EQ(failureOf("*" + std::string(kMaxInlineLength, '1') + "\r\n"),
            "Protocol error: too big mbulk count string");
}

// --- Robustness --------------------------------------------------------------------

TEST(RequestFramer, HugeCountsAllocateNothingSizedByThem) {
  gLargestAllocation = 0;
  RequestFramer framer;
  testing::RequestRecorder rec;
  const std::string in = "*2000000000\r\n$3\r\nSET\r\n$536870912\r\n";
  EXPECT_NO_THROW(EXPECT_TRUE(framer.feed(in, rec)));
  const std::string more(4096, 'x');
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(framer.feed(more, rec));
  EXPECT_TRUE(rec.frames.empty());
  EXPECT_LT(gLargestAllocation.load(), size_t{128 * 1024});
}

TEST(RequestFramer, FailureIsStickyAndOffsetCountsEverything) {
  RequestFramer framer;
  testing::RequestRecorder rec;
  const std::string good = multibulk({"PING"});
  EXPECT_TRUE(framer.feed(good, rec));
  EXPECT_FALSE(framer.feed(std::string_view("*x\r\n"), rec));
  EXPECT_TRUE(framer.failed());
  EXPECT_FALSE(framer.feed(good, rec));
  EXPECT_FALSE(framer.feed(std::span<const char>(), rec));
  EXPECT_EQ(rec.frames.size(), 1u);
  EXPECT_EQ(framer.offset(), 2 * good.size() + 4);
  EXPECT_EQ(framer.error(), "Protocol error: invalid multibulk length");
}

TEST(RequestFramer, FramesBeforeAFailureAreReported) {
  const auto run = requestAllWays(multibulk({"GET", "a"}) + "PING\r\n" + "*1\r\nfoo\r\n");
  EXPECT_FALSE(run.ok);
  EXPECT_EQ(run.frames.size(), 2u);
}

TEST(RequestFramer, LargeValueSpanningManyFeeds) {
  const std::string value(1 << 20, 'v');
  const std::string in = multibulk({"SET", "big", value}) + multibulk({"GET", "big"});
  std::vector<size_t> cuts;
  for (size_t i = 16384; i < in.size(); i += 16384) cuts.push_back(i);
  const auto run = requestPieces(in, cuts);
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.frames.size(), 2u);
  EXPECT_EQ(run.frames[0].args[2].second, value.size());
  EXPECT_EQ(run.frames[0].captured[2], cap(std::string(32, 'v'), false));
  EXPECT_EQ(run.frames[1].begin, run.frames[0].end);
  EXPECT_EQ(run.frames, requestPieces(in, {}).frames);
}

}  // namespace
}  // namespace redmirror::resp
