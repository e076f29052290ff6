#pragma once
// Guarded writes before the blocking pops they fed, across workers.
//
// A write reaches the canaries only once the primary answered it
// (Effect::Kind::kGuard), at the end of the loop turn in which its reply was
// read. A blocking pop's effect is also sent once its reply is read. When the
// write served the pop (LPUSH q feeding a BRPOP q of another client), Redis
// writes the pop's reply first, and the two replies may be read in different
// turns or by different workers: sent as read, the canary would pop before the
// push. So a pop waits while a guarded write on one of its keys is unresolved
// (not yet sent, refused or lost) and was framed before the pop's reply was
// read. "On one of its keys": counters by key hash bucket (a collision only
// makes a pop wait). "Framed before": each worker publishes the framing time
// of its oldest unresolved guard; a pop whose reply was read later than every
// worker's oldest unresolved guard waits for nothing (later writes to its keys
// do not hold it, so a busy queue cannot starve it).
//
// A pop that waited kGuardWaitUs runs anyway and taints its keys: its feeder's
// reply is held up (its client is not reading), and the canary may pop before
// the push.
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace redmirror::mirror {

class GuardOrder {
 public:
  static constexpr uint64_t kNone = UINT64_MAX;
  static constexpr size_t kBuckets = 1 << 16;

  explicit GuardOrder(size_t workers);
  size_t workers() const { return workers_; }
  static size_t bucketOf(uint64_t keyHash) { return (keyHash ^ (keyHash >> 29)) & (kBuckets - 1); }

  void addKey(size_t bucket) { buckets_[bucket].fetch_add(1, std::memory_order_seq_cst); }
  void removeKey(size_t bucket) { buckets_[bucket].fetch_sub(1, std::memory_order_seq_cst); }
  bool keyPending(uint64_t keyHash) const { return buckets_[bucketOf(keyHash)].load(std::memory_order_seq_cst) != 0; }

  // A worker's oldest unresolved guard (kNone: none).
  void publish(size_t worker, uint64_t oldestUs) {
    if (worker < workers_) oldest_[worker].store(oldestUs, std::memory_order_seq_cst);
  }
  // Whether some worker holds an unresolved guard framed at or before `us`.
  bool pendingAtOrBefore(uint64_t us) const;

 private:
  size_t workers_;
  std::unique_ptr<std::atomic<uint32_t>[]> buckets_;
  std::unique_ptr<std::atomic<uint64_t>[]> oldest_;
};

// One worker's unresolved guards in framing order (framing times only grow).
class GuardQueue {
 public:
  GuardQueue(std::shared_ptr<GuardOrder> order, size_t worker) : order_(std::move(order)), worker_(worker) {}
  // Opens a guard framed at `atUs` on the keys `keyHashes`; returns its number.
  uint64_t open(uint64_t atUs, const std::vector<uint64_t>& keyHashes, std::vector<uint32_t>& buckets);
  void close(uint64_t number, const std::vector<uint32_t>& buckets);
  GuardOrder& order() { return *order_; }
  size_t unresolved() const { return unresolved_; }

 private:
  struct Entry {
    uint64_t atUs;
    bool closed;
  };
  void publishFront();

  std::shared_ptr<GuardOrder> order_;
  size_t worker_;
  std::deque<Entry> entries_;
  uint64_t first_ = 0;  // number of entries_.front()
  size_t unresolved_ = 0;
};

// Keeps one guard open while it lives (move-only): closed when the guarded
// write was sent, refused or lost.
class PendingGuard {
 public:
  PendingGuard() = default;
  PendingGuard(std::shared_ptr<GuardQueue> queue, uint64_t atUs, const std::vector<uint64_t>& keyHashes)
      : queue_(std::move(queue)) {
    number_ = queue_->open(atUs, keyHashes, buckets_);
  }
  PendingGuard(PendingGuard&& other) noexcept
      : queue_(std::move(other.queue_)), number_(other.number_), buckets_(std::move(other.buckets_)) {}
  PendingGuard& operator=(PendingGuard&& other) noexcept {
    if (this != &other) {
      reset();
      queue_ = std::move(other.queue_);
      number_ = other.number_;
      buckets_ = std::move(other.buckets_);
    }
    return *this;
  }
  PendingGuard(const PendingGuard&) = delete;
  PendingGuard& operator=(const PendingGuard&) = delete;
  ~PendingGuard() { reset(); }
  void reset() {
    if (!queue_) return;
    queue_->close(number_, buckets_);
    queue_.reset();
  }

 private:
  std::shared_ptr<GuardQueue> queue_;
  uint64_t number_ = 0;
  std::vector<uint32_t> buckets_;
};

}  // namespace redmirror::mirror
