// Differential test: random RESP2 reply streams, fed in random split sizes to both
// the ReplyFramer and hiredis's redisReader; boundaries, counts, types and
// summaries must agree (and agree with the generator).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "framer_test_util.h"
#include "redmirror/resp/reply_framer.h"

namespace redmirror::resp {
namespace {

// hiredis 0.14 refuses arrays nested deeper than 7.
constexpr int kMaxGeneratedDepth = 6;

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  // Appends one random reply to `out`.
  void value(std::string& out, int depth) {
    const int kind = pick(depth < kMaxGeneratedDepth ? 9 : 7);
    switch (kind) {
      case 0: out += "+" + text() + "\r\n"; break;
      case 1: out += "-ERR " + text() + "\r\n"; break;
      case 2: out += ":" + std::to_string(integer()) + "\r\n"; break;
      case 3: case 4: {
        const std::string b = binary();
        out += "$" + std::to_string(b.size()) + "\r\n" + b + "\r\n";
        break;
      }
      case 5: out += "$-1\r\n"; break;
      case 6: out += pick(2) == 0 ? "*-1\r\n" : "*0\r\n"; break;
      default: {
        const int n = pick(6);
        out += "*" + std::to_string(n) + "\r\n";
        for (int i = 0; i < n; ++i) value(out, depth + 1);
      }
    }
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

 private:
  std::string text() {
    std::string s(static_cast<size_t>(pick(3) == 0 ? pick(80) : pick(12)), ' ');
    for (char& c : s) c = static_cast<char>(' ' + pick(95));  // printable, never CR/LF
    return s;
  }
  std::string binary() {
    const int shape = pick(4);
    const size_t len = shape == 0 ? 0 : shape == 1 ? static_cast<size_t>(pick(40)) : static_cast<size_t>(pick(300));
    std::string s(len, '\0');
    for (char& c : s) {
      const int r = pick(8);
      c = r == 0 ? '\r' : r == 1 ? '\n' : static_cast<char>(pick(256));
    }
    return s;
  }
  int64_t integer() {
    switch (pick(5)) {
      case 0: return INT64_MIN;
      case 1: return INT64_MAX;
      case 2: return pick(3) - 1;
      default: return std::uniform_int_distribution<int64_t>(INT64_MIN, INT64_MAX)(rng_);
    }
  }
  std::mt19937 rng_;
};

// Re-encodes a hiredis reply the way the generator encodes it. A nil is "$-1" or
// "*-1": both five bytes, which is all the boundary check needs.
void encode(const redisReply* r, std::string& out) {
  switch (r->type) {
    case REDIS_REPLY_STATUS: out += "+" + std::string(r->str, r->len) + "\r\n"; break;
    case REDIS_REPLY_ERROR: out += "-" + std::string(r->str, r->len) + "\r\n"; break;
    case REDIS_REPLY_INTEGER: out += ":" + std::to_string(r->integer) + "\r\n"; break;
    case REDIS_REPLY_NIL: out += "$-1\r\n"; break;
    case REDIS_REPLY_STRING:
      out += "$" + std::to_string(r->len) + "\r\n" + std::string(r->str, r->len) + "\r\n";
      break;
    case REDIS_REPLY_ARRAY:
      out += "*" + std::to_string(r->elements) + "\r\n";
      for (size_t i = 0; i < r->elements; ++i) encode(r->element[i], out);
      break;
    default: ADD_FAILURE() << "unexpected hiredis type " << r->type;
  }
}

// The summary the framer should give of a hiredis scalar (type 0 for arrays,
// which are not scalars).
testing::RecordedAtom expectedAtom(const redisReply* r, bool top) {
  testing::RecordedAtom a;
  auto text = [&](const char* s, size_t n) {
    a.text.bytes.assign(s, std::min(n, kCaptureBytes));
    a.text.complete = n <= kCaptureBytes;
  };
  switch (r->type) {
    case REDIS_REPLY_STATUS: a.type = '+'; text(r->str, r->len); break;
    case REDIS_REPLY_ERROR: a.type = '-'; text(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: a.type = ':'; a.integer = r->integer; a.text.complete = false; break;
    case REDIS_REPLY_STRING:
      a.type = '$';
      a.integer = static_cast<int64_t>(r->len);
      text(r->str, r->len);
      break;
    case REDIS_REPLY_NIL: a.integer = -1; a.isNull = true; break;  // type: '$' or '*', checked apart
    case REDIS_REPLY_ARRAY:
      if (top) {
        a.type = '*';
        a.integer = static_cast<int64_t>(r->elements);
      } else {
        a = {};
      }
      break;
  }
  return a;
}

TEST(ReplyFramerDifferential, AgreesWithHiredisOnRandomResp2Streams) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Generator gen(seed);
    std::string stream;
    std::vector<uint64_t> ends;
    const int count = 1 + gen.pick(120);
    for (int i = 0; i < count; ++i) {
      gen.value(stream, 0);
      ends.push_back(stream.size());
    }

    ReplyFramer framer;
    testing::ReplyRecorder recorder;
    redisReader* reader = redisReaderCreate();
    ASSERT_NE(reader, nullptr);
    std::vector<redisReply*> replies;
    size_t pos = 0;
    while (pos < stream.size()) {
      const int shape = gen.pick(4);
      size_t n = shape == 0 ? 1 : shape == 1 ? static_cast<size_t>(1 + gen.pick(8))
                                             : static_cast<size_t>(1 + gen.pick(700));
      n = std::min(n, stream.size() - pos);
      ASSERT_TRUE(framer.feed(std::span<const char>(stream.data() + pos, n), recorder)) << framer.error();
      ASSERT_EQ(redisReaderFeed(reader, stream.data() + pos, n), REDIS_OK);
      void* reply = nullptr;
      while (true) {
        ASSERT_EQ(redisReaderGetReply(reader, &reply), REDIS_OK) << reader->errstr;
        if (reply == nullptr) break;
        replies.push_back(static_cast<redisReply*>(reply));
      }
      pos += n;
      // Both have reported exactly the replies completed so far.
      ASSERT_EQ(recorder.frames.size(), replies.size()) << "after " << pos << " bytes";
    }

    ASSERT_EQ(replies.size(), ends.size());
    uint64_t begin = 0;
    for (size_t i = 0; i < replies.size(); ++i) {
      const auto& f = recorder.frames[i];
      std::string encoded;
      encode(replies[i], encoded);
      EXPECT_EQ(f.begin, begin);
      EXPECT_EQ(f.end, ends[i]);
      EXPECT_EQ(f.end - f.begin, encoded.size());
      const testing::RecordedAtom top = expectedAtom(replies[i], true);
      if (replies[i]->type == REDIS_REPLY_NIL) {
        EXPECT_TRUE(f.top.type == '$' || f.top.type == '*');
        EXPECT_TRUE(f.top.isNull);
        EXPECT_EQ(f.top.integer, -1);
      } else {
        EXPECT_EQ(f.top, top) << "reply " << i;
      }
      if (replies[i]->type == REDIS_REPLY_ARRAY) {
        for (size_t k = 0; k < 3; ++k) {
          if (k >= replies[i]->elements) {
            EXPECT_EQ(f.head[k].type, 0);
            continue;
          }
          const redisReply* e = replies[i]->element[k];
          if (e->type == REDIS_REPLY_NIL) {
            // "$-1" is summarised as a null; "*-1" has an aggregate type, so it is not.
            if (f.head[k].type == '$') {
              EXPECT_TRUE(f.head[k].isNull);
            } else {
              EXPECT_EQ(f.head[k], testing::RecordedAtom{});
            }
          } else {
            EXPECT_EQ(f.head[k], expectedAtom(e, false)) << "reply " << i << " element " << k;
          }
        }
      }
      begin = f.end;
    }
    for (redisReply* r : replies) freeReplyObject(r);
    redisReaderFree(reader);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace redmirror::resp
