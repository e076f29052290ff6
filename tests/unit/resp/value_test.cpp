// The materialising parser used for mirroring effects and (later) the diff.
#include "redmirror/resp/value.h"

#include <gtest/gtest.h>

#include <charconv>
#include <random>

#include "redmirror/resp/limits.h"

namespace redmirror::resp {
namespace {

// The parser as it was before its single-pass bulk path, fixed-size stack and
// reserved children: kept verbatim so that the differential tests below hold
// parseValue to the same values, errors and partial results.
namespace reference {

class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  bool line(std::string_view& out) {
    const size_t cr = bytes_.find("\r\n", pos_);
    if (cr == std::string_view::npos) return false;
    out = bytes_.substr(pos_, cr - pos_);
    pos_ = cr + 2;
    return true;
  }
  bool take(size_t n, std::string_view& out) {
    if (bytes_.size() - pos_ < n + 2 || bytes_.compare(pos_ + n, 2, "\r\n") != 0) return false;
    out = bytes_.substr(pos_, n);
    pos_ += n + 2;
    return true;
  }
  bool atEnd() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

bool toInt(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > kMaxNumberLength) return false;
  const char* begin = text.data();
  if (*begin == '+') ++begin;
  auto [end, ec] = std::from_chars(begin, text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

struct Open {
  Value* value;
  int64_t remaining;   // -1: streamed, until '.'
  bool attribute;
};

bool parseValue(std::string_view bytes, Value& out, std::string& error) {
  Cursor cursor(bytes);
  out = Value{};
  std::vector<Open> stack;
  std::vector<Value> pendingAttributes;
  bool haveRoot = false;
  while (true) {
    std::string_view header;
    if (!cursor.line(header) || header.empty()) {
      error = "truncated or empty header";
      return false;
    }
    const char type = header[0];
    const std::string_view rest = header.substr(1);
    // A streamed aggregate's end marker closes the innermost open aggregate.
    if (type == '.' && !stack.empty() && stack.back().remaining == -1) {
      stack.back().remaining = 0;
    } else {
      Value* target = nullptr;
      if (!haveRoot) {
        out = Value{};
        target = &out;
        haveRoot = true;
      } else if (!stack.empty()) {
        std::vector<Value>& list =
            stack.back().attribute ? stack.back().value->attributes : stack.back().value->elements;
        list.emplace_back();
        target = &list.back();
        if (stack.back().remaining > 0) --stack.back().remaining;
      } else {
        error = "bytes after the value";
        return false;
      }
      Value& value = *target;
      value.type = type;
      int64_t length = 0;
      switch (type) {
        case '+': case '-': case ',': case '(': case '#':
          value.text = std::string(rest);
          break;
        case ':':
          if (!toInt(rest, value.integer)) { error = "bad integer"; return false; }
          break;
        case '_':
          value.isNull = true;
          break;
        case '$': case '!': case '=': {
          if (rest == "?") {
            // Streamed string: ;len chunks until ;0.
            while (true) {
              std::string_view chunkHeader;
              int64_t chunkLength = 0;
              if (!cursor.line(chunkHeader) || chunkHeader.empty() || chunkHeader[0] != ';' ||
                  !toInt(chunkHeader.substr(1), chunkLength) || chunkLength < 0) {
                error = "bad streamed string chunk";
                return false;
              }
              if (chunkLength == 0) break;
              std::string_view chunk;
              if (!cursor.take(static_cast<size_t>(chunkLength), chunk)) { error = "truncated chunk"; return false; }
              value.text.append(chunk);
            }
            break;
          }
          if (!toInt(rest, length) || length < -1 || length > kMaxBulkLength) {
            error = "bad bulk length";
            return false;
          }
          if (length == -1) {
            value.isNull = true;
            break;
          }
          std::string_view payload;
          if (!cursor.take(static_cast<size_t>(length), payload)) { error = "truncated bulk"; return false; }
          value.text = std::string(payload);
          break;
        }
        case '*': case '%': case '~': case '>': case '|': {
          int64_t count = -1;
          if (rest != "?") {
            if (!toInt(rest, count) || count < -1 || count > kMaxAggregateLength) {
              error = "bad aggregate length";
              return false;
            }
            if (count == -1) {
              value.isNull = true;
              break;
            }
            if (type == '%' || type == '|') count *= 2;
          }
          if (stack.size() >= kMaxReplyDepth) { error = "nested too deep"; return false; }
          stack.push_back(Open{&value, count, type == '|'});
          break;
        }
        default:
          error = std::string("unknown type byte '") + type + "'";
          return false;
      }
    }
    // Close every aggregate that is complete. An attribute, once complete, is
    // moved onto the value that follows it.
    while (!stack.empty() && stack.back().remaining == 0) {
      Open done = stack.back();
      stack.pop_back();
      if (done.attribute) {
        // The attribute occupied a slot where the real value goes next. Only the
        // top-level value keeps its attributes.
        if (stack.empty()) {
          pendingAttributes = std::move(done.value->attributes);
          haveRoot = false;
        } else {
          std::vector<Value>& list =
              stack.back().attribute ? stack.back().value->attributes : stack.back().value->elements;
          list.pop_back();
          if (stack.back().remaining >= 0) ++stack.back().remaining;
        }
      }
    }
    if (haveRoot && stack.empty()) break;
  }
  if (!pendingAttributes.empty()) out.attributes = std::move(pendingAttributes);
  if (!cursor.atEnd()) {
    error = "bytes after the value";
    return false;
  }
  return true;
}

}  // namespace reference

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

// --- Against the reference parser -------------------------------------------------

bool sameValue(const Value& a, const Value& b) {
  auto sameList = [](const std::vector<Value>& x, const std::vector<Value>& y) {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!sameValue(x[i], y[i])) return false;
    }
    return true;
  };
  return a.type == b.type && a.isNull == b.isNull && a.text == b.text && a.integer == b.integer &&
         sameList(a.elements, b.elements) && sameList(a.attributes, b.attributes);
}

// Parses `bytes` with both parsers into copies of `start` (a fresh Value, or one
// left by an earlier parse) and expects the same answer, error and value.
void expectSameParse(std::string_view bytes, const Value& start = Value{}) {
  Value got = start, want = start;
  std::string gotError, wantError;
  const bool ok = parseValue(bytes, got, gotError);
  const bool refOk = reference::parseValue(bytes, want, wantError);
  ASSERT_EQ(ok, refOk) << bytes;
  if (!ok) {
    EXPECT_EQ(gotError, wantError) << bytes;
  }
  EXPECT_TRUE(sameValue(got, want)) << bytes;
}

// Random replies: every type, streamed strings and aggregates, attributes,
// headers with signs and leading zeros.
class RandomResp {
 public:
  explicit RandomResp(uint64_t seed) : rng_(seed) {}
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  std::string value(int depth) {
    std::string out;
    if (below(12) == 0) out += attribute(depth);
    const size_t kind = below(depth < 4 ? 20 : 12);
    static const char* const lengths[] = {"3", "03", "+3", "-3", "3x", "", "0000000000000000003"};
    switch (kind) {
      case 0:
        return out + "+" + text() + "\r\n";
      case 1:
        return out + "-ERR " + text() + "\r\n";
      case 2:
        return out + ":" + number() + "\r\n";
      case 3:
        return out + "_\r\n";
      case 4:
        return out + "$-1\r\n";
      case 5:
        return out + "," + number() + ".5\r\n";
      case 6:
        return out + "#t\r\n";
      case 7:
        return out + "(" + number() + "\r\n";
      case 8:
        return out + "=7\r\ntxt:abc\r\n";
      case 9:
        return out + "$?\r\n;2\r\nab\r\n;1\r\nc\r\n;0\r\n";
      case 10:
        return out + "$" + lengths[below(std::size(lengths))] + "\r\nabc\r\n";
      case 11: {
        const std::string payload = text();
        return out + "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
      }
      default:
        return out + aggregate(depth);
    }
  }

