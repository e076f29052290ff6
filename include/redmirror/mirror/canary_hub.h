#pragma once
// One writer per canary: the order of the mirrored stream across workers.
//
// Each worker keeps its sessions, their state and their comparisons, but the
// canary gets one stream, written by one worker (the canary's home), as Redis
// replicates through one stream. Workers hand their mirrored commands over
// (CanaryOutbox: copied, so that the budget counts the bytes really held and no
// chunk of a worker's pool crosses threads) once per loop turn, when the turn's
// end begins: before the primary path's writes make any of that turn's commands
// visible to a client (and after the turn's effects were queued). The hand-off
// takes the hub's lock, so the batches are in the order they were handed over:
// a command that causally follows another (a consumer popping what a producer
// pushed on another connection, on another worker) was read after the first one
// became visible, hence after its batch was handed over, and it is handed over
// in a later batch, whichever workers read them. The home writes the batches in
// that order on its link: the canary runs them in that order, even when it falls
// behind (one socket). No worker ever waits for another: a worker that is
// descheduled only delays its own batch, which cannot hold anything that must
// come before what the others handed over meanwhile.
//
// The home matches the canary's replies to the commands and hands each one back
// to the worker that owns its comparison (LinkMessage), with the worker's wake-up.
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/mirror/tainted_keys.h"
#include "redmirror/net/stream_window.h"

namespace redmirror::mirror {

// Why a command could not be handed to the canary's stream.
enum class SendResult : uint8_t { kSent, kDisconnected, kQueueFull };

// One command of a hand-off batch: its bytes end at `end` in the batch.
struct HandoffEntry {
  uint32_t end = 0;
  uint32_t db = 0;
  uint32_t comparison = 0;  // of the first reply: 0 or the worker's comparison id
  uint32_t retry = 0;       // of the first reply: 0 or the worker's script retry
  uint32_t replies = 1;     // replies it expects
  int protocol = 2;
  WriteTaint taint{};       // a write: what it taints if the canary may not have run it
  bool bracketed = false;   // opens with the proxy's own MULTI: a refusal resets the link
};

// What one worker queued for one canary in one loop turn, in order.
struct HandoffBatch {
  uint32_t worker = 0;
  std::string bytes;
  std::vector<HandoffEntry> entries;
  uint64_t charged = 0;  // what it counts against the canary's budget
};

// The canary's answer to a command of another worker (or its loss).
struct LinkMessage {
  uint32_t comparison = 0;
  uint32_t retry = 0;
  bool lost = false;      // never answered: the link failed or the command was not written
  bool isError = false;
  bool noscript = false;  // an error reply starting with NOSCRIPT (script retries)
  uint64_t sentUs = 0;    // when the command was written
  std::string reply;      // the reply's bytes, when a comparison awaits it
};

class CanaryHub {
 public:
  // What a command awaiting the canary's reply costs (its queue entry), so that
  // a canary that reads but never answers also spends the budget.
  static constexpr uint64_t kPendingCost = 64;

  explicit CanaryHub(size_t workers);
  CanaryHub(const CanaryHub&) = delete;
  CanaryHub& operator=(const CanaryHub&) = delete;

  // The worker that writes the canary's stream.
  size_t home() const { return home_; }
  void setHome(size_t worker) { home_ = worker; }
  size_t workers() const { return wakes_.size(); }

  // A worker's wake-up (its loop's async): new batches (home) or messages.
  // Detached before the handle is closed; nothing is sent to it afterwards.
  void attach(size_t worker, uv_async_t* wake);
  void detach(size_t worker);

  // Worker side: hands a turn's batch over (wakes the home when another worker).
  void handOver(HandoffBatch&& batch);
  // Home side: every batch handed over so far, in hand-off order (appended to `out`).
  void takeBatches(std::vector<HandoffBatch>& out);

  // Home side: messages for `worker` (wakes it).
  void post(size_t worker, std::vector<LinkMessage>& messages);
  // Worker side: its messages (appended to `out`).
  void takeMessages(size_t worker, std::vector<LinkMessage>& out);

