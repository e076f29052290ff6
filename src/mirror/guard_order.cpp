#include "redmirror/mirror/guard_order.h"

#include <algorithm>

namespace redmirror::mirror {

GuardOrder::GuardOrder(size_t workers)
    : workers_(std::max<size_t>(1, workers)),
      buckets_(std::make_unique<std::atomic<uint32_t>[]>(kBuckets)),
      oldest_(std::make_unique<std::atomic<uint64_t>[]>(workers_)) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i].store(0, std::memory_order_relaxed);
  for (size_t i = 0; i < workers_; ++i) oldest_[i].store(kNone, std::memory_order_relaxed);
}

bool GuardOrder::pendingAtOrBefore(uint64_t us) const {
  for (size_t i = 0; i < workers_; ++i) {
    if (oldest_[i].load(std::memory_order_seq_cst) <= us) return true;
  }
  return false;
}

uint64_t GuardQueue::open(uint64_t atUs, const std::vector<uint64_t>& keyHashes, std::vector<uint32_t>& buckets) {
  // Buckets first: a pop that sees this guard's time must also see its keys.
  buckets.clear();
  for (uint64_t hash : keyHashes) {
    const auto bucket = static_cast<uint32_t>(GuardOrder::bucketOf(hash));
    order_->addKey(bucket);
    buckets.push_back(bucket);
  }
  // Framing times only grow on one worker; a clock that did not move keeps the order.
  if (!entries_.empty()) atUs = std::max(atUs, entries_.back().atUs);
  entries_.push_back(Entry{atUs, false});
  ++unresolved_;
  if (entries_.size() == 1) publishFront();
  return first_ + entries_.size() - 1;
}

void GuardQueue::close(uint64_t number, const std::vector<uint32_t>& buckets) {
  if (number < first_ || number - first_ >= entries_.size()) return;
  Entry& entry = entries_[number - first_];
  if (entry.closed) return;
  entry.closed = true;
  --unresolved_;
  for (uint32_t bucket : buckets) order_->removeKey(bucket);
  if (number != first_) return;
  while (!entries_.empty() && entries_.front().closed) {
    entries_.pop_front();
    ++first_;
  }
  publishFront();
}

void GuardQueue::publishFront() {
  order_->publish(worker_, entries_.empty() ? GuardOrder::kNone : entries_.front().atUs);
}

}  // namespace redmirror::mirror
