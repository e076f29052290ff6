#include "redmirror/mirror/tainted_keys.h"

#include <bit>

namespace redmirror::mirror {

namespace {
uint64_t mix(uint64_t x) {
  // splitmix64's finaliser: the slot index uses the low bits.
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}
}  // namespace

TaintedKeys::TaintedKeys(size_t capacity) {
  const size_t slots = std::bit_ceil(std::max<size_t>(16, capacity * 2));
  slots_.assign(slots, 0);
  mask_ = slots - 1;
}

uint64_t TaintedKeys::keyOf(uint32_t db, uint64_t keyHash) {
  const uint64_t key = mix(keyHash ^ (static_cast<uint64_t>(db) * 0x9E3779B97F4A7C15ULL));
  return key == 0 ? 1 : key;  // 0 marks an empty slot
}

void TaintedKeys::taintKey(uint32_t db, uint64_t keyHash) {
  const uint64_t key = keyOf(db, keyHash);
  std::lock_guard<std::mutex> lock(mutex_);
  if (count_ + 1 > (mask_ + 1) / 2) {
    // Full: the key's whole database stands in for it (skips more, blames none).
    overflows_.fetch_add(1, std::memory_order_relaxed);
    if (db < kMaxDbs) {
      dbs_.fetch_or(uint64_t{1} << db, std::memory_order_relaxed);
    } else {
      highDbs_.store(true, std::memory_order_relaxed);
    }
    updateAny();
    return;
  }
  for (size_t i = key & mask_;; i = (i + 1) & mask_) {
    if (slots_[i] == key) return;
    if (slots_[i] == 0) {
      slots_[i] = key;
      ++count_;
      break;
    }
  }
  updateAny();
}

void TaintedKeys::taintDb(uint32_t db) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (db < kMaxDbs) {
    dbs_.fetch_or(uint64_t{1} << db, std::memory_order_relaxed);
  } else {
    highDbs_.store(true, std::memory_order_relaxed);
  }
  updateAny();
}

void TaintedKeys::taintAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  dbs_.store(~uint64_t{0}, std::memory_order_relaxed);
  highDbs_.store(true, std::memory_order_relaxed);
  updateAny();
}

void TaintedKeys::clearKey(uint32_t db, uint64_t keyHash) {
  if (empty()) return;
  const uint64_t key = keyOf(db, keyHash);
  std::lock_guard<std::mutex> lock(mutex_);
  size_t i = key & mask_;
  while (slots_[i] != key) {
    if (slots_[i] == 0) return;
    i = (i + 1) & mask_;
  }
  // Backward-shift deletion: no tombstones, so the table never fills with them.
  size_t hole = i;
  for (size_t j = (hole + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
    const size_t home = slots_[j] & mask_;
    // Move slots_[j] into the hole unless its home lies cyclically in (hole, j].
    const bool homeBetween = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!homeBetween) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
  --count_;
  updateAny();
}

void TaintedKeys::clearDb(uint32_t db) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (db < kMaxDbs) dbs_.fetch_and(~(uint64_t{1} << db), std::memory_order_relaxed);
  updateAny();
}

void TaintedKeys::clearAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::fill(slots_.begin(), slots_.end(), 0);
  count_ = 0;
  dbs_.store(0, std::memory_order_relaxed);
  highDbs_.store(false, std::memory_order_relaxed);
  updateAny();
}

bool TaintedKeys::dbTainted(uint32_t db) const {
  if (db >= kMaxDbs) return highDbs_.load(std::memory_order_relaxed);
  return (dbs_.load(std::memory_order_relaxed) >> db) & 1;
}

bool TaintedKeys::containsKey(uint64_t key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = key & mask_;; i = (i + 1) & mask_) {
    if (slots_[i] == key) return true;
    if (slots_[i] == 0) return false;
  }
}

size_t TaintedKeys::keys() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_;
}

std::vector<uint32_t> TaintedKeys::taintedDbs() const {
  std::vector<uint32_t> dbs;
  const uint64_t bits = dbs_.load(std::memory_order_relaxed);
  for (uint32_t db = 0; db < kMaxDbs; ++db) {
    if ((bits >> db) & 1) dbs.push_back(db);
  }
  if (highDbs_.load(std::memory_order_relaxed)) dbs.push_back(kMaxDbs);
  return dbs;
}

void TaintedKeys::updateAny() {
  any_.store(count_ != 0 || dbs_.load(std::memory_order_relaxed) != 0 || highDbs_.load(std::memory_order_relaxed),
             std::memory_order_release);
}

}  // namespace redmirror::mirror
