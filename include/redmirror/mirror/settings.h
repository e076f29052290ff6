#pragma once
// Immutable mirroring settings, published by the control thread to every worker
// as a whole (swap a shared_ptr, wake the worker): a worker reads its snapshot
// on the data path without locks.
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "redmirror/diff/report.h"
#include "redmirror/mirror/command_table.h"
#include "redmirror/mirror/canary_hub.h"
#include "redmirror/mirror/guard_order.h"
#include "redmirror/mirror/latency_buckets.h"
#include "redmirror/mirror/sampler.h"
#include "redmirror/mirror/tainted_keys.h"
#include "redmirror/net/uv_util.h"

namespace redmirror::mirror {

// Counters of one canary on one worker, declared once.
#define REDMIRROR_CANARY_COUNTERS(X)                                                   \
  X(mirrored, "commands written to the canary")                                        \
  X(compared, "replies of both sides compared")                                        \
  X(matched, "comparisons that found the same reply")                                  \
  X(diverged, "comparisons that found different replies")                              \
  X(canary_errors, "error replies from the canary to mirrored commands")               \
  X(primary_errors, "error replies from the primary to mirrored commands")             \
  X(dropped_queue_full, "mirrored commands dropped: the canary's byte budget was spent") \
  X(dropped_disconnected, "mirrored commands dropped: no connection to the canary")    \
  X(dropped_timeout, "mirrored commands whose reply did not come in time")             \
  X(dropped_oversize, "commands too large to keep for mirroring, or with keys past the 4096th argument")                      \
  X(dropped_session_closed, "comparisons abandoned: the client left first")            \
  X(protocol_errors, "canary connections reset: a reply stream the link could not follow (not RESP, unsolicited, a push) or a refusal of its own SELECT/HELLO/MULTI")       \
  X(skipped_unsampled_keys, "reads not compared: only some of their keys are sampled")  \
  X(auth_failures, "canary connections whose AUTH was refused")                        \
  X(reconnects, "canary connections opened")                                           \
  X(skipped_policy, "commands never mirrored by policy")                               \
  X(effects_mirrored, "effects mirrored in place of the command (SPOP, blocking pops)") \
  X(transactions_mirrored, "MULTI/EXEC units mirrored after the primary committed")    \
  X(transactions_discarded, "transactions not mirrored: aborted or discarded on the primary") \
  X(warm_repairs, "keys copied from the primary to the canary after a cold miss (--warm-canary)") \
  X(warm_rate_limited, "cold misses not repaired: over the repair rate")                \
  X(scripts_killed, "scripts not mirrored: SCRIPT KILL or FUNCTION KILL stopped them on the primary") \
  X(scripts_refused, "scripts, functions and library loads not mirrored: the primary refused them before they ran") \
  X(link_writes, "gather writes to the canary's links (one per link per flush)")         \
  X(link_reads, "reads of canary replies from the links")                              \
  X(skipped_tainted, "reads not compared: a key (or database) whose mirrored history has a gap") \
  X(skipped_refused, "commands not mirrored or compared: the primary refused them before running them (NOPERM, OOM, READONLY, BUSY...)") \
  X(dropped_unconfirmed, "writes not mirrored: whether the primary ran them cannot be seen (CLIENT REPLY OFF/SKIP, a transaction begun before mirroring)") \
  X(keys_tainted, "writes whose keys were tainted: dropped, lost with a link, or unconfirmed") \
  X(skipped_too_large, "replies not compared: more elements than a comparison may build (131072)") \
  X(dropped_shed, "writes to slots shed while the canary could not keep up (their keys tainted)") \
  X(dropped_held, "commands not held behind an effect or in MULTI: the worker's bound for held commands was reached") \
  X(skipped_acl_user, "scripts and transaction members of a session authenticated as another user than default not mirrored: they failed on the primary, perhaps on that user's ACL, which the canary's link does not share (what they may have written is tainted)")

struct CanaryCounters {
#define REDMIRROR_DECLARE_CANARY_COUNTER(name, help) std::atomic<uint64_t> name{0};
  REDMIRROR_CANARY_COUNTERS(REDMIRROR_DECLARE_CANARY_COUNTER)
#undef REDMIRROR_DECLARE_CANARY_COUNTER
  std::atomic<int64_t> links_up{0};
  std::atomic<uint64_t> queued_bytes{0};
  // Cumulative (RESET does not clear them; the window's report does that for
  // REPORT): comparisons by outcome, indexed by diff::Outcome, and the reply
  // latencies of both sides, for metrics.
  std::array<std::atomic<uint64_t>, diff::kOutcomeCount> outcomes{};
  LatencyBuckets primaryLatency;
  LatencyBuckets canaryLatency;
};

// One block per worker: each worker writes only its own.
struct CanaryCounterSet {
  CanaryCounterSet(size_t workers, size_t writtenKeysBytes, size_t home = 0, size_t taintedKeysCapacity = 65536)
      : perWorker(workers), reports(workers), written(writtenKeysBytes), hub(workers), tainted(taintedKeysCapacity) {
    hub.setHome(workers == 0 ? 0 : home % workers);
  }
  std::vector<CanaryCounters> perWorker;
  std::vector<diff::CanaryReport> reports;  // the current comparison window, per worker
  diff::WrittenKeys written;                // keys mirrored in this window, all workers
  CanaryHub hub;                            // the canary's one stream, written by its home worker
  TaintedKeys tainted;                      // keys with a gap in their mirrored history; outlives RESET
  std::atomic<uint32_t> shedSlots{0};       // top-ranked slots of the share not mirrored (SlotShedder)
};

// The slots a canary mirrors now: its share less what is shed (rank below this).
inline uint32_t effectiveThreshold(uint32_t percentHundredths, const CanaryCounterSet& set) {
  const uint32_t threshold = SlotSampler::threshold(percentHundredths);
  const uint32_t shed = set.shedSlots.load(std::memory_order_relaxed);
  return shed >= threshold ? 0 : threshold - shed;
}
// The same as a share in hundredths of a percent (rounded down), for reports.
inline uint32_t effectiveHundredths(uint32_t percentHundredths, const CanaryCounterSet& set) {
  if (set.shedSlots.load(std::memory_order_relaxed) == 0) return percentHundredths;
  return static_cast<uint32_t>(uint64_t{effectiveThreshold(percentHundredths, set)} * 10000 / kSlotCount);
}

struct CanarySettings {
  uint64_t id = 0;  // stable across snapshots; a new id means a new canary
  std::string name;
  net::HostPort address;
  sockaddr_storage sockaddr{};
  uint32_t percentHundredths = 0;
  std::string username;
  std::string password;  // never logged, never reported
  size_t queueBudgetBytes = 16 * 1024 * 1024;  // bytes queued for this canary, all workers
  uint32_t replyTimeoutMs = 2000;
  uint32_t linksPerWorker = 1;  // accepted for compatibility: a canary has one link (CanaryHub)
  std::shared_ptr<CanaryCounterSet> counters;
};

struct MirrorSettings;

// Whoever takes mirroring snapshots (each worker): the control side publishes
// through this, without knowing what a worker is.
class SettingsSubscriber {
 public:
  virtual ~SettingsSubscriber() = default;
  // Thread-safe: the snapshot is applied on the subscriber's own loop.
  virtual void publish(std::shared_ptr<const MirrorSettings> settings) = 0;
};

struct MirrorSettings {
  std::vector<CanarySettings> canaries;
  bool paused = false;
  std::shared_ptr<const CommandTable> commands;
  std::shared_ptr<const SlotSampler> sampler;
  size_t workers = 1;  // the budget of a canary is shared by all its links on all workers
  // Largest command (bytes) kept for mirroring, and largest reply kept for comparison.
  size_t maxMirroredCommandBytes = 8 * 1024 * 1024;
  size_t maxComparedReplyBytes = 8 * 1024 * 1024;
  int64_t ttlToleranceMs = 2000;
  // Canary links: a batch is written this long after its first command, or
  // sooner once this many bytes are queued (0 us: every loop turn).
  uint32_t linkBatchDelayUs = 2000;
  size_t linkBatchBytes = 16 * 1024;
  std::shared_ptr<const diff::Redaction> redaction;
  // Guarded writes not yet sent, all workers (pops wait for the writes that fed them).
  std::shared_ptr<GuardOrder> guards;
  // Read repair (--warm-canary) through a connection of each worker to the primary.
  bool warmCanary = false;
  uint32_t warmRatePerSecond = 100;  // per worker
  sockaddr_storage primaryAddress{};
  std::string primaryUsername;
  std::string primaryPassword;  // never logged

  bool anyActive() const {
    if (paused) return false;
    for (const CanarySettings& canary : canaries) {
      if (canary.percentHundredths > 0) return true;
    }
    return false;
  }
};

}  // namespace redmirror::mirror
