#pragma once
// Shedding by slot: when a canary cannot keep up, its effective share shrinks
// by whole slots, highest-ranked first, instead of dropping commands here and
// there (each drop leaves a key wrong on the canary; a shed slot leaves a
// known range unmirrored). The share climbs back, slot range by slot range,
// once the canary keeps up again.
//
// A slot is mirrored while its rank (SlotSampler) is below
// threshold(percent) - shed. Writes to a shed slot are not mirrored and taint
// their keys (WorkerMirror), so that after the climb back the keys written
// meanwhile are not judged until repaired or overwritten; reads of a shed slot
// are not sampled.
//
// The controller is pure (no clock, no sockets): the canary's home worker
// feeds it what it sees on each sweep.
#include <cstdint>

namespace redmirror::mirror {

class SlotShedder {
 public:
  struct Input {
    uint64_t nowMs = 0;
    uint32_t thresholdSlots = 0;  // the configured share, in slots (SlotSampler::threshold)
    uint64_t heldBytes = 0;       // what is queued for the canary now (CanaryHub::held)
    uint64_t budgetBytes = 0;     // its budget
    uint64_t drops = 0;           // commands dropped for the budget so far (cumulative, all workers)
  };
  // Under pressure when more than this share of the budget is held...
  static constexpr uint64_t kPressurePercent = 50;
  // ...and calm below this share, with no drop, for kRecoverAfterMs.
  static constexpr uint64_t kCalmPercent = 10;
  static constexpr uint64_t kRecoverAfterMs = 2000;
  // Each step under pressure sheds an eighth of the effective share; each
  // calm period gives back a sixteenth of the configured share.
  static constexpr uint32_t kShedDivisor = 8;
  static constexpr uint32_t kClimbDivisor = 16;

  // Returns the slots to shed from the top of the configured share (0: none).
  uint32_t update(const Input& input);
  uint32_t shed() const { return shed_; }

 private:
  uint32_t shed_ = 0;
  uint64_t lastDrops_ = 0;
  bool seenDrops_ = false;
  uint64_t calmSinceMs_ = 0;  // last time under pressure or stepping (0: never)
};

}  // namespace redmirror::mirror
