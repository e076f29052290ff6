// The materialising parser used for mirroring effects and (later) the diff.
#include "redmirror/resp/value.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "redmirror/resp/limits.h"

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
  // kMaxReplyDepth nested aggregates are read; one more is refused.
  std::string deep;
  for (size_t i = 0; i < kMaxReplyDepth; ++i) deep += "*1\r\n";
  EXPECT_EQ(parse(deep + ":1\r\n").elements.size(), 1u);
  EXPECT_EQ(failure("*1\r\n" + deep + ":1\r\n"), "nested too deep");
}

TEST(EncodeCommand, WritesMultibulk) {
  EXPECT_EQ(encodeCommand({"SREM", "s", "a\r\nb"}), "*3\r\n$4\r\nSREM\r\n$1\r\ns\r\n$4\r\na\r\nb\r\n");
}

// --- Values, their encodings, and what the parser must make of them ---------------

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

// RESP bytes with CR, LF and other control or non-ASCII bytes visible, for
// failure messages.
std::string show(std::string_view bytes) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

struct Parsed {
  bool ok = false;
  std::string error;
  Value value;
};

Parsed parseInto(std::string_view bytes, Value start = Value{}) {
  Parsed parsed;
  parsed.value = std::move(start);
  parsed.ok = parseValue(bytes, parsed.value, parsed.error);
  return parsed;
}

// What the parser is reading at a byte of an encoding: a header line (with its
// CRLF), a bulk payload (with its CRLF), a streamed string's chunk header, or
// a chunk (with its CRLF). Bytes that end before a byte of each part are
// refused with the message that names it.
enum class Part : uint8_t { kHeader, kBulk, kChunkHeader, kChunk };

const char* truncationError(Part part) {
  switch (part) {
    case Part::kHeader:
      return "truncated or empty header";
    case Part::kBulk:
      return "truncated bulk";
    case Part::kChunkHeader:
      return "bad streamed string chunk";
    case Part::kChunk:
      return "truncated chunk";
  }
  return "";
}

struct Encoding {
  std::string bytes;
  std::vector<Part> parts;  // one per byte

  void add(std::string_view text, Part part) {
    bytes.append(text);
    parts.insert(parts.end(), text.size(), part);
  }
};

bool isBulkType(char type) { return type == '$' || type == '!' || type == '='; }
bool isAggregateType(char type) {
  return type == '*' || type == '%' || type == '~' || type == '>' || type == '|';
}