 private:
  std::string text() {
    static const char* const texts[] = {
        "", "a", "OK", "hello world", "x\ry", "member:12345", "a string of some thirty bytes!"};
    return texts[below(std::size(texts))];
  }
  std::string number() {
    static const char* const numbers[] = {"0",
                                          "1",
                                          "-1",
                                          "+7",
                                          "42",
                                          "9223372036854775807",
                                          "-9223372036854775808",
                                          "99999999999999999999",
                                          "1.5",
                                          "abc",
                                          "007"};
    return numbers[below(std::size(numbers))];
  }
  std::string attribute(int depth) {
    return "|1\r\n+key\r\n" + (depth < 4 ? value(depth + 1) : std::string(":1\r\n"));
  }
  std::string aggregate(int depth) {
    static const char types[] = {'*', '*', '~', '%', '>'};
    const char type = types[below(std::size(types))];
    const size_t count = below(6);
    const bool streamed = below(8) == 0;
    if (!streamed && below(10) == 0) return std::string(1, type) + "-1\r\n";
    std::string out(1, type);
    out += streamed ? std::string("?") : std::to_string(count);
    out += "\r\n";
    const size_t children = type == '%' ? count * 2 : count;
    for (size_t i = 0; i < children; ++i) out += value(depth + 1);
    if (streamed) out += ".\r\n";
    return out;
  }

