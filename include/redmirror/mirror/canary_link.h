#pragma once
// One connection from a worker to a canary, shared by many sessions: the
// mirrored stream is only non-blocking, effect-level commands, so it is
// multiplexed like a replication stream. A session always uses the same link,
// so its commands stay in order. The link inserts SELECT / HELLO when the next
// command needs another database or protocol, authenticates with the canary's
// own credentials, matches replies in order, and never pushes back: when its
// byte budget is spent or it is down, commands are dropped and counted.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/mirror/link_batcher.h"
#include "redmirror/mirror/settings.h"
#include "redmirror/mirror/tainted_keys.h"
#include "redmirror/net/stream_window.h"
#include "redmirror/net/tcp_stream.h"
#include "redmirror/resp/reply_framer.h"

namespace redmirror::mirror {

class WorkerMirror;

// Why a link could not take a command.
enum class SendResult : uint8_t { kSent, kDisconnected, kQueueFull };

class CanaryLink final : private net::TcpStream::Events,
                         private net::FlushScheduler,
                         private resp::ReplySink,
                         public BatchedLink {
 public:
  CanaryLink(WorkerMirror& owner, uint64_t canaryId, uint32_t index);
  ~CanaryLink() override;
  CanaryLink(const CanaryLink&) = delete;
  CanaryLink& operator=(const CanaryLink&) = delete;

  // Queues the bytes [begin, end) of `window` (by reference) as one command.
  // `comparison` is 0 or the id of the comparison awaiting this reply.
  // `retry` is 0 or a script retry (EVALSHA that may get NOSCRIPT).
  // `taint`: what to taint if the link dies before the reply (a write).
  SendResult send(const net::StreamWindow& window, uint64_t begin, uint64_t end, uint32_t db,
                  int protocol, uint32_t comparison, uint32_t retry = 0, WriteTaint taint = {});
  // Queues a held command (a transaction's member, or one held behind an effect), by reference.
  SendResult sendHeld(const std::vector<net::Slice>& bytes, uint32_t db, int protocol, uint32_t comparison,
                      uint32_t retry = 0, WriteTaint taint = {});
  // Queues bytes the proxy built (effects, transactions), `replies` replies
  // expected; the first carries `comparison` (0: none). All or nothing.
  // `bracketed`: the bytes open with the link's own MULTI, whose refusal
  // resets the link (what follows would run outside a transaction).
  SendResult sendOwned(std::string_view bytes, uint32_t db, int protocol, uint32_t replies,
                       uint32_t comparison = 0, WriteTaint taint = {}, bool bracketed = false);

  bool up() const { return state_ == State::kUp; }
  // Whether a command of `bytes` would fit in the budget now (send() decides).
  bool hasRoomFor(uint64_t bytes) const { return !overBudget(bytes); }
  // Timeouts, reconnect back-off, freeing closed connections.
  void sweep(uint64_t nowMs);
  // Closes for good (canary removed, worker stopping).
  void shutdown();
  bool fullyClosed() const { return stream_ == nullptr && closing_.empty(); }

  // Start of the worker's turn end, before the primary path's writes make this
  // turn's commands visible to clients: the commands queued so far take the
  // turn's seal time, and the link publishes its oldest unwritten one (LinkOrder).
  // `reserve`: effects will be queued later in this turn end (after clients got
  // their replies): hold the other links back until releaseReservation().
  void seal(uint64_t sealUs, bool reserve);
  void releaseReservation();

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
    uint64_t sentAtUs = 0;  // when its batch was written; 0 until then
    WriteTaint taint{};     // what a write taints if its reply never comes
  };
  struct Charge {
    uint64_t bytes;   // bytes of the stream this entry covers
    uint64_t charge;  // what it counts against the budget (chunks it pins)
  };
  // A queued command not yet written (with the SELECT / HELLO / AUTH before it).
  struct Mark {
    uint64_t key;       // LinkOrder::key of the turn that sealed it; kUnsealed before
    uint64_t endBytes;  // queuedBytes_ once it was queued
    uint32_t replies;   // replies it expects
  };
  static constexpr uint64_t kUnsealed = 0;

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

  template <typename ForEach>
  SendResult enqueue(uint64_t bytes, ForEach&& forEach, uint32_t db, int protocol, Expect kind,
                     uint32_t comparison, uint32_t replies, uint32_t retry, WriteTaint taint,
                     std::string_view owned = {});
  // Closes the command queued since the last mark (for LinkOrder).
  void markQueued();
  void sealMarks(uint64_t sealUs);
  void publishOrder(uint64_t key);
  void clearMarks();
  LinkOrder* order() const;
  bool overBudget(uint64_t extra) const;
  void connect();
  void fail(const char* why, bool countTimeout);
  bool prepare(uint32_t db, int protocol, uint64_t extraBytes);
  void writeInternal(std::string_view bytes);
  void charge(uint64_t bytes, uint64_t pinned);
  const CanarySettings* settings() const;
  CanaryCounters& counters();

  WorkerMirror& owner_;
  uint64_t canaryId_;
  uint32_t index_;
  State state_ = State::kWaiting;
  std::unique_ptr<net::TcpStream> stream_;
  std::vector<std::unique_ptr<net::TcpStream>> closing_;
  resp::ReplyFramer framer_;
  net::StreamWindow replies_;
  uint64_t readOffset_ = 0;
  uint64_t lastReplyEnd_ = 0;
  uint64_t connectStartedMs_ = 0;
  std::deque<Pending> pending_;
  std::deque<Charge> charges_;
  uint64_t charged_ = 0;
  uint64_t budget_ = 0;
  net::Chunk* lastChunk_ = nullptr;  // budget: a new chunk referenced is charged whole
  uint32_t db_ = 0;
  int protocol_ = 2;
  size_t unstamped_ = 0;           // pending_ entries at the back not yet written
  std::deque<Mark> marks_;         // commands not yet in the kernel, oldest first
  size_t unwrittenFrom_ = 0;       // marks_ before it are handed to the stream's flush
  uint32_t unmarkedReplies_ = 0;   // replies expected since the last mark
  uint64_t queuedBytes_ = 0;       // stream bytes queued since connecting
  uint64_t writtenBytes_ = 0;      // of which handed to the stream's flush
  uint64_t kernelBytes_ = 0;       // of which the kernel took
  uint32_t slot_ = 0;              // this link's slot in the canary's LinkOrder
  uint64_t published_ = LinkOrder::kEmpty;  // what the slot holds
  bool reserved_ = false;
  bool batchScheduled_ = false;
  uint64_t retryAtMs_ = 0;
  uint64_t backoffMs_ = 0;
};

}  // namespace redmirror::mirror
