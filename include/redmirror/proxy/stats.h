#pragma once
// Per-worker counters, declared once. Each worker is the only writer of its own
// counters (plain load+store, no locked instruction on the data path); the
// control thread reads them with relaxed loads and sums the workers.
#include <atomic>
#include <cstdint>

#include "redmirror/net/counter.h"

namespace redmirror::proxy {

#define REDMIRROR_WORKER_COUNTERS(X)                                                       \
  X(connections_accepted, "client connections accepted")                                   \
  X(connections_closed, "client sessions ended")                                           \
  X(primary_connect_failures, "sessions whose primary connection could not be opened")      \
  X(primary_connect_timeouts, "primary connections that did not open in time")              \
  X(client_bytes, "bytes read from clients and forwarded to the primary")                  \
  X(primary_bytes, "bytes read from the primary and forwarded to clients")                 \
  X(commands_observed, "commands framed in client streams")                                \
  X(replies_matched, "replies matched to their commands")                                  \
  X(sessions_unobservable, "sessions whose streams the framer or matcher stopped following") \
  X(backpressure_pauses, "times reading one side paused because the other side's queue was full") \
  X(shutdown_forced_closes, "sessions closed at the shutdown deadline")

struct WorkerStats {
#define REDMIRROR_DECLARE_COUNTER(name, help) std::atomic<uint64_t> name{0};
  REDMIRROR_WORKER_COUNTERS(REDMIRROR_DECLARE_COUNTER)
#undef REDMIRROR_DECLARE_COUNTER
  std::atomic<uint64_t> sessions_active{0};
  std::atomic<uint64_t> chunk_bytes_live{0};
};

using net::bump;

}  // namespace redmirror::proxy
