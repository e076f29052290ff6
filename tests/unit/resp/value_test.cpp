// The materialising parser used for mirroring effects and (later) the diff.
#include "redmirror/resp/value.h"

#include <gtest/gtest.h>

namespace redmirror::resp {
namespace {

Value parse(std::string_view bytes) {
  Value value;
  std::string error;
  EXPECT_TRUE(parseValue(bytes, value, error)) << error << " in " << bytes;
  return value;
}

std::string failure(std::string_view bytes) {
  Value value;
  std::string error;
  EXPECT_FALSE(parseValue(bytes, value, error)) << bytes;
  return error;
}

TEST(ParseValue, Scalars) {
  EXPECT_EQ(parse("+OK\r\n").text, "OK");
  EXPECT_TRUE(parse("-ERR no\r\n").isError());
  EXPECT_EQ(parse(":-42\r\n").integer, -42);
  EXPECT_EQ(parse("$5\r\nhe\r\no\r\n").text, "he\r\no");
  EXPECT_TRUE(parse("$-1\r\n").isNull);
  EXPECT_TRUE(parse("_\r\n").isNull);
  EXPECT_EQ(parse(",3.25\r\n").text, "3.25");
  EXPECT_EQ(parse("#t\r\n").text, "t");
  EXPECT_EQ(parse("(12345678901234567890\r\n").text, "12345678901234567890");
  EXPECT_EQ(parse("=7\r\ntxt:abc\r\n").text, "txt:abc");
  EXPECT_TRUE(parse("!3\r\nERR\r\n").isError());
}

TEST(ParseValue, NestedAggregates) {
  const Value value = parse("*3\r\n$1\r\na\r\n*2\r\n:1\r\n*-1\r\n%1\r\n+k\r\n~1\r\n,1.5\r\n");
  ASSERT_EQ(value.elements.size(), 3u);
  EXPECT_EQ(value.elements[0].text, "a");
  ASSERT_EQ(value.elements[1].elements.size(), 2u);
  EXPECT_TRUE(value.elements[1].elements[1].isNull);
  const Value& map = value.elements[2];
  EXPECT_EQ(map.type, '%');
  ASSERT_EQ(map.elements.size(), 2u);  // key, value flattened
  EXPECT_EQ(map.elements[1].elements[0].text, "1.5");
}

TEST(ParseValue, AttributesAttachToTheTopLevelValueOnly) {
  const Value value = parse("|1\r\n+ttl\r\n:10\r\n*2\r\n|1\r\n+x\r\n+y\r\n:1\r\n:2\r\n");
  EXPECT_EQ(value.type, '*');
  ASSERT_EQ(value.attributes.size(), 2u);
  EXPECT_EQ(value.attributes[0].text, "ttl");
  ASSERT_EQ(value.elements.size(), 2u);
  EXPECT_EQ(value.elements[0].integer, 1);
}

TEST(ParseValue, StreamedStringsAndAggregates) {
  EXPECT_EQ(parse("$?\r\n;3\r\nabc\r\n;2\r\nde\r\n;0\r\n").text, "abcde");
  const Value value = parse("*?\r\n:1\r\n*?\r\n:2\r\n.\r\n.\r\n");
  ASSERT_EQ(value.elements.size(), 2u);
  EXPECT_EQ(value.elements[1].elements[0].integer, 2);
}

TEST(ParseValue, RefusesWhatIsNotExactlyOneValue) {
  EXPECT_EQ(failure("+OK\r\n+OK\r\n"), "bytes after the value");
  EXPECT_EQ(failure("$5\r\nab\r\n"), "truncated bulk");
  EXPECT_EQ(failure("*2\r\n:1\r\n"), "truncated or empty header");
  EXPECT_EQ(failure("$-2\r\n"), "bad bulk length");
  EXPECT_EQ(failure("@1\r\n"), "unknown type byte '@'");
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  EXPECT_EQ(failure(deep), "nested too deep");
}

TEST(EncodeCommand, WritesMultibulk) {
  EXPECT_EQ(encodeCommand({"SREM", "s", "a\r\nb"}), "*3\r\n$4\r\nSREM\r\n$1\r\ns\r\n$4\r\na\r\nb\r\n");
}

}  // namespace
}  // namespace redmirror::resp
