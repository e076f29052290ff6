#include "redmirror/mirror/link_batcher.h"

#include <algorithm>
#include <cassert>

namespace redmirror::mirror {

// The loop may not be initialised yet when the worker builds us: the timer is
// made on first use.
LinkBatcher::LinkBatcher(uv_loop_t* loop) : loop_(loop) {}

LinkBatcher::~LinkBatcher() {
  // The owner closes the timer (close()) and runs the loop before destroying us.
  assert(closed_ && "LinkBatcher destroyed before its timer was closed");
}

void LinkBatcher::configure(uint32_t delayUs, size_t bytes) {
  delayUs_ = delayUs;
  bytes_ = bytes;
}

void LinkBatcher::initTimer() {
  if (timerReady_ || closing_) return;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  timerReady_ = true;
}

void LinkBatcher::schedule(BatchedLink& link) {
  initTimer();
  queue_.push_back(Entry{&link, uv_hrtime() / 1000 + delayUs_});
}

void LinkBatcher::wakeAt(uint64_t dueUs) {
  if (closing_) return;
  initTimer();
  if (wakeUs_ == 0 || dueUs < wakeUs_) wakeUs_ = dueUs;
  rearm(uv_hrtime() / 1000);
}

void LinkBatcher::forget(BatchedLink& link) {
  std::erase_if(queue_, [&](const Entry& entry) { return entry.link == &link; });
  for (Entry& entry : flushing_) {
    if (entry.link == &link) entry.link = nullptr;  // being walked: skipped, not erased
  }
}

void LinkBatcher::onTurnEnd() {
  if (!queue_.empty()) flushDue(uv_hrtime() / 1000, 0);
}

void LinkBatcher::onTimer(uv_timer_t* handle) {
  auto* self = static_cast<LinkBatcher*>(handle->data);
  // The timer has millisecond granularity: what falls due within it goes now.
  const uint64_t nowUs = uv_hrtime() / 1000;
  const bool wake = self->wakeUs_ != 0 && nowUs + 1000 >= self->wakeUs_;
  if (wake) self->wakeUs_ = 0;
  self->flushDue(nowUs, 1000);
  if (wake && self->wakeHandler_) self->wakeHandler_();
}

void LinkBatcher::flushDue(uint64_t nowUs, uint64_t slackUs) {
  flushing_.clear();
  flushing_.swap(queue_);
  // A flush may schedule again (a write that could not finish) or forget links:
  // flushing_ is the list being walked, queue_ takes the new entries.
  for (size_t i = 0; i < flushing_.size(); ++i) {
    const Entry entry = flushing_[i];
    if (entry.link == nullptr) continue;
    if (nowUs + slackUs >= entry.dueUs || entry.link->unflushedBytes() >= bytes_) {
      // Held back for other links' older commands: due again at once.
      if (!entry.link->flushBatch(nowUs)) queue_.push_back(Entry{entry.link, nowUs});
    } else {
      queue_.push_back(entry);
    }
  }
  flushing_.clear();
  rearm(nowUs);
}

void LinkBatcher::rearm(uint64_t nowUs) {
  if (!timerReady_ || closing_) return;
  if (queue_.empty() && wakeUs_ == 0) {
    uv_timer_stop(&timer_);
    return;
  }
  // The loop may go idle: wake it when the first batch is due (ms granularity).
  // Timers count from the loop's cached time, which lags by this turn's work:
  // refresh it, or the timer fires before the batch is due.
  uv_update_time(loop_);
  uint64_t dueUs = wakeUs_ != 0 ? wakeUs_ : UINT64_MAX;
  for (const Entry& entry : queue_) dueUs = std::min(dueUs, entry.dueUs);
  const uint64_t waitUs = dueUs > nowUs ? dueUs - nowUs : 0;
  uv_timer_start(&timer_, &LinkBatcher::onTimer, std::max<uint64_t>(1, (waitUs + 999) / 1000), 0);
}

void LinkBatcher::close() {
  if (closing_) return;
  closing_ = true;
  queue_.clear();
  if (!timerReady_) {
    closed_ = true;
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* handle) { static_cast<LinkBatcher*>(handle->data)->closed_ = true; });
}

}  // namespace redmirror::mirror