// Random values as the parser builds them (maps flattened, attributes on the
// top-level value only), and random valid encodings of them.
class RandomValues {
 public:
  explicit RandomValues(uint64_t seed) : rng_(seed) {}
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }

  Value value() {
    Value v = plain(0);
    if (chance(12)) {
      const size_t pairs = 1 + below(2);
      for (size_t i = 0; i < 2 * pairs; ++i) v.attributes.push_back(plain(2));
    }
    return v;
  }

  // Encodes `v` in one of its spellings: bulk strings counted or streamed in
  // chunks, aggregates counted or streamed, lengths and integers with leading
  // zeros or '+', and attributes before nested values (which the parser drops).
  void encode(const Value& v, Encoding& out) { encodeValue(v, out, true); }

  std::mt19937_64& rng() { return rng_; }

 private:
  Value plain(int depth) {
    static const char* const simpleTexts[] = {"",     "OK",  "a",           "hello world",
                                              "x\ry", "1.5", "member:12345"};
    static const char* const errorTexts[] = {"ERR", "ERR x", "WRONGTYPE Operation against a key"};
    static const std::string bulkTexts[] = {"",
                                            "a",
                                            "he\r\no",
                                            "\r\n",
                                            "\r",
                                            "\n\n",
                                            "member:12345",
                                            std::string("nul\0byte", 8),
                                            "a string of some thirty bytes!"};
    static const int64_t integers[] = {0, 1, -1, 42, 1000000, INT64_MAX, INT64_MIN};
    static const char* const doubles[] = {"1.5", "inf", "-inf", "nan", "0", "3.14e10"};
    Value v;
    const size_t kind = below(depth < 4 ? 22 : 14);
    switch (kind) {
      case 0:
      case 1:
        v.type = '+';
        v.text = simpleTexts[below(std::size(simpleTexts))];
        break;
      case 2:
        v.type = '-';
        v.text = errorTexts[below(std::size(errorTexts))];
        break;
      case 3:
      case 4:
        v.type = ':';
        v.integer = integers[below(std::size(integers))];
        break;
      case 5:
        v.type = '_';
        v.isNull = true;
        break;
      case 6:
        v.type = pick("$*%~>!=");  // null bulk or aggregate, as "-1"
        v.isNull = true;
        break;
      case 7:
        v.type = ',';
        v.text = doubles[below(std::size(doubles))];
        break;
      case 8:
        v.type = '#';
        v.text = chance(50) ? "t" : "f";
        break;
      case 9:
        v.type = '(';
        v.text = "-12345678901234567890";
        break;
      case 10:
        v.type = '!';
        v.text = "ERR x\r\ny";
        break;
      case 11:
        v.type = '=';
        v.text = "txt:some\r\ntext";
        break;
      case 12:
      case 13:
        v.type = '$';
        v.text = bulkTexts[below(std::size(bulkTexts))];
        break;
      default: {
        v.type = pick("***~%>");
        const size_t count = below(6);
        for (size_t i = 0; i < (v.type == '%' ? 2 * count : count); ++i)
          v.elements.push_back(plain(depth + 1));
        break;
      }
    }
    return v;
  }

  char pick(std::string_view chars) { return chars[below(chars.size())]; }

  // A length or integer as the parser reads it: "+7", "007" and padded to the
  // 20 characters it accepts, as well as "7".
  std::string number(int64_t n) {
    std::string text = std::to_string(n);
    if (n < 0) return text;
    switch (below(6)) {
      case 0:
        return "+" + text;
      case 1:
        return "0" + text;
      case 2:
        return std::string(20 - text.size(), '0') + text;
      default:
        return text;
    }
  }

  void header(Encoding& out, char type, std::string_view rest) {
    out.add(std::string(1, type) + std::string(rest) + "\r\n", Part::kHeader);
  }

  void encodeValue(const Value& v, Encoding& out, bool root) {
    if (root && !v.attributes.empty()) {
      header(out, '|', number(static_cast<int64_t>(v.attributes.size() / 2)));
      for (const Value& a : v.attributes) encodeValue(a, out, false);
    } else if (!root && chance(6)) {  // dropped by the parser
      header(out, '|', "1");
      encodeValue(plain(3), out, false);
      encodeValue(plain(3), out, false);
    }
    if (v.isNull) {
      if (v.type == '_') {
        header(out, '_', "");
      } else {
        header(out, v.type, "-1");
      }
      return;
    }
    if (isBulkType(v.type)) {
      if (chance(20)) {  // streamed: ;len chunks, then ;0
        header(out, v.type, "?");
        size_t at = 0;
        while (at < v.text.size()) {
          const size_t n = 1 + below(v.text.size() - at);
          out.add(";" + std::to_string(n) + "\r\n", Part::kChunkHeader);
          out.add(v.text.substr(at, n) + "\r\n", Part::kChunk);
          at += n;
        }
        out.add(";0\r\n", Part::kChunkHeader);
        return;
      }
      header(out, v.type, number(static_cast<int64_t>(v.text.size())));
      out.add(v.text + "\r\n", Part::kBulk);
      return;
    }
    if (isAggregateType(v.type)) {
      const bool streamed = chance(15);
      const size_t count = v.type == '%' ? v.elements.size() / 2 : v.elements.size();
      header(out, v.type, streamed ? "?" : number(static_cast<int64_t>(count)));
      for (const Value& element : v.elements) encodeValue(element, out, false);
      if (streamed) header(out, '.', "");
      return;
    }
    if (v.type == ':') {
      header(out, ':', number(v.integer));
      return;
    }
    header(out, v.type, v.text);  // + - , ( #
  }

  std::mt19937_64 rng_;
};

// One plain encoding of any value the parser returns, streamed where a count
// cannot say it (a map or attribute with an odd element count).
std::string canonical(const Value& v, bool root = true) {
  std::string out;
  auto aggregate = [&](char type, const std::vector<Value>& elements) {
    const bool pairs = type == '%' || type == '|';
    if (pairs && elements.size() % 2 != 0) {
      out += std::string(1, type) + "?\r\n";
      for (const Value& e : elements) out += canonical(e, false);
      out += ".\r\n";
      return;
    }
    out += type + std::to_string(pairs ? elements.size() / 2 : elements.size()) + "\r\n";
    for (const Value& e : elements) out += canonical(e, false);
  };
  if (root && !v.attributes.empty()) aggregate('|', v.attributes);
  if (v.isNull)
    return out + (v.type == '_' ? std::string("_\r\n") : v.type + std::string("-1\r\n"));
  if (isBulkType(v.type))
    return out + v.type + std::to_string(v.text.size()) + "\r\n" + v.text + "\r\n";
  if (isAggregateType(v.type)) {
    aggregate(v.type, v.elements);
    return out;
  }
  if (v.type == ':') return out + ":" + std::to_string(v.integer) + "\r\n";
  return out + v.type + v.text + "\r\n";
}

