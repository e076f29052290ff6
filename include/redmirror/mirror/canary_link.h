#pragma once
// The connection of a canary's home worker to the canary (CanaryHub): it writes
// the mirrored stream of every worker, in the order the workers handed it over.
// The stream is only non-blocking, effect-level commands, so it is written like
// a replication stream. The link inserts SELECT / HELLO when the next command
// needs another database or protocol, authenticates with the canary's own
// credentials, matches replies in order and hands each one to the worker whose
// comparison awaits it. It never pushes back: what the budget cannot hold, or
// what arrives while it is down, is dropped and counted.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/mirror/canary_hub.h"
#include "redmirror/mirror/link_batcher.h"
#include "redmirror/mirror/settings.h"
#include "redmirror/net/stream_window.h"
#include "redmirror/net/tcp_stream.h"
#include "redmirror/resp/reply_framer.h"

namespace redmirror::mirror {

class WorkerMirror;

class CanaryLink final : private net::TcpStream::Events,
                         private net::FlushScheduler,
                         private resp::ReplySink,
                         public BatchedLink {
 public:
  CanaryLink(WorkerMirror& owner, uint64_t canaryId, std::shared_ptr<CanaryCounterSet> set);
  ~CanaryLink() override;
  CanaryLink(const CanaryLink&) = delete;
  CanaryLink& operator=(const CanaryLink&) = delete;

  // Writes a worker's hand-off batch after what it already has (dropped and
  // counted when the link is not up).
  void write(HandoffBatch& batch);

  bool up() const { return state_ == State::kUp; }
  // Timeouts, reconnect back-off, freeing closed connections.
  void sweep(uint64_t nowMs);
  // Closes for good (canary removed, worker stopping).
  void shutdown();
  bool fullyClosed() const { return stream_ == nullptr && closing_.empty(); }
  // Hands the replies and losses of other workers' commands to them.
  void postMessages();

  // BatchedLink: the worker's LinkBatcher decides when the queued bytes go out.
  bool flushBatch(uint64_t nowUs) override;
  size_t unflushedBytes() const override;

 private:
  // kHandshake: connected, AUTH (if any) and PING sent, no answer yet. A
  // stopped canary's kernel still accepts connections: the link counts as up,
  // and takes mirrored commands, only once the canary has answered.
  enum class State : uint8_t { kWaiting, kConnecting, kHandshake, kUp, kShutdown };
  enum class Expect : uint8_t { kAuth, kHandshake, kInternal, kMirrored, kCompared };
  struct Pending {
    Expect expect;
    uint32_t comparison;
    uint32_t retry = 0;
    uint32_t worker = 0;    // whose comparison / retry it is
    uint64_t sentAtUs = 0;  // when its batch was written; 0 until then
    WriteTaint taint{};     // what a write taints if its reply never comes
    bool bracket = false;   // the proxy's own MULTI of a transaction: must not be refused
  };

  void onData(net::TcpStream& stream, net::Chunk* chunk, uint32_t offset, uint32_t length) override;
  void onEnd(net::TcpStream& stream, int status) override;
  void onDrained(net::TcpStream& /*stream*/) override {}
  void onConnected(net::TcpStream& stream, int status) override;
  void onClosed(net::TcpStream& stream) override;
  void onWritten(net::TcpStream& stream, size_t bytes) override;
  void onReply(const resp::ReplyFrame& frame) override;
  void onHandshakeDone();
  // FlushScheduler of the link's own stream: hands it to the batcher.
  void scheduleFlush(net::TcpStream& stream) override;
  void expect(Pending pending);

  // A command of `worker` whose reply will not come: its comparison and retry are lost.
  void lose(const Pending& pending);
  // The reply (or loss) of a command of `pending.worker`.
  void answer(const Pending& pending, const resp::ReplyFrame* frame);
  void connect();
  void fail(const char* why, bool countTimeout);
  void writeInternal(std::string_view bytes);
  // Forgets what the stream still had to write (its budget share).
  void dropUnwritten();
  const CanarySettings* settings() const;

  WorkerMirror& owner_;
  uint64_t canaryId_;
  std::shared_ptr<CanaryCounterSet> set_;  // outlives a removed canary's settings while closing
  CanaryHub& hub_;
  State state_ = State::kWaiting;
  std::unique_ptr<net::TcpStream> stream_;
  std::vector<std::unique_ptr<net::TcpStream>> closing_;
  resp::ReplyFramer framer_;
  net::StreamWindow replies_;
  uint64_t readOffset_ = 0;
  uint64_t lastReplyEnd_ = 0;
  uint64_t connectStartedMs_ = 0;
  std::deque<Pending> pending_;
  uint32_t db_ = 0;
  int protocol_ = 2;
  size_t unstamped_ = 0;           // pending_ entries at the back not yet written
  uint64_t queuedBytes_ = 0;       // stream bytes queued since connecting (all charged to the hub)
  uint64_t kernelBytes_ = 0;       // of which the kernel took
  std::vector<std::vector<LinkMessage>> outgoing_;  // per worker, posted after each read
  bool batchScheduled_ = false;
  uint64_t retryAtMs_ = 0;
  uint64_t backoffMs_ = 0;
};

}  // namespace redmirror::mirror
