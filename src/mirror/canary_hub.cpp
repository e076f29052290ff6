#include "redmirror/mirror/canary_hub.h"

#include <limits>

namespace redmirror::mirror {

CanaryHub::CanaryHub(size_t workers) : wakes_(workers == 0 ? 1 : workers, nullptr), messages_(wakes_.size()) {}

void CanaryHub::attach(size_t worker, uv_async_t* wake) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (worker < wakes_.size()) wakes_[worker] = wake;
}

void CanaryHub::detach(size_t worker) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (worker >= wakes_.size()) return;
  wakes_[worker] = nullptr;
  messages_[worker].clear();
  if (worker == home_) {
    // What nobody will write any more no longer counts against the budget.
    for (const HandoffBatch& batch : batches_) release(batch.charged);
    batches_.clear();
  }
}

void CanaryHub::wake(size_t worker) {
  if (worker < wakes_.size() && wakes_[worker] != nullptr) uv_async_send(wakes_[worker]);
}

void CanaryHub::handOver(HandoffBatch&& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (home_ >= wakes_.size() || wakes_[home_] == nullptr) {
    release(batch.charged);  // no writer (stopping): dropped, as by a link going down
    return;
  }
  const bool own = batch.worker == home_;
  batches_.push_back(std::move(batch));
  // The home takes its own batches at its turn's end; others wake it.
  if (!own && batches_.size() == 1) wake(home_);
}

void CanaryHub::takeBatches(std::vector<HandoffBatch>& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (out.empty()) {
    out.swap(batches_);
  } else {
    for (HandoffBatch& batch : batches_) out.push_back(std::move(batch));
    batches_.clear();
  }
}

void CanaryHub::post(size_t worker, std::vector<LinkMessage>& messages) {
  if (messages.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (worker >= wakes_.size() || wakes_[worker] == nullptr) {
    messages.clear();  // the worker stopped: its comparisons are gone with it
    return;
  }
  std::vector<LinkMessage>& box = messages_[worker];
  const bool wasEmpty = box.empty();
  if (wasEmpty) {
    box.swap(messages);
  } else {
    for (LinkMessage& message : messages) box.push_back(std::move(message));
    messages.clear();
  }
  if (wasEmpty) wake(worker);
}

void CanaryHub::takeMessages(size_t worker, std::vector<LinkMessage>& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (worker >= messages_.size()) return;
  if (out.empty()) {
    out.swap(messages_[worker]);
  } else {
    for (LinkMessage& message : messages_[worker]) out.push_back(std::move(message));
    messages_[worker].clear();
  }
}

CanaryOutbox::~CanaryOutbox() { hub_.release(batch_.charged); }

template <typename Copy>
SendResult CanaryOutbox::queue(uint64_t bytes, uint32_t db, int protocol, uint32_t replies, uint32_t comparison,
                               uint32_t retry, WriteTaint taint, bool bracketed, Copy&& copy) {
  if (!hub_.up()) return SendResult::kDisconnected;
  if (batch_.bytes.size() + bytes > std::numeric_limits<uint32_t>::max()) return SendResult::kQueueFull;
  const uint64_t cost = bytes + uint64_t{replies} * CanaryHub::kPendingCost;
  if (!hub_.reserve(cost, budget_)) return SendResult::kQueueFull;
  const size_t before = batch_.bytes.size();
  if (!copy(batch_.bytes)) {
    batch_.bytes.resize(before);
    hub_.release(cost);
    return SendResult::kDisconnected;
  }
  batch_.charged += cost;
  batch_.entries.push_back(HandoffEntry{static_cast<uint32_t>(batch_.bytes.size()), db, comparison, retry,
                                        replies, protocol, taint, bracketed});
  return SendResult::kSent;
}

SendResult CanaryOutbox::send(const net::StreamWindow& window, uint64_t begin, uint64_t end, uint32_t db,
                              int protocol, uint32_t comparison, uint32_t retry, WriteTaint taint) {
  return queue(end - begin, db, protocol, 1, comparison, retry, taint, false,
               [&](std::string& out) { return window.copy(begin, end, out); });
}

SendResult CanaryOutbox::sendHeld(const std::vector<net::Slice>& bytes, uint32_t db, int protocol,
                                  uint32_t comparison, uint32_t retry, WriteTaint taint) {
  uint64_t total = 0;
  for (const net::Slice& slice : bytes) total += slice.size();
  return queue(total, db, protocol, 1, comparison, retry, taint, false, [&](std::string& out) {
    for (const net::Slice& slice : bytes) out.append(slice.data(), slice.size());
    return true;
  });
}

SendResult CanaryOutbox::sendOwned(std::string_view bytes, uint32_t db, int protocol, uint32_t replies,
                                   uint32_t comparison, WriteTaint taint, bool bracketed) {
  return queue(bytes.size(), db, protocol, replies, comparison, 0, taint, bracketed, [&](std::string& out) {
    out.append(bytes);
    return true;
  });
}

void CanaryOutbox::handOver() {
  if (batch_.entries.empty()) return;
  batch_.worker = worker_;
  hub_.handOver(std::move(batch_));
  batch_ = HandoffBatch{};
}

}  // namespace redmirror::mirror
