// splitInlineArgs must behave exactly like Redis's sdssplitargs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "redmirror/resp/request_framer.h"

namespace redmirror::resp {
namespace {

using Args = std::vector<std::string>;

Args split(std::string_view line) {
  Args out{"sentinel"};
  EXPECT_TRUE(splitInlineArgs(line, out)) << line;
  return out;
}

bool refused(std::string_view line) {
  Args out{"sentinel"};
  const bool ok = splitInlineArgs(line, out);
  EXPECT_TRUE(out.empty());
  return !ok;
}

TEST(InlineArgs, EmptyAndBlankLines) {
  EXPECT_EQ(split(""), Args{});
  EXPECT_EQ(split("   \t  "), Args{});
  EXPECT_EQ(split("\v\f\r\n"), Args{});
}

TEST(InlineArgs, PlainTokens) {
  EXPECT_EQ(split("set foo bar"), (Args{"set", "foo", "bar"}));
  EXPECT_EQ(split("  a \t b\r\nc  "), (Args{"a", "b", "c"}));
}

TEST(InlineArgs, VerticalTabAndFormFeedAreBlanksOnlyBetweenTokens) {
  // isspace() skips them before a token, but they do not end an unquoted token.
  EXPECT_EQ(split("\va\vb\f c"), (Args{"a\vb\f", "c"}));
}

TEST(InlineArgs, DoubleQuotes) {
  EXPECT_EQ(split("set \"a b\" \"\""), (Args{"set", "a b", ""}));
  EXPECT_EQ(split("\"\\x41\\x7a\\n\\r\\t\\b\\a\\\\\\\"\\q\""),
            (Args{std::string("Az\n\r\t\b\a\\\"q")}));
  // Not two hex digits: the backslash escapes 'x' itself.
  EXPECT_EQ(split("\"\\x4g\""), (Args{"x4g"}));
  EXPECT_EQ(split("\"\\xZZ\""), (Args{"xZZ"}));
  EXPECT_EQ(split("\"\\x00\""), (Args{std::string(1, '\0')}));
  EXPECT_EQ(split("\"\\xff\""), (Args{std::string(1, '\xff')}));
}

TEST(InlineArgs, SingleQuotes) {
  EXPECT_EQ(split("'a b' 'it\\'s'"), (Args{"a b", "it's"}));
  // Only \' is an escape inside single quotes.
  EXPECT_EQ(split("'a\\nb\\x41'"), (Args{"a\\nb\\x41"}));
}

TEST(InlineArgs, QuoteInsideAnUnquotedTokenOpensQuoting) {
  EXPECT_EQ(split("foo\"bar baz\" x"), (Args{"foobar baz", "x"}));
  EXPECT_EQ(split("a'b c'"), (Args{"ab c"}));
}

TEST(InlineArgs, ClosingQuoteMustBeFollowedBySpaceOrEnd) {
  EXPECT_TRUE(refused("\"a\"b"));
  EXPECT_TRUE(refused("'a'b"));
  EXPECT_TRUE(refused("set \"\"\"test-key\"\"\" test-value"));
  EXPECT_EQ(split("\"a\"\tb"), (Args{"a", "b"}));
  EXPECT_EQ(split("\"a\"\vb"), (Args{"a", "b"}));
}

TEST(InlineArgs, UnterminatedQuotes) {
  EXPECT_TRUE(refused("\"abc"));
  EXPECT_TRUE(refused("'abc"));
  EXPECT_TRUE(refused("\"abc\\\""));  // \" is an escaped quote
  EXPECT_TRUE(refused("\"abc\\"));    // a trailing backslash is kept, then the line ends
  EXPECT_TRUE(refused("x \""));
}

TEST(InlineArgs, NulEndsTheLineAsInC) {
  EXPECT_EQ(split(std::string_view("a b\0c d", 7)), (Args{"a", "b"}));
  EXPECT_TRUE(refused(std::string_view("\"a\0\"", 4)));
}

TEST(CaptureIs, ComparesCompleteCapturesCaseInsensitively) {
  Capture c;
  const std::string s = "SubScribe";
  std::copy(s.begin(), s.end(), c.bytes.begin());
  c.size = static_cast<uint8_t>(s.size());
  c.complete = true;
  EXPECT_TRUE(c.is("subscribe"));
  EXPECT_FALSE(c.is("subscrib"));
  EXPECT_FALSE(c.is("psubscribe"));
  c.complete = false;
  EXPECT_FALSE(c.is("subscribe"));
  Capture empty;
  empty.complete = true;
  EXPECT_TRUE(empty.is(""));
  // Only ASCII letters fold: '@' (0x40) is not '`' (0x60).
  Capture at;
  at.bytes[0] = '@';
  at.size = 1;
  at.complete = true;
  EXPECT_FALSE(at.is("`"));
  EXPECT_TRUE(at.is("@"));
}

}  // namespace
}  // namespace redmirror::resp
