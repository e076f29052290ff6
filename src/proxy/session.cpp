#include "redmirror/proxy/session.h"

#include <spdlog/spdlog.h>

#include "redmirror/net/uv_util.h"
#include "redmirror/proxy/worker.h"

namespace redmirror::proxy {

namespace {
// A close that waits for a peer that never reads is forced after this long.
constexpr uint64_t kCloseFlushTimeoutMs = 10000;
}  // namespace

Session::Session(Worker& worker)
    : worker_(worker),
      client_(worker.loop(), worker.pool(), worker, *this, worker.writeLimits()),
      upstream_(worker.loop(), worker.pool(), worker, *this, worker.writeLimits()),
      tracker_(this),
      mirror_(worker.mirror()),
      observing_(worker.config().observe) {
  mirrorState_.serial = mirror_.nextSerial();
}

void Session::start(uv_stream_t* server) {
  if (client_.accept(server) != 0) {
    closeNow();
    return;
  }
  bump(worker_.stats().connections_accepted);
  client_.tune();
  connectStartedMs_ = uv_now(worker_.loop());
  const int rc = upstream_.connect(reinterpret_cast<const sockaddr*>(&worker_.primaryAddress()));
  if (rc != 0) {
    failUpstream(net::uvError(rc));
    return;
  }
  // Commands sent before the primary connection opens wait in its queue.
  client_.startReading();
}

void Session::onData(net::TcpStream& stream, net::Chunk* chunk, uint32_t offset, uint32_t length) {
  const std::span<const char> bytes(chunk->data() + offset, length);
  mirror_.newEvent();
  // Forward first: observing and mirroring come after the primary's bytes are queued.
  if (&stream == &client_) {
    bump(worker_.stats().client_bytes, length);
    upstream_.write(chunk, offset, length);
    if (upstream_.isFull() && !clientPaused_) {
      client_.stopReading();
      clientPaused_ = true;
      bump(worker_.stats().backpressure_pauses);
    }
    if (observing_) {
      const bool keep = mirror_.active();
      if (keep) clientWindow_.append(clientOffset_, chunk, offset, length);
      clientOffset_ += length;
      if (!requestFramer_.feed(bytes, *this)) stopObserving(requestFramer_.error());
      if (keep) {
        clientWindow_.dropBefore(lastCommandEnd_);
        // A command larger than any canary may take is not kept whole.
        if (clientWindow_.retainedBytes() > worker_.maxMirroredCommandBytes()) clientWindow_.clear();
      } else if (!clientWindow_.empty()) {
        clientWindow_.clear();
      }
    }
  } else {
    bump(worker_.stats().primary_bytes, length);
    client_.write(chunk, offset, length);
    if (client_.isFull() && !upstreamPaused_) {
      upstream_.stopReading();
      upstreamPaused_ = true;
      bump(worker_.stats().backpressure_pauses);
    }
    if (observing_) {
      const bool keep = mirrorState_.outstanding > 0 || !mirrorState_.effects.empty();
      if (keep) upstreamWindow_.append(upstreamOffset_, chunk, offset, length);
      upstreamOffset_ += length;
      if (!replyFramer_.feed(bytes, *this)) stopObserving(replyFramer_.error());
      upstreamWindow_.dropBefore(lastReplyEnd_);
      if (upstreamWindow_.retainedBytes() > worker_.maxMirroredCommandBytes()) upstreamWindow_.clear();
    }
    if (draining_) finishDrainIfDone();
  }
}

void Session::onCommand(const resp::CommandFrame& frame) {
  PendingCommand* pending = tracker_.track(frame);
  bump(worker_.stats().commands_observed);
  // Every command, mirrored or not: the session's state is followed from its
  // first byte. Subscribed sessions are not mirrored (their commands answer
  // differently there, RESP2 PING, and the canary links never subscribe).
  mirror_.onCommand(mirrorState_, frame, pending != nullptr ? &pending->mirror : nullptr, clientWindow_,
                    !tracker_.inPubSub());
  lastCommandEnd_ = frame.end;
}

void Session::onReply(const resp::ReplyFrame& frame) {
  tracker_.onReply(frame);
  lastReplyEnd_ = frame.end;
}

void Session::onExchange(const Exchange& exchange) {
  bump(worker_.stats().replies_matched);
  if (exchange.command.mirror.wanted()) {
    mirror_.onReply(mirrorState_, exchange.command.mirror, exchange.reply, upstreamWindow_);
  }
}

void Session::abandonMirroring() {
  const Ring<PendingCommand>& pending = tracker_.pendingCommands();
  for (size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].mirror.held()) mirror_.abandon(mirrorState_, pending[i].mirror);
  }
  mirror_.sessionClosed(mirrorState_);
  clientWindow_.clear();
  upstreamWindow_.clear();
}

