#include "redmirror/mirror/sampler.h"

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
  for (const char c : bytes) {
    const auto byte = static_cast<uint8_t>(c);
    crc = static_cast<uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ byte) & 0xff]);
  }
  return crc;
}

uint16_t keySlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) {
      return crc16(key.substr(open + 1, close - open - 1)) & (kSlotCount - 1);
    }
  }
  return crc16(key) & (kSlotCount - 1);
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
