#pragma once
// When the worker's canary links (and its delayed effects) are written.
//
// With delay 0 every link with queued bytes is written once at the end of each
// loop turn. With a delay (the default), a link's bytes wait until `delayUs`
// after its first unwritten command, or until it has `bytes` queued at the end
// of a turn: under a light mirror share many commands then share one write and
// one read (a loopback write costs about 4 us here). The canary's latency is
// measured from the real write, so the wait never shows as canary slowness.
// A link that cannot write everything yet (flushBatch false) is retried at the
// next turn's end, or by the timer.
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace redmirror::mirror {

class BatchedLink {
 public:
  virtual ~BatchedLink() = default;
  // Write what is queued now; `nowUs` stamps the commands it carries. False when
  // some commands must wait: the link stays queued.
  virtual bool flushBatch(uint64_t nowUs) = 0;
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
  // Calls `handler` from the timer once `dueUs` has passed (the loop may be
  // idle by then); an earlier request wins.
  void wakeAt(uint64_t dueUs);
  void setWakeHandler(std::function<void()> handler) { wakeHandler_ = std::move(handler); }
  // Closes the timer (worker stopping); closed() once libuv has released it.
  void close();
  bool closed() const { return closed_; }

 private:
  struct Entry {
    BatchedLink* link;
    uint64_t dueUs;
  };
  static void onTimer(uv_timer_t* handle);
  void flushDue(uint64_t nowUs, uint64_t slackUs);
  void rearm(uint64_t nowUs);
  // The timer is set up on first use (not at all while closing).
  void initTimer();

  uv_loop_t* loop_;
  uv_timer_t timer_{};
  bool timerReady_ = false;
  std::vector<Entry> queue_;
  std::vector<Entry> flushing_;
  uint32_t delayUs_ = 0;
  size_t bytes_ = 0;
  uint64_t wakeUs_ = 0;  // 0: no wake-up requested
  std::function<void()> wakeHandler_;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace redmirror::mirror