void Session::onMatchingEnded(std::string_view reason) {
  abandonMirroring();
  observing_ = false;
  bump(worker_.stats().sessions_unobservable);
  spdlog::debug("session stops observing: {}", reason);
}

void Session::stopObserving(std::string_view reason) {
  observing_ = false;
  tracker_.end(reason);
}

void Session::onEnd(net::TcpStream& stream, int status) {
  if (&stream == &client_) {
    clientEnded_ = true;
    if (status == UV_EOF && upstream_.isOpen() && !upstreamEnded_) {
      // The client half-closed: deliver what it sent, then let the primary
      // answer and close, as it would for a direct connection.
      upstream_.shutdownWhenFlushed();
    } else {
      closeNow();
    }
  } else {
    upstreamEnded_ = true;
    client_.closeWhenFlushed();
    closeRequestedMs_ = uv_now(worker_.loop());
    upstream_.close();
  }
}

void Session::onDrained(net::TcpStream& stream) {
  if (&stream == &upstream_ && clientPaused_) {
    clientPaused_ = false;
    if (!clientEnded_ && !draining_) client_.startReading();
  } else if (&stream == &client_ && upstreamPaused_) {
    upstreamPaused_ = false;
    if (!upstreamEnded_) upstream_.startReading();
  }
}

void Session::onConnected(net::TcpStream& /*stream*/, int status) {
  if (status != 0) {
    failUpstream(net::uvError(status));
    return;
  }
  upstream_.tune();
  if (!upstreamPaused_) upstream_.startReading();
}

void Session::failUpstream(const std::string& reason) {
  bump(worker_.stats().primary_connect_failures);
  spdlog::warn("primary {} unreachable: {}", worker_.config().primary.str(), reason);
  upstreamEnded_ = true;
  upstream_.close();
  if (client_.isOpen()) {
    client_.writeCopy("-ERR redmirror: primary " + worker_.config().primary.str() +
                      " unreachable: " + reason + "\r\n");
    client_.closeWhenFlushed();
    closeRequestedMs_ = uv_now(worker_.loop());
  }
}

void Session::beginDrain() {
  draining_ = true;
  client_.stopReading();
  finishDrainIfDone();
}

void Session::finishDrainIfDone() {
  // Without observation the replies owed are unknown: keep forwarding them
  // until the worker's shutdown deadline closes the session.
  if (!upstreamEnded_ && (!observing_ || tracker_.pending() > 0)) return;
  upstream_.close();
  client_.closeWhenFlushed();
  closeRequestedMs_ = uv_now(worker_.loop());
}

void Session::closeNow() {
  client_.close();
  upstream_.close();
}

void Session::checkTimeouts(uint64_t nowMs) {
  if (upstream_.isConnecting() && nowMs - connectStartedMs_ >= worker_.config().connectTimeoutMs) {
    bump(worker_.stats().primary_connect_timeouts);
    failUpstream("connection timed out");
  }
  if (client_.closeRequested() && client_.isOpen() && nowMs - closeRequestedMs_ >= kCloseFlushTimeoutMs) {
    closeNow();
  }
}

void Session::onClosed(net::TcpStream& /*stream*/) {
  if (client_.isClosed() && upstream_.isClosed()) {
    abandonMirroring();
    worker_.retire(this);
  }
}

}  // namespace redmirror::proxy
