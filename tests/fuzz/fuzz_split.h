#pragma once
// Shared by the framer fuzz targets: the ways one input is fed. Every input is
// fed whole, cut once at a point derived from its bytes, and in small chunks of
// a data-derived size; all three runs must report the same frames.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace redmirror::fuzz {

inline void check(bool condition) {
  if (!condition) __builtin_trap();
}

inline std::vector<size_t> cutsFor(const uint8_t* data, size_t size, int scheme) {
  std::vector<size_t> cuts;
  if (size == 0) return cuts;
  if (scheme == 1) {
    cuts.push_back((static_cast<size_t>(data[size - 1]) * 257u + data[0]) % (size + 1));
  } else if (scheme == 2) {
    const size_t step = 1 + data[size / 2] % 7;
    for (size_t at = step; at < size; at += step) cuts.push_back(at);
  }
  return cuts;
}

// Calls feed(begin, length) for each piece, each copied into its own heap buffer
// so that AddressSanitizer sees any read past a piece.
template <typename Feed>
void feedPieces(const uint8_t* data, size_t size, const std::vector<size_t>& cuts, Feed&& feed) {
  size_t prev = 0;
  auto piece = [&](size_t to) {
    std::vector<char> copy(data + prev, data + to);
    feed(copy.data(), copy.size());
    prev = to;
  };
  for (size_t c : cuts) piece(c);
  piece(size);
}

}  // namespace redmirror::fuzz
