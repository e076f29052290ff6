#include "redmirror/control/admin_limits.h"

#include <algorithm>

namespace redmirror::control {

CommandRateLimiter::CommandRateLimiter(uint32_t perSecond, uint32_t burst, uint64_t nowMs)
    : perSecond_(perSecond),
      capacity_(uint64_t{std::max<uint32_t>(burst, 1)} * 1000),
      tokens_(capacity_),
      lastMs_(nowMs) {}

bool CommandRateLimiter::allow(uint64_t nowMs) {
  if (perSecond_ == 0) return true;  // no limit
  if (nowMs > lastMs_) {
    // perSecond commands a second are perSecond thousandths a millisecond.
    const uint64_t elapsed = nowMs - lastMs_;
    const uint64_t room = capacity_ - tokens_;
    tokens_ += elapsed >= room / perSecond_ + 1 ? room : elapsed * perSecond_;
    lastMs_ = nowMs;
  }
  if (tokens_ < 1000) return false;
  tokens_ -= 1000;
  return true;
}

}  // namespace redmirror::control
