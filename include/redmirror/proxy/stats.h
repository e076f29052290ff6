#pragma once
// Per-worker counters, declared once. Each worker is the only writer of its own
// counters (plain load+store, no locked instruction on the data path); the
// control thread reads them with relaxed loads and sums the workers.
#include <atomic>
#include <cstdint>
#include <vector>

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

// Every counter of one worker, in declaration order, then the two levels.
inline std::vector<net::CounterReading> readCounters(const WorkerStats& stats) {
  std::vector<net::CounterReading> out;
#define REDMIRROR_READ_COUNTER(name, help) out.push_back({#name, help, stats.name.load(std::memory_order_relaxed)});
  REDMIRROR_WORKER_COUNTERS(REDMIRROR_READ_COUNTER)
#undef REDMIRROR_READ_COUNTER
  out.push_back({"sessions_active", "client sessions open", stats.sessions_active.load(std::memory_order_relaxed), true});
  out.push_back({"chunk_bytes_live", "bytes held in read chunks", stats.chunk_bytes_live.load(std::memory_order_relaxed), true});
  return out;
}

}  // namespace redmirror::proxy