  // The budget: bytes queued anywhere between the outboxes and the canary's
  // kernel buffer, plus kPendingCost per reply awaited.
  bool reserve(uint64_t bytes, uint64_t budget) {
    if (held_.load(std::memory_order_relaxed) + bytes > budget) return false;
    held_.fetch_add(bytes, std::memory_order_relaxed);
    return true;
  }
  void charge(uint64_t bytes) { held_.fetch_add(bytes, std::memory_order_relaxed); }
  void release(uint64_t bytes) { held_.fetch_sub(bytes, std::memory_order_relaxed); }
  uint64_t held() const { return held_.load(std::memory_order_relaxed); }

  // The home's link takes commands (it answered its handshake).
  bool up() const { return up_.load(std::memory_order_acquire); }
  void setUp(bool up) { up_.store(up, std::memory_order_release); }
  // Bumped whenever the home's link (re)connects: the canary may have lost its scripts.
  uint64_t connections() const { return connections_.load(std::memory_order_acquire); }
  void connected() { connections_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  void wake(size_t worker);  // under mutex_

  std::mutex mutex_;
  std::vector<uv_async_t*> wakes_;
  std::vector<HandoffBatch> batches_;
  std::vector<std::vector<LinkMessage>> messages_;
  size_t home_ = 0;
  std::atomic<uint64_t> held_{0};
  std::atomic<bool> up_{false};
  std::atomic<uint64_t> connections_{0};
};

// A worker's side of one canary's stream: what its sessions mirror in this
// loop turn, handed over to the home at the turn's end (CanaryHub).
class CanaryOutbox {
 public:
  CanaryOutbox(CanaryHub& hub, uint32_t worker, uint64_t budget) : hub_(hub), worker_(worker), budget_(budget) {}
  ~CanaryOutbox();
  CanaryOutbox(const CanaryOutbox&) = delete;
  CanaryOutbox& operator=(const CanaryOutbox&) = delete;

  // Queues the bytes [begin, end) of `window` as one command (copied).
  // `comparison` is 0 or the id of the comparison awaiting this reply.
  // `retry` is 0 or a script retry (EVALSHA that may get NOSCRIPT).
  // `taint`: what to taint if the link dies before the reply (a write).
  SendResult send(const net::StreamWindow& window, uint64_t begin, uint64_t end, uint32_t db, int protocol,
                  uint32_t comparison, uint32_t retry = 0, WriteTaint taint = {});
  // Queues a held command (a transaction's member, or one held behind an effect).
  SendResult sendHeld(const std::vector<net::Slice>& bytes, uint32_t db, int protocol, uint32_t comparison,
                      uint32_t retry = 0, WriteTaint taint = {});
  // Queues bytes the proxy built (effects, transactions), `replies` replies
  // expected; the first carries `comparison` (0: none). All or nothing.
  // `bracketed`: the bytes open with the proxy's own MULTI, whose refusal
  // resets the link (what follows would run outside a transaction).
  SendResult sendOwned(std::string_view bytes, uint32_t db, int protocol, uint32_t replies,
                       uint32_t comparison = 0, WriteTaint taint = {}, bool bracketed = false);

  bool up() const { return hub_.up(); }
  // Whether a command of `bytes` would fit in the budget now (send() decides).
  bool hasRoomFor(uint64_t bytes) const { return hub_.held() + bytes + CanaryHub::kPendingCost <= budget_; }
  // End of the turn's queueing: hands what was queued over (nothing: no-op).
  void handOver();
  bool empty() const { return batch_.entries.empty(); }

 private:
  template <typename Copy>
  SendResult queue(uint64_t bytes, uint32_t db, int protocol, uint32_t replies, uint32_t comparison,
                   uint32_t retry, WriteTaint taint, bool bracketed, Copy&& copy);

  CanaryHub& hub_;
  uint32_t worker_;
  uint64_t budget_;
  HandoffBatch batch_;
};

}  // namespace redmirror::mirror
