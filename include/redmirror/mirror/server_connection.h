#pragma once
// One connection the proxy opens to a Redis server for itself: a canary's link,
// the warm-canary repair connection to the primary, later a TLS upstream or a
// noise baseline. (Sessions' own primary connections are the zero-copy data
// path and are not this.) It does, once for all of them:
//  - connect, AUTH with the server's own credentials, and call itself up only
//    when the server has answered a PING (a stopped server's kernel still
//    accepts connections into its backlog);
//  - put SELECT / HELLO before a command that needs another database or
//    protocol, and expect their replies itself;
//  - frame the replies in order and hand the owner the ones to its commands;
//  - close at anything it did not expect (its own AUTH/SELECT/HELLO refused, a
//    push, a reply nobody asked for, a stream that is not RESP, a connect or
//    PING that timed out), tell the owner why, and reconnect with jittered
//    exponential back-off while the owner still wants it.
// The owner keeps its own record of what it sent; on onServerDown none of it
// will be answered.
#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/net/stream_window.h"
#include "redmirror/net/tcp_stream.h"
#include "redmirror/resp/reply_framer.h"

namespace redmirror::mirror {

class ServerConnection final : private net::TcpStream::Events, private resp::ReplySink {
 public:
  enum class Failure : uint8_t {
    kConnect,      // refused, unreachable, or connect timed out
    kClosed,       // the server closed or reset the connection
    kTimeout,      // no answer in time (PING, or a reply the owner waited for)
    kProtocol,     // not RESP, a push, a reply nobody asked for, own SELECT/HELLO refused
    kAuthRefused,  // the server refused the configured credentials
    kOwner,        // the owner gave up on it (its own reason)
  };
  struct Endpoint {
    sockaddr_storage address{};
    std::string username;  // empty: AUTH <password> (the default user)
    std::string password;  // empty: no AUTH
    uint64_t connectTimeoutMs = 1000;
  };
  class Owner {
   public:
    virtual ~Owner() = default;
    // Where to connect now; false when there is nothing to connect to any more.
    virtual bool serverEndpoint(Endpoint& endpoint) = 0;
    virtual void onServerUp() = 0;
    // The reply to the owner's oldest unanswered command; its bytes are in replies().
    virtual void onServerReply(const resp::ReplyFrame& frame) = 0;
    // Bytes arrived; their replies follow (a new event: clocks are read afresh).
    virtual void beforeServerReplies() {}
    // Every reply of one read has been handed over.
    virtual void afterServerReplies() {}
    // Closed: no command of the owner's still in flight will be answered. Called
    // while unwrittenBytes() still tells what the stream will never write.
    // `wasUp`: it had been up (its PING answered), not still connecting.
    virtual void onServerDown(Failure failure, std::string_view why, bool wasUp) = 0;
    // The kernel took `bytes` more of the stream (budget accounting).
    virtual void onServerWritten(size_t /*bytes*/) {}
    // The connection queued `bytes` of its own (AUTH, PING, SELECT, HELLO).
    virtual void onServerOwnBytes(size_t /*bytes*/) {}
  };

  // `scheduler` decides when queued bytes are flushed (the worker's turn end,
  // or a link batcher). `seed` varies the reconnect jitter between connections.
  ServerConnection(uv_loop_t* loop, net::ChunkPool& pool, net::FlushScheduler& scheduler, Owner& owner,
                   uint64_t seed);
  ~ServerConnection() override = default;
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Connects now unless connected, connecting, closed for good, or backing off
  // (then the back-off decides); from then on it reconnects after failures.
  void start();
  bool up() const { return state_ == State::kUp; }
  bool active() const { return state_ == State::kConnecting || state_ == State::kHandshake || up(); }

  // Before a command of the owner's: SELECT / HELLO if it needs another db or protocol.
  void use(uint32_t db, int protocol = 2);
  // Queues one or more of the owner's commands, `replies` replies in all.
  void write(std::string_view bytes, uint32_t replies);
  void flush();
  size_t queuedBytes() const { return stream_ ? stream_->queuedBytes() : 0; }
  size_t unsentBytes() const { return stream_ ? stream_->unsentBytes() : 0; }
  // Bytes queued on this connection that the kernel has not taken (all lost if it closes).
  uint64_t unwrittenBytes() const { return queuedBytes_ - writtenBytes_; }
  // Whether `stream` is the current connection's (not one being closed).
  bool owns(const net::TcpStream& stream) const { return &stream == stream_.get(); }

  // The bytes of replies not yet consumed; a frame's range is valid during onServerReply.
  const net::StreamWindow& replies() const { return replies_; }
  // Above this many retained reply bytes (one reply too large to keep) they are
  // dropped; copying the frame then fails and the owner counts it. 0: no bound.
  void setRetainLimit(size_t bytes) { retainLimit_ = bytes; }

  // Closes and reconnects later (a reply timed out, a bracket was refused...).
  void fail(Failure failure, std::string_view why);
  // Timeouts of connect and PING, reconnects that are due, freeing closed streams.
  void sweep(uint64_t nowMs);
  // Closes for good; the owner is not called back.
  void close();
  bool fullyClosed() const { return stream_ == nullptr && closing_.empty(); }

 private:
  enum class State : uint8_t { kIdle, kWaiting, kConnecting, kHandshake, kUp, kClosed };
  enum class Expect : uint8_t { kAuth, kPing, kInternal, kOwner };
  // Runs of expected replies: the owner's pipelined commands cost one entry per write.
  struct Expected {
    Expect kind;
    uint32_t count;
  };

  void onData(net::TcpStream& stream, net::Chunk* chunk, uint32_t offset, uint32_t length) override;
  void onEnd(net::TcpStream& stream, int status) override;
  void onDrained(net::TcpStream& /*stream*/) override {}
  void onConnected(net::TcpStream& stream, int status) override;
  void onClosed(net::TcpStream& /*stream*/) override {}
  void onWritten(net::TcpStream& stream, size_t bytes) override;
  void onReply(const resp::ReplyFrame& frame) override;

  void connect();
  void expect(Expect kind, uint32_t count = 1);
  void writeOwn(std::string_view bytes, Expect kind);
  // Closes the stream; `why` empty: closed for good, nobody told.
  void closeStream();
  uint64_t nextDelayMs();

  uv_loop_t* loop_;
  net::ChunkPool& pool_;
  net::FlushScheduler& scheduler_;
  Owner& owner_;
  State state_ = State::kIdle;
  std::unique_ptr<net::TcpStream> stream_;
  std::vector<std::unique_ptr<net::TcpStream>> closing_;
  resp::ReplyFramer framer_;
  net::StreamWindow replies_;
  uint64_t readOffset_ = 0;
  uint64_t lastReplyEnd_ = 0;
  size_t retainLimit_ = 0;
  std::deque<Expected> expected_;
  uint32_t db_ = 0;
  int protocol_ = 2;
  uint64_t queuedBytes_ = 0;
  uint64_t writtenBytes_ = 0;
  uint64_t connectStartedMs_ = 0;
  uint64_t connectTimeoutMs_ = 1000;
  uint64_t retryAtMs_ = 0;
  uint64_t backoffMs_ = 0;
  uint64_t random_;
};

}  // namespace redmirror::mirror