  std::mt19937_64 rng_;
};

TEST(ParseValueDifferential, RandomRepliesAndTheirCorruptions) {
  RandomResp random(42);
  Value earlier;
  std::string error;
  for (int i = 0; i < 20000; ++i) {
    const std::string bytes = random.value(0);
    expectSameParse(bytes);
    // Every truncation, and a corrupted byte, of the same reply.
    for (size_t cut = 0; cut < bytes.size(); cut += 1 + bytes.size() / 16)
      expectSameParse(bytes.substr(0, cut));
    std::string corrupted = bytes;
    const std::string_view corruptions("\r\n$*:-+%|.?;0\0", 14);
    corrupted[random.below(corrupted.size())] = corruptions[random.below(corruptions.size())];
    expectSameParse(corrupted);
    expectSameParse(bytes + bytes.substr(0, random.below(bytes.size())));  // bytes after the value
    // Into a Value an earlier parse filled.
    expectSameParse(bytes, earlier);
    parseValue(bytes, earlier, error);
    if (HasFailure()) break;
  }
}

TEST(ParseValueDifferential, LargeAggregatesAndLyingCounts) {
  std::string members = "*5000\r\n";
  for (int i = 0; i < 5000; ++i)
    members += "$" + std::to_string(std::to_string(i).size() + 7) +
               "\r\nmember:" + std::to_string(i) + "\r\n";
  expectSameParse(members);
  expectSameParse(members.substr(0, members.size() / 2));
  // A count far beyond the bytes: no reservation may follow it.
  expectSameParse("*2147483647\r\n:1\r\n");
  expectSameParse("%1073741823\r\n:1\r\n:2\r\n");
  const Value value = [&] {
    Value v;
    std::string error;
    EXPECT_TRUE(parseValue(members, v, error));
    return v;
  }();
  ASSERT_EQ(value.elements.size(), 5000u);
  EXPECT_EQ(value.elements[4999].text, "member:4999");
}

TEST(ParseValueDifferential, ResetsWhateverTheValueHeld) {
  std::vector<Value> starts(6);
  starts[0].type = '+';
  starts[1].isNull = true;
  starts[2].text = "left over";
  starts[3].integer = 5;
  starts[4].elements.emplace_back();
  starts[5].attributes.emplace_back();
  for (const Value& start : starts) {
    for (const char* bytes :
         {"", "@\r\n", "+OK\r\n", "$1\r\na\r\n", "*1\r\n:1\r\n", "|1\r\n+a\r\n+b\r\n:1\r\n"}) {
      expectSameParse(bytes, start);
    }
  }
}

TEST(ParseValueDifferential, BulkHeaderEdges) {
  for (const char* bytes : {"$0\r\n\r\n",
                            "$00\r\n\r\n",
                            "$1\r\n\r\n\r\n",
                            "$2\r\n\r\n\r\n",
                            "$3\r\nab",
                            "$3\r\nabc\r",
                            "$3\r\nabcd\r\n",
                            "$\r\n",
                            "$-0\r\n\r\n",
                            "$+1\r\na\r\n",
                            "$1 \r\na\r\n",
                            "$536870912\r\n",
                            "$536870913\r\n",
                            "$999999999999999999\r\n",
                            "$9999999999999999999\r\n",
                            "$18446744073709551617\r\na\r\n",
                            "$00000000000000000001\r\na\r\n",
                            "$000000000000000000001\r\na\r\n",
                            "$\r\n\r\n",
                            "$3\n\r\nabc\r\n",
                            "*1\r\n$1\r\na\r\n",
                            "*1\r\n$1\r\nab\r\n",
                            "*2\r\n$1\r\na\r\n",
                            "$1\r\na\r\n$1\r\nb\r\n"}) {
    expectSameParse(bytes);
  }
}

}  // namespace
}  // namespace redmirror::resp
