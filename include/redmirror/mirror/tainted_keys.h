#pragma once
// Keys whose mirrored history on one canary has a gap: a write to them was
// dropped (budget, no link, oversize, a shed slot), or was sent on a link that
// died before its reply, or could not be confirmed as run on the primary. The
// canary's copy of such a key may be wrong through no fault of its own, so a
// comparison that reads it is counted as `tainted`, never as a divergence.
//
// Taint outlives RESET (the canary's data is still wrong after it). It ends for
// a key when the mirror overwrites the key whole on the canary (SET, DEL,
// RESTORE ... REPLACE: CommandInfo::overwritesKeys) or repairs it (DUMP/RESTORE
// of --warm-canary); for a whole database when a FLUSHDB or FLUSHALL reaches
// the canary. A dropped write that touches keys it does not name (FLUSHDB,
// SWAPDB, a script) taints its whole database, as does a key that no longer
// fits in the set: a false positive only ever skips a comparison.
//
// Shared by every worker of one canary. Workers write rarely (a drop, an
// overwrite of a tainted key) and read on every compared read; reads of a
// canary without taint cost one relaxed load.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace redmirror::mirror {

class TaintedKeys {
 public:
  // Databases 0..kMaxDbs-1 are tainted one by one; higher ones all together.
  static constexpr uint32_t kMaxDbs = 64;

  // `capacity`: most keys held (rounded up to a power of two, at most half full).
  explicit TaintedKeys(size_t capacity = 65536);

  // A key of database `db`, by WrittenKeys::hash of its name.
  static uint64_t keyOf(uint32_t db, uint64_t keyHash);

  void taintKey(uint32_t db, uint64_t keyHash);
  void taintDb(uint32_t db);
  void taintAll();
  // The mirror overwrote the key whole on the canary.
  void clearKey(uint32_t db, uint64_t keyHash);
  // A FLUSHDB of `db` (FLUSHALL: clearAll) reached the canary.
  void clearDb(uint32_t db);
  void clearAll();

  bool tainted(uint32_t db, uint64_t keyHash) const {
    if (empty()) return false;
    return dbTainted(db) || containsKey(keyOf(db, keyHash));
  }
  bool dbTainted(uint32_t db) const;
  bool empty() const { return !any_.load(std::memory_order_acquire); }

  // For REPORT: keys held, databases tainted whole (db numbers; kMaxDbs stands
  // for "64 and above"), keys that did not fit (their databases were tainted).
  size_t keys() const;
  std::vector<uint32_t> taintedDbs() const;
  uint64_t overflows() const { return overflows_.load(std::memory_order_relaxed); }

 private:
  bool containsKey(uint64_t key) const;
  void updateAny();  // with mutex_ held

  mutable std::mutex mutex_;
  std::vector<uint64_t> slots_;  // open addressing, linear probing; 0 is empty
  size_t mask_ = 0;
  size_t count_ = 0;
  std::atomic<uint64_t> dbs_{0};   // bit per database
  std::atomic<bool> highDbs_{false};
  std::atomic<bool> any_{false};
  std::atomic<uint64_t> overflows_{0};
};

// What a mirrored write taints if it is lost (dropped before the canary got it,
// or sent on a link that died before the reply): kept beside the command.
struct WriteTaint {
  enum class Scope : uint8_t {
    kNone,  // not a write
    kKey,   // one key: keyHash (WrittenKeys::hash) in db
    kDb,    // keys it does not name, or several: the whole database
    kAll,   // FLUSHALL, SWAPDB: every database
  };
  Scope scope = Scope::kNone;
  uint32_t db = 0;
  uint64_t keyHash = 0;

  void applyTo(TaintedKeys& tainted) const {
    switch (scope) {
      case Scope::kNone: break;
      case Scope::kKey: tainted.taintKey(db, keyHash); break;
      case Scope::kDb: tainted.taintDb(db); break;
      case Scope::kAll: tainted.taintAll(); break;
    }
  }
};

}  // namespace redmirror::mirror
