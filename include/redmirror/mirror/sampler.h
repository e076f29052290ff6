#pragma once
// Slot-consistent sampling (DESIGN.md "Mirroring"): a key's slot is Redis
// Cluster's CRC16 of its hash tag mod 16384; a seeded permutation ranks the
// slots; a slot is sampled at P percent when its rank is below P * 16384 / 100.
// Raising P only adds slots, so a canary holds a consistent, growing subset of
// the key space.
#include <array>
#include <cstdint>
#include <string_view>

namespace redmirror::mirror {

inline constexpr uint32_t kSlotCount = 16384;
// Percentages are carried as hundredths (0..10000) so 0.01 steps are exact.
inline constexpr uint32_t kPercentScale = 100;

// CRC16-CCITT (XModem) as Redis Cluster uses it.
uint16_t crc16(std::string_view bytes);
// Redis Cluster's keyHashSlot: hash only the part inside the first {...} when it is non-empty.
uint16_t keySlot(std::string_view key);

class SlotSampler {
 public:
  explicit SlotSampler(uint64_t seed = 0);
  uint16_t rank(uint16_t slot) const { return rank_[slot]; }
  // percentHundredths in 0..10000.
  bool sampled(uint16_t slot, uint32_t percentHundredths) const {
    return rank_[slot] < threshold(percentHundredths);
  }
  static uint32_t threshold(uint32_t percentHundredths) {
    return static_cast<uint32_t>((static_cast<uint64_t>(percentHundredths) * kSlotCount) / 10000);
  }

 private:
  std::array<uint16_t, kSlotCount> rank_{};
};

}  // namespace redmirror::mirror