// A value with every field set, as an earlier parse may leave one.
Value dirtyValue() {
  Value v;
  v.type = '~';
  v.isNull = true;
  v.text = "left over";
  v.integer = 5;
  v.elements.emplace_back();
  v.attributes.emplace_back();
  return v;
}

// --- Edge cases, with the answer each must get ---------------------------------------

TEST(ParseValueEdges, BulkHeaderEdges) {
  struct Case {
    const char* bytes;
    const char* text;   // payload when parsed
    const char* error;  // or the error
  };
  const Case cases[] = {
      {"$0\r\n\r\n", "", nullptr},
      {"$00\r\n\r\n", "", nullptr},                   // leading zeros are read as the number
      {"$1\r\n\r\n\r\n", nullptr, "truncated bulk"},  // "\r" is not followed by CRLF
      {"$2\r\n\r\n\r\n", "\r\n", nullptr},
      {"$3\r\nab", nullptr, "truncated bulk"},
      {"$3\r\nabc\r", nullptr, "truncated bulk"},
      {"$3\r\nabcd\r\n", nullptr, "truncated bulk"},  // no CRLF right after the payload
      {"$\r\n", nullptr, "bad bulk length"},
      {"$-0\r\n\r\n", "", nullptr},
      {"$+1\r\na\r\n", "a", nullptr},
      {"$1 \r\na\r\n", nullptr, "bad bulk length"},
      {"$536870912\r\n", nullptr, "truncated bulk"},  // kMaxBulkLength: allowed, but absent
      {"$536870913\r\n", nullptr, "bad bulk length"},
      {"$999999999999999999\r\n", nullptr, "bad bulk length"},
      {"$9999999999999999999\r\n", nullptr, "bad bulk length"},
      {"$18446744073709551617\r\na\r\n", nullptr, "bad bulk length"},
      {"$00000000000000000001\r\na\r\n", "a", nullptr},  // 20 digits: the longest read
      {"$000000000000000000001\r\na\r\n", nullptr, "bad bulk length"},  // 21
      {"$\r\n\r\n", nullptr, "bad bulk length"},
      {"$3\n\r\nabc\r\n", nullptr, "bad bulk length"},  // a bare LF ends no line
      {"$-2\r\n", nullptr, "bad bulk length"},
      {"$1\r\na\r\n$1\r\nb\r\n", nullptr, "bytes after the value"},
  };
  for (const Case& c : cases) {
    const Parsed parsed = parseInto(c.bytes);
    if (c.error == nullptr) {
      ASSERT_TRUE(parsed.ok) << show(c.bytes) << ": " << parsed.error;
      EXPECT_EQ(parsed.value.type, '$') << show(c.bytes);
      EXPECT_FALSE(parsed.value.isNull) << show(c.bytes);
      EXPECT_EQ(parsed.value.text, c.text) << show(c.bytes);
    } else {
      EXPECT_FALSE(parsed.ok) << show(c.bytes);
      EXPECT_EQ(parsed.error, c.error) << show(c.bytes);
    }
  }
  // Inside an aggregate.
  const Parsed nested = parseInto("*1\r\n$1\r\na\r\n");
  ASSERT_TRUE(nested.ok);
  ASSERT_EQ(nested.value.elements.size(), 1u);
  EXPECT_EQ(nested.value.elements[0].text, "a");
  EXPECT_EQ(parseInto("*1\r\n$1\r\nab\r\n").error, "truncated bulk");
  EXPECT_EQ(parseInto("*2\r\n$1\r\na\r\n").error, "truncated or empty header");
}

