#pragma once
// A FIFO on one growing array: push at the back, pop at the front, no
// allocation once it has grown to the session's pipeline depth (std::deque
// allocates and frees a block every few entries of a large element).
#include <cstddef>
#include <utility>
#include <vector>

namespace redmirror::proxy {

template <typename T>
class Ring {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  T& front() { return slots_[head_]; }
  const T& front() const { return slots_[head_]; }
  T& back() { return slots_[(head_ + size_ - 1) & mask()]; }
  const T& operator[](size_t i) const { return slots_[(head_ + i) & mask()]; }

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) & mask()] = std::move(value);
    ++size_;
  }
  void pop_front() {
    head_ = (head_ + 1) & mask();
    --size_;
  }
  void clear() {
    head_ = 0;
    size_ = 0;
  }

 private:
  size_t mask() const { return slots_.size() - 1; }
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 16 : slots_.size() * 2);
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[(head_ + i) & mask()]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;  // size is a power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace redmirror::proxy
