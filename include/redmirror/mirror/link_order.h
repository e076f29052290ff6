#pragma once
// Causal order of one canary's mirrored stream across workers.
//
// Each worker writes its sessions' mirrored commands to its own links, so two
// commands of different connections reach the canary over different sockets.
// When a client reacts on one connection to what another connection's command
// did on the primary (a consumer popping what a producer pushed), the second
// command was read after the first one was: the canary must receive them in
// that order too, or it answers from an older state and the comparison reports
// a divergence the canary is not guilty of.
//
// A command queued in a loop turn cannot have been seen by any client before
// that turn's end writes it to the primary (or, for an effect, writes the
// primary's reply to its client). So each worker seals, when its turn end
// begins, what its links queued in the turn with that time, and each link
// publishes the seal of its oldest command the kernel does not have yet (still
// queued, or waiting in libuv for a full socket: its slot's key; kEmpty when it
// has none). A link writes only commands sealed before every other link's
// oldest such command: a command that causally follows another was read
// after that one's seal, so it is sealed later and written after it, whichever
// workers read them and however long each link batches. The link holding the
// oldest seal can always write: the order never deadlocks, it only makes a link
// wait for the others' next write. Keys are (microseconds << 16 | slot):
// distinct per link, ordered by time, ties broken by slot.
//
// What this cannot order: a canary that falls behind reads a link's whole
// buffer at once, so when it still holds older unread bytes of link A, a later
// command of A can run before an earlier one of link B that sits in B's buffer.
// Waiting for the canary's answers instead would close that too, but makes the
// links take turns once per round trip and starves the mirror under load (the
// budget then drops commands); it needs one connection per canary instead.
#include <atomic>
#include <cstdint>
#include <memory>

namespace redmirror::mirror {

class LinkOrder {
 public:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  static constexpr uint32_t kMaxSlots = 1u << 16;

  explicit LinkOrder(uint32_t slots);
  uint32_t slots() const { return slots_; }
  static uint64_t key(uint64_t atUs, uint32_t slot) { return (atUs << 16) | slot; }
  // The seal of the oldest unwritten command of `slot` (kEmpty: none).
  void publish(uint32_t slot, uint64_t key) {
    if (slot < slots_) oldest_[slot].store(key, std::memory_order_release);
  }
  // The oldest seal of every slot but `slot` (kEmpty: none).
  uint64_t othersOldest(uint32_t slot) const;

 private:
  uint32_t slots_;
  std::unique_ptr<std::atomic<uint64_t>[]> oldest_;
};

}  // namespace redmirror::mirror