TEST(ParseValueEdges, LargeAggregatesAndLyingCounts) {
  std::string members = "*5000\r\n";
  for (int i = 0; i < 5000; ++i)
    members += "$" + std::to_string(std::to_string(i).size() + 7) +
               "\r\nmember:" + std::to_string(i) + "\r\n";
  const Parsed all = parseInto(members);
  ASSERT_TRUE(all.ok) << all.error;
  ASSERT_EQ(all.value.elements.size(), 5000u);
  EXPECT_EQ(all.value.elements[0].text, "member:0");
  EXPECT_EQ(all.value.elements[4999].text, "member:4999");
  // Cut between two elements, and inside one.
  const size_t element = members.find("$11\r\nmember:2500\r\n");
  EXPECT_EQ(parseInto(members.substr(0, element)).error, "truncated or empty header");
  EXPECT_EQ(parseInto(members.substr(0, element + 10)).error, "truncated bulk");
  // A count far beyond the bytes: refused as truncated, and nothing is reserved
  // for it (a reservation of 2^31 Values would abort the sanitizer build).
  EXPECT_EQ(parseInto("*2147483647\r\n:1\r\n").error, "truncated or empty header");
  EXPECT_EQ(parseInto("%1073741823\r\n:1\r\n:2\r\n").error, "truncated or empty header");
  EXPECT_EQ(parseInto("*2147483648\r\n").error, "bad aggregate length");
  EXPECT_EQ(parseInto("*-2\r\n").error, "bad aggregate length");
}

TEST(ParseValueEdges, ResetsWhateverTheValueHeld) {
  std::vector<Value> starts(7);
  starts[0].type = '+';
  starts[1].isNull = true;
  starts[2].text = "left over";
  starts[3].integer = 5;
  starts[4].elements.emplace_back();
  starts[5].attributes.emplace_back();
  starts[6] = dirtyValue();
  Value attributed;
  attributed.type = ':';
  attributed.integer = 1;
  attributed.attributes = {parse("+a\r\n"), parse("+b\r\n")};
  Value array;
  array.type = '*';
  array.elements = {parse(":1\r\n")};
  Value simple;
  simple.type = '+';
  simple.text = "OK";
  Value bulk;
  bulk.type = '$';
  bulk.text = "a";
  const std::vector<std::pair<const char*, Value>> values = {
      {"+OK\r\n", simple},
      {"$1\r\na\r\n", bulk},
      {"*1\r\n:1\r\n", array},
      {"|1\r\n+a\r\n+b\r\n:1\r\n", attributed}};
  for (const Value& start : starts) {
    for (const auto& [bytes, want] : values) {
      const Parsed parsed = parseInto(bytes, start);
      ASSERT_TRUE(parsed.ok) << show(bytes) << ": " << parsed.error;
      EXPECT_TRUE(sameValue(parsed.value, want)) << show(bytes);
    }
    const Parsed empty = parseInto("", start);
    EXPECT_FALSE(empty.ok);
    EXPECT_EQ(empty.error, "truncated or empty header");
    EXPECT_TRUE(sameValue(empty.value, Value{}));
    // A failed parse leaves nothing of what the value held.
    const Parsed unknown = parseInto("@\r\n", start);
    EXPECT_FALSE(unknown.ok);
    EXPECT_EQ(unknown.error, "unknown type byte '@'");
    EXPECT_TRUE(sameValue(unknown.value, parseInto("@\r\n").value));
    EXPECT_TRUE(unknown.value.text.empty() && unknown.value.elements.empty() &&
                unknown.value.attributes.empty() && !unknown.value.isNull &&
                unknown.value.integer == 0);
  }
}

// --- Properties over random values and bytes -------------------------------------------

TEST(ParseValueProperty, EveryEncodingParsesBackToItsValue) {
  RandomValues random(42);
  Value earlier = dirtyValue();
  int streamed = 0, attributed = 0;
  for (int i = 0; i < 20000 && !HasFailure(); ++i) {
    const Value value = random.value();
    Encoding encoding;
    random.encode(value, encoding);
    const Parsed parsed = parseInto(encoding.bytes);
    ASSERT_TRUE(parsed.ok) << parsed.error << " in " << show(encoding.bytes);
    EXPECT_TRUE(sameValue(parsed.value, value)) << show(encoding.bytes);
    // Into a value an earlier parse filled: the same.
    const Parsed again = parseInto(encoding.bytes, earlier);
    ASSERT_TRUE(again.ok) << again.error << " in " << show(encoding.bytes);
    EXPECT_TRUE(sameValue(again.value, value)) << show(encoding.bytes);
    earlier = parsed.value;
    if (encoding.bytes.find("?\r\n") != std::string::npos) ++streamed;
    if (encoding.bytes.find('|') != std::string::npos) ++attributed;
  }
  EXPECT_GT(streamed, 2000);
  EXPECT_GT(attributed, 2000);
}

