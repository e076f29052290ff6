// The word-at-a-time byte comparison the multiset pairing relies on: equal to
// string_view's operator== at every length around its 4-, 8- and 16-byte paths.
#include "diff/byte_words.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace redmirror::diff::detail {
namespace {

TEST(SameBytes, AgreesWithStringEqualityAtEveryLengthAndPosition) {
  for (size_t size = 0; size <= 40; ++size) {
    std::string a;
    for (size_t i = 0; i < size; ++i) a += static_cast<char>('a' + i % 26);
    const std::string copy = a;  // other storage, same bytes
    EXPECT_TRUE(sameBytes(a, copy)) << size;
    for (size_t at = 0; at < size; ++at) {
      std::string b = a;
      b[at] = static_cast<char>(b[at] ^ 0x80);
      EXPECT_FALSE(sameBytes(a, b)) << size << " differing at " << at;
    }
    EXPECT_FALSE(sameBytes(a, a + 'x')) << size;
  }
}

TEST(SameBytes, LeadingZeroBytesCount) {
  // A short text read as a word: a leading NUL must not make "\0a" equal "a".
  using namespace std::string_view_literals;
  EXPECT_FALSE(sameBytes("\0a"sv, "a"sv));
  EXPECT_FALSE(sameBytes("\0\0\0\0\0a"sv, "\0\0\0\0a\0"sv));
  EXPECT_TRUE(sameBytes("\0a"sv, std::string("\0a", 2)));
}

}  // namespace
}  // namespace redmirror::diff::detail
