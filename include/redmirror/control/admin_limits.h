#pragma once
// Limits of one admin connection, so that a client that floods or misbehaves
// costs only itself: the size of one command, a rate of commands, the number of
// connections, and how long a connection may stay without access (a TCP peer
// before AUTH, a refused uid).
#include <cstddef>
#include <cstdint>

namespace redmirror::control {

struct AdminLimits {
  size_t maxCommandBytes = 64 * 1024;  // one command, as sent; admin commands are short
  uint32_t commandsPerSecond = 100;    // per connection, sustained (0: no limit)
  uint32_t commandBurst = 200;         // per connection, at once
  size_t maxUnixConnections = 128;
  size_t maxTcpConnections = 32;   // counted apart: remote peers cannot crowd out local ones
  uint64_t accessTimeoutMs = 10000;  // a connection without access is closed after this
};

// A token bucket: `burst` commands at once, then `perSecond`. Integer arithmetic
// in thousandths of a command, so no rate drifts.
class CommandRateLimiter {
 public:
  CommandRateLimiter(uint32_t perSecond, uint32_t burst, uint64_t nowMs);
  // Takes one command's token at `nowMs` (milliseconds, monotonic); false when none is left.
  bool allow(uint64_t nowMs);

 private:
  uint64_t perSecond_;
  uint64_t capacity_;  // thousandths
  uint64_t tokens_;    // thousandths
  uint64_t lastMs_;
};

}  // namespace redmirror::control
