#pragma once
// The connection of a canary's home worker to the canary (CanaryHub): it writes
// the mirrored stream of every worker, in the order the workers handed it over.
// The stream is only non-blocking, effect-level commands, so it is written like
// a replication stream. Its ServerConnection connects, authenticates with the
// canary's own credentials, inserts SELECT / HELLO and keeps the stream in
// step; the link matches the replies to its commands in order and hands each
// one to the worker whose comparison awaits it. It never pushes back: what the
// budget cannot hold, or what arrives while it is down, is dropped and counted.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/mirror/canary_hub.h"
#include "redmirror/mirror/link_batcher.h"
#include "redmirror/mirror/server_connection.h"
#include "redmirror/mirror/settings.h"

namespace redmirror::mirror {

class WorkerMirror;

class CanaryLink final : private ServerConnection::Owner, private net::FlushScheduler, public BatchedLink {
 public:
  CanaryLink(WorkerMirror& owner, uint64_t canaryId, std::shared_ptr<CanaryCounterSet> set);
  ~CanaryLink() override;
  CanaryLink(const CanaryLink&) = delete;
  CanaryLink& operator=(const CanaryLink&) = delete;

  // Writes a worker's hand-off batch after what it already has (dropped and
  // counted when the link is not up).
  void write(HandoffBatch& batch);

  bool up() const { return connection_.up(); }
  // Timeouts, reconnect back-off, freeing closed connections.
  void sweep(uint64_t nowMs);
  // Closes for good (canary removed, worker stopping).
  void shutdown();
  bool fullyClosed() const { return connection_.fullyClosed(); }
  // Hands the replies and losses of other workers' commands to them.
  void postMessages();

  // BatchedLink: the worker's LinkBatcher decides when the queued bytes go out.
  bool flushBatch(uint64_t nowUs) override;
  size_t unflushedBytes() const override;

 private:
  // One of the link's commands in flight (the connection's own SELECT, HELLO,
  // AUTH and PING are its business).
  struct Pending {
    uint32_t comparison;
    uint32_t retry = 0;
    uint32_t worker = 0;    // whose comparison / retry it is
    uint64_t sentAtUs = 0;  // when its batch was written; 0 until then
    WriteTaint taint{};     // what a write taints if its reply never comes
    bool bracket = false;   // the proxy's own MULTI of a transaction: must not be refused
  };

  // ServerConnection::Owner
  bool serverEndpoint(ServerConnection::Endpoint& endpoint) override;
  void onServerUp() override;
  void onServerReply(const resp::ReplyFrame& frame) override;
  void beforeServerReplies() override;
  void afterServerReplies() override;
  void onServerDown(ServerConnection::Failure failure, std::string_view why, bool wasUp) override;
  void onServerWritten(size_t bytes) override;
  void onServerOwnBytes(size_t bytes) override;
  // FlushScheduler of the connection's stream: hands it to the batcher.
  void scheduleFlush(net::TcpStream& stream) override;

  // A command of `worker` whose reply will not come: its comparison and retry are lost.
  void lose(const Pending& pending);
  // The reply (or loss) of a command of `pending.worker`.
  void answer(const Pending& pending, const resp::ReplyFrame* frame);
  // Everything in flight is lost: counted, its comparisons told, its keys tainted.
  void loseInFlight(bool timedOut);
  const CanarySettings* settings() const;
  CanaryCounters* counters() const;

  WorkerMirror& owner_;
  uint64_t canaryId_;
  std::shared_ptr<CanaryCounterSet> set_;  // outlives a removed canary's settings while closing
  CanaryHub& hub_;
  ServerConnection connection_;
  bool shutdown_ = false;
  std::deque<Pending> pending_;
  size_t unstamped_ = 0;  // pending_ entries at the back not yet written
  std::vector<std::vector<LinkMessage>> outgoing_;  // per worker, posted after each read
  bool batchScheduled_ = false;
};

}  // namespace redmirror::mirror
