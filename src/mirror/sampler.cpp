#include "redmirror/mirror/sampler.h"

#include <cstring>
#include <numeric>
#include <utility>

namespace redmirror::mirror {
namespace {

// Redis's crc16.c: CRC16-CCITT (XModem), polynomial 0x1021, initial value 0.
constexpr std::array<uint16_t, 256> makeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
    }
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = makeCrc16Table();
static_assert(kCrc16Table[1] == 0x1021 && kCrc16Table[255] == 0x1ef0, "crc16 table as in Redis crc16.c");

// Slicing by 8: table k holds what a byte contributes when k more bytes follow
// it, so eight bytes cost eight lookups and no serial dependency between them
// (the CRC is linear over XOR). Every sampled command hashes its keys.
using SliceTables = std::array<std::array<uint16_t, 256>, 8>;
constexpr SliceTables makeSliceTables() {
  SliceTables tables{};
  tables[0] = kCrc16Table;
  for (size_t k = 1; k < 8; ++k) {
    for (size_t x = 0; x < 256; ++x) {
      const uint16_t prev = tables[k - 1][x];
      tables[k][x] = static_cast<uint16_t>((prev << 8) ^ kCrc16Table[prev >> 8]);
    }
  }
  return tables;
}
constexpr SliceTables kSlices = makeSliceTables();

// The CRC after eight more bytes, and after one more byte.
inline uint16_t crcOf8(uint16_t crc, const uint8_t* p) {
  return static_cast<uint16_t>(kSlices[7][p[0] ^ (crc >> 8)] ^ kSlices[6][p[1] ^ (crc & 0xff)] ^
                               kSlices[5][p[2]] ^ kSlices[4][p[3]] ^ kSlices[3][p[4]] ^ kSlices[2][p[5]] ^
                               kSlices[1][p[6]] ^ kSlices[0][p[7]]);
}
inline uint16_t crcOf1(uint16_t crc, uint8_t byte) {
  return static_cast<uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ byte) & 0xff]);
}

// splitmix64: a fixed, portable generator, so a seed gives the same permutation
// on every platform and standard library.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), bound > 0, by rejection (no modulo bias).
  uint64_t below(uint64_t bound) {
    const uint64_t limit = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
      const uint64_t r = next();
      if (r >= limit) return r % bound;
    }
  }

 private:
  uint64_t state_;
};

}  // namespace

uint16_t crc16(std::string_view bytes) {
  uint16_t crc = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size();
  for (; n >= 8; n -= 8, p += 8) crc = crcOf8(crc, p);
  for (; n > 0; --n, ++p) crc = crcOf1(crc, *p);
  return crc;
}

namespace {

// Keys with a '{': Redis's rule (the first '{', the first '}' after it, a
// non-empty tag between them).
uint16_t taggedKeySlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) {
      return crc16(key.substr(open + 1, close - open - 1)) & (kSlotCount - 1);
    }
  }
  return crc16(key) & (kSlotCount - 1);
}

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr uint64_t kOpenBraces = kOnes * static_cast<uint8_t>('{');

}  // namespace

uint16_t keySlot(std::string_view key) {
  // Every command the proxy frames pays this when a canary samples (most keys
  // have no hash tag): one pass that hashes the key and looks for '{' eight
  // bytes at a time, instead of a memchr call before the CRC.
  uint16_t crc = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(key.data());
  size_t n = key.size();
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    const uint64_t braces = word ^ kOpenBraces;  // a zero byte where p holds '{'
    if (((braces - kOnes) & ~braces & kHighBits) != 0) return taggedKeySlot(key);
    crc = crcOf8(crc, p);
  }
  for (; n > 0; --n, ++p) {
    if (*p == '{') return taggedKeySlot(key);
    crc = crcOf1(crc, *p);
  }
  return crc & (kSlotCount - 1);
}

SlotSampler::SlotSampler(uint64_t seed) {
  std::array<uint16_t, kSlotCount> order{};
  std::iota(order.begin(), order.end(), uint16_t{0});
  SplitMix64 rng(seed);
  // Fisher-Yates: order[pos] is the slot ranked pos.
  for (uint32_t i = kSlotCount - 1; i > 0; --i) {
    const auto j = static_cast<uint32_t>(rng.below(i + 1));
    std::swap(order[i], order[j]);
  }
  for (uint32_t pos = 0; pos < kSlotCount; ++pos) rank_[order[pos]] = static_cast<uint16_t>(pos);
}

}  // namespace redmirror::mirror
