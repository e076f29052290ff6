#pragma once
// One client connection and its own primary connection, 1:1, so that every
// Redis feature (SELECT, MULTI, blocking commands, pub/sub, MONITOR, HELLO 3,
// AUTH) behaves exactly as against Redis directly.
//
// Bytes read on one side are written to the other as read, by reference. The
// framers observe both streams to pair commands with replies; if they cannot
// follow a stream the session keeps forwarding and stops observing.
#include <cstdint>
#include <string>

#include "redmirror/mirror/worker_mirror.h"
#include "redmirror/net/stream_window.h"
#include "redmirror/net/tcp_stream.h"
#include "redmirror/proxy/exchange_tracker.h"
#include "redmirror/resp/reply_framer.h"
#include "redmirror/resp/request_framer.h"

namespace redmirror::proxy {

class Worker;

class Session final : private net::TcpStream::Events,
                      private ExchangeObserver,
                      private resp::RequestSink,
                      private resp::ReplySink {
 public:
  explicit Session(Worker& worker);
  ~Session() override = default;

  // Accepts the pending connection on `server` and starts connecting upstream.
  void start(uv_stream_t* server);
  // Graceful shutdown: read no more commands; close once every reply owed is sent.
  void beginDrain();
  // Closes both connections now.
  void closeNow();
  // Called by the worker's periodic sweep.
  void checkTimeouts(uint64_t nowMs);

  bool observing() const { return observing_; }
  const ExchangeTracker& tracker() const { return tracker_; }

 private:
  void onData(net::TcpStream& stream, net::Chunk* chunk, uint32_t offset, uint32_t length) override;
  void onEnd(net::TcpStream& stream, int status) override;
  void onDrained(net::TcpStream& stream) override;
  void onConnected(net::TcpStream& stream, int status) override;
  void onClosed(net::TcpStream& stream) override;
  void onCommand(const resp::CommandFrame& frame) override;
  void onReply(const resp::ReplyFrame& frame) override;
  void onExchange(const Exchange& exchange) override;
  void onMatchingEnded(std::string_view reason) override;

  void failUpstream(const std::string& reason);
  void stopObserving(std::string_view reason);
  void finishDrainIfDone();
  void abandonMirroring();

  Worker& worker_;
  net::TcpStream client_;    // the client side
  net::TcpStream upstream_;  // the link to the primary
  resp::RequestFramer requestFramer_;
  resp::ReplyFramer replyFramer_;
  ExchangeTracker tracker_;
  mirror::WorkerMirror& mirror_;
  mirror::SessionMirror mirrorState_;
  // Recent bytes of each stream, kept only while mirroring needs them.
  net::StreamWindow clientWindow_;
  net::StreamWindow upstreamWindow_;
  uint64_t clientOffset_ = 0;
  uint64_t upstreamOffset_ = 0;
  uint64_t lastCommandEnd_ = 0;
  uint64_t lastReplyEnd_ = 0;
  bool observing_;
  bool clientEnded_ = false;
  bool upstreamEnded_ = false;
  bool clientPaused_ = false;    // client reads stopped: the upstream queue is full
  bool upstreamPaused_ = false;  // upstream reads stopped: the client queue is full
  bool draining_ = false;
  uint64_t connectStartedMs_ = 0;
  uint64_t closeRequestedMs_ = 0;
};

}  // namespace redmirror::proxy
