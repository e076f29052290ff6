#pragma once
// Shared by the files of the comparator (src/diff) only, not a public header:
// reading and comparing the short strings most multiset members are a word at
// a time, without a library call.
#include <cstdint>
#include <cstring>
#include <string_view>

namespace redmirror::diff::detail {

inline uint64_t load64(const char* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

inline uint64_t load32(const char* bytes) {
  uint32_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

// The bytes of `text` from `from` on, fewer than eight, as one word built from
// fixed-size loads (a memcpy of a variable size is a library call); when the
// text is longer, its last eight bytes, overlapping ones already read. The
// word holds every byte of a text under eight bytes, so for two texts of one
// length equal words mean equal texts; hashText mixes the length in too.
inline uint64_t tailWord(std::string_view text, size_t from) {
  const size_t size = text.size();
  const char* bytes = text.data();
  if (size >= 8) return load64(bytes + size - 8);
  if (size - from >= 4) return load32(bytes + from) | load32(bytes + size - 4) << 32;
  uint64_t word = 0;
  for (size_t i = from; i < size; ++i) word = word << 8 | static_cast<unsigned char>(bytes[i]);
  return word;
}

// string_view's operator==, without a library call for the short strings most
// members are: up to 16 bytes compare as two (overlapping) words.
inline bool sameBytes(std::string_view a, std::string_view b) {
  const size_t size = a.size();
  if (size != b.size()) return false;
  if (size > 16) return std::memcmp(a.data(), b.data(), size) == 0;
  if (size >= 8) {
    return load64(a.data()) == load64(b.data()) &&
           load64(a.data() + size - 8) == load64(b.data() + size - 8);
  }
  return tailWord(a, 0) == tailWord(b, 0);
}

}  // namespace redmirror::diff::detail
