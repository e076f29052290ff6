#pragma once
// Coalesces the writes of a worker's canary links across loop turns.
//
// A loopback write costs about 4 us here. Under a light mirror share a loop turn
// carries less than one mirrored command, so one write per link per turn would
// still be one write (and one read of the reply) per command. The batcher holds a
// link's bytes until `delayUs` after its first unwritten command, or until the
// link has `bytes` queued at the end of a turn, whichever comes first; at high
// rates every turn fills a batch and nothing waits. The canary's latency is
// measured from the real write (the link stamps its commands when flushed), so
// the delay never shows as canary slowness.
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace redmirror::mirror {

class BatchedLink {
 public:
  virtual ~BatchedLink() = default;
  // Write everything queued now; `nowUs` stamps the commands it carries.
  virtual void flushBatch(uint64_t nowUs) = 0;
  virtual size_t unflushedBytes() const = 0;
};

class LinkBatcher {
 public:
  explicit LinkBatcher(uv_loop_t* loop);
  ~LinkBatcher();
  LinkBatcher(const LinkBatcher&) = delete;
  LinkBatcher& operator=(const LinkBatcher&) = delete;

  // 0 us: every link is written once per loop turn, with no delay.
  void configure(uint32_t delayUs, size_t bytes);
  // `link` has bytes to write; it is not scheduled already.
  void schedule(BatchedLink& link);
  // `link` is going away: drop it from the queue.
  void forget(BatchedLink& link);
  // End of a loop turn (the worker's check phase, after the sessions' writes).
  void onTurnEnd();
  // Closes the timer (worker stopping); closed() once libuv has released it.
  void close();
  bool closed() const { return closed_; }

 private:
  struct Entry {
    BatchedLink* link;
    uint64_t sinceUs;
  };
  static void onTimer(uv_timer_t* handle);
  void flushDue(uint64_t nowUs, bool all);

  uv_loop_t* loop_;
  uv_timer_t timer_{};
  bool timerReady_ = false;
  std::vector<Entry> queue_;
  std::vector<Entry> flushing_;
  uint32_t delayUs_ = 0;
  size_t bytes_ = 0;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace redmirror::mirror