TEST(ParseValueProperty, EveryStrictPrefixIsRefusedForWhatItCutsShort) {
  RandomValues random(7);
  for (int i = 0; i < 2000 && !HasFailure(); ++i) {
    Encoding encoding;
    random.encode(random.value(), encoding);
    for (size_t cut = 0; cut < encoding.bytes.size() && !HasFailure(); ++cut) {
      const std::string_view prefix(encoding.bytes.data(), cut);
      const Parsed parsed = parseInto(prefix, i % 2 == 0 ? Value{} : dirtyValue());
      EXPECT_FALSE(parsed.ok) << show(prefix);
      EXPECT_EQ(parsed.error, truncationError(encoding.parts[cut]))
          << "cut at " << cut << " of " << show(encoding.bytes);
    }
  }
}

TEST(ParseValueProperty, BytesAfterTheValueAreRefused) {
  RandomValues random(11);
  for (int i = 0; i < 5000 && !HasFailure(); ++i) {
    Encoding encoding, next;
    random.encode(random.value(), encoding);
    random.encode(random.value(), next);
    // Another value, a part of one, or a single byte of any kind.
    const std::string after = random.chance(40) ? next.bytes
                              : random.chance(50)
                                  ? next.bytes.substr(0, 1 + random.below(next.bytes.size()))
                                  : std::string(1, static_cast<char>(random.below(256)));
    const Parsed parsed = parseInto(encoding.bytes + after);
    EXPECT_FALSE(parsed.ok) << show(encoding.bytes + after);
    EXPECT_EQ(parsed.error, "bytes after the value") << show(encoding.bytes + after);
  }
}

// Random replies, valid or not: every type, streamed strings and aggregates,
// attributes, headers with signs, leading zeros and bad lengths.
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

// What must hold for any bytes: no crash (run it in the sanitizer build), an
// error message on refusal, the same answer whatever the value held before,
// a value that parses back from its plain encoding, and a refusal of every
// strict prefix of what parses.
void expectConsistentParse(std::string_view bytes, size_t& accepted) {
  const Parsed parsed = parseInto(bytes);
  const Parsed intoDirty = parseInto(bytes, dirtyValue());
  ASSERT_EQ(parsed.ok, intoDirty.ok) << show(bytes);
  EXPECT_EQ(parsed.error, intoDirty.error) << show(bytes);
  EXPECT_TRUE(sameValue(parsed.value, intoDirty.value)) << show(bytes);
  if (!parsed.ok) {
    EXPECT_FALSE(parsed.error.empty()) << show(bytes);
    return;
  }
  ++accepted;
  const std::string plain = canonical(parsed.value);
  const Parsed back = parseInto(plain);
  ASSERT_TRUE(back.ok) << back.error << " in " << show(plain) << " from " << show(bytes);
  EXPECT_TRUE(sameValue(back.value, parsed.value)) << show(plain) << " from " << show(bytes);
  for (size_t cut = 0; cut < bytes.size(); cut += 1 + bytes.size() / 16) {
    EXPECT_FALSE(parseInto(bytes.substr(0, cut)).ok) << show(bytes.substr(0, cut));
  }
}

TEST(ParseValueProperty, CorruptedAndRandomBytesAreRefusedOrParsedConsistently) {
  RandomValues values(1234);
  RandomResp resp(42);
  const std::string_view corruptions("\r\n$*:-+%|.?;0\0_~", 16);
  size_t accepted = 0, tried = 0;
  for (int i = 0; i < 10000 && !HasFailure(); ++i) {
    Encoding encoding;
    values.encode(values.value(), encoding);
    std::vector<std::string> inputs = {resp.value(0)};
    for (int k = 0; k < 3; ++k) {
      std::string bytes = i % 2 == 0 ? encoding.bytes : inputs[0];
      const size_t at = values.below(bytes.size());
      switch (values.below(4)) {
        case 0:  // a byte replaced with a RESP delimiter or type
          bytes[at] = corruptions[values.below(corruptions.size())];
          break;
        case 1:  // a byte replaced with any byte
          bytes[at] = static_cast<char>(values.below(256));
          break;
        case 2:  // a byte dropped
          bytes.erase(at, 1);
          break;
        default:  // a part repeated
          bytes.insert(at, bytes.substr(at, 1 + values.below(bytes.size() - at)));
          break;
      }
      inputs.push_back(std::move(bytes));
    }
    for (const std::string& bytes : inputs) {
      expectConsistentParse(bytes, accepted);
      ++tried;
    }
  }
  // Both answers are exercised.
  EXPECT_GT(accepted, tried / 10);
  EXPECT_LT(accepted, tried * 9 / 10);
}

}  // namespace
}  // namespace redmirror::resp
