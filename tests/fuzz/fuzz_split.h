#pragma once
// Shared by the framer fuzz targets: the ways one input is fed. Every input is
// fed whole, cut once at a point derived from its bytes, and in small chunks of
// a data-derived size; all three runs must report the same frames.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <utility>
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

template <typename Recorded>
struct Outcome {
  std::vector<Recorded> frames;
  bool failed;
  std::string error;
};

// Feeds the input to a fresh Framer in the pieces of `scheme`, checking the
// framer's own invariants; Checker records (and checks) what it reports.
template <typename Framer, typename Checker>
auto run(const uint8_t* data, size_t size, int scheme) {
  Framer framer;
  Checker checker(size);
  bool everFailed = false;
  feedPieces(data, size, cutsFor(data, size, scheme), [&](const char* p, size_t n) {
    const bool ok = framer.feed(std::span<const char>(p, n), checker);
    check(ok == !framer.failed());
    check(!(everFailed && ok));  // failure is sticky
    everFailed = !ok;
  });
  check(framer.offset() == size);
  check(framer.failed() == !framer.error().empty());
  using Recorded = typename decltype(checker.frames)::value_type;
  return Outcome<Recorded>{std::move(checker.frames), framer.failed(), framer.error()};
}

// Every way of cutting the input must give the frames of feeding it whole.
template <typename Framer, typename Checker>
void checkSplitsAgree(const uint8_t* data, size_t size) {
  const auto whole = run<Framer, Checker>(data, size, 0);
  for (int scheme = 1; scheme <= 2; ++scheme) {
    const auto split = run<Framer, Checker>(data, size, scheme);
    check(split.frames == whole.frames);
    check(split.failed == whole.failed && split.error == whole.error);
  }
}

}  // namespace redmirror::fuzz
