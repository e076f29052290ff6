#include "redmirror/mirror/server_connection.h"

#include <algorithm>

#include "redmirror/resp/value.h"

namespace redmirror::mirror {

namespace {
constexpr uint64_t kBackoffStartMs = 100;
constexpr uint64_t kBackoffCapMs = 30000;
// The connection never pushes back on anyone: its owner budgets what it queues,
// so the stream's own watermarks never apply.
constexpr net::WriteLimits kNoWatermarks{SIZE_MAX / 2, SIZE_MAX / 4};
constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
}  // namespace

ServerConnection::ServerConnection(uv_loop_t* loop, net::ChunkPool& pool, net::FlushScheduler& scheduler,
                                   Owner& owner, uint64_t seed)
    : loop_(loop), pool_(pool), scheduler_(scheduler), owner_(owner), random_(seed | 1) {}

void ServerConnection::start() {
  if (state_ == State::kIdle || (state_ == State::kWaiting && uv_now(loop_) >= retryAtMs_)) connect();
}

void ServerConnection::connect() {
  Endpoint endpoint;
  if (!owner_.serverEndpoint(endpoint)) {
    state_ = State::kWaiting;
    retryAtMs_ = uv_now(loop_) + kBackoffCapMs;
    return;
  }
  net::TcpStream::Events& events = *this;
  stream_ = std::make_unique<net::TcpStream>(loop_, pool_, scheduler_, events, kNoWatermarks);
  framer_ = resp::ReplyFramer();
  replies_.clear();
  readOffset_ = lastReplyEnd_ = 0;
  expected_.clear();
  db_ = 0;
  protocol_ = 2;
  queuedBytes_ = writtenBytes_ = 0;
  connectStartedMs_ = uv_now(loop_);
  connectTimeoutMs_ = endpoint.connectTimeoutMs;
  state_ = State::kConnecting;
  const int rc = stream_->connect(reinterpret_cast<const sockaddr*>(&endpoint.address));
  if (rc != 0) fail(Failure::kConnect, uv_strerror(rc));
}

void ServerConnection::onConnected(net::TcpStream& stream, int status) {
  if (!owns(stream)) return;
  if (status != 0) {
    fail(Failure::kConnect, uv_strerror(status));
    return;
  }
  Endpoint endpoint;
  if (!owner_.serverEndpoint(endpoint)) {
    fail(Failure::kConnect, "no longer configured");
    return;
  }
  state_ = State::kHandshake;
  stream_->tune();
  stream_->startReading();
  if (!endpoint.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!endpoint.username.empty()) auth.push_back(endpoint.username);
    auth.push_back(endpoint.password);
    writeOwn(resp::encodeCommand(auth), Expect::kAuth);
  }
  writeOwn(kPing, Expect::kPing);
}

void ServerConnection::expect(Expect kind, uint32_t count) {
  if (!expected_.empty() && expected_.back().kind == kind && kind == Expect::kOwner) {
    expected_.back().count += count;
    return;
  }
  expected_.push_back(Expected{kind, count});
}

void ServerConnection::writeOwn(std::string_view bytes, Expect kind) {
  stream_->writeCopy(bytes);
  queuedBytes_ += bytes.size();
  owner_.onServerOwnBytes(bytes.size());
  expect(kind);
}

void ServerConnection::use(uint32_t db, int protocol) {
  if (!stream_) return;
  if (protocol != protocol_) {
    writeOwn(protocol == 3 ? "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n" : "*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n",
             Expect::kInternal);
    protocol_ = protocol;
  }
  if (db != db_) {
    writeOwn(resp::encodeCommand({"SELECT", std::to_string(db)}), Expect::kInternal);
    db_ = db;
  }
}

void ServerConnection::write(std::string_view bytes, uint32_t replies) {
  if (!stream_) return;
  stream_->writeCopy(bytes);
  queuedBytes_ += bytes.size();
  if (replies > 0) expect(Expect::kOwner, replies);
}

void ServerConnection::flush() {
  if (stream_) stream_->flush();
}

void ServerConnection::onWritten(net::TcpStream& stream, size_t bytes) {
  if (!owns(stream)) return;
  writtenBytes_ += bytes;
  owner_.onServerWritten(bytes);
}

void ServerConnection::onData(net::TcpStream& stream, net::Chunk* chunk, uint32_t offset, uint32_t length) {
  if (!owns(stream)) return;
  owner_.beforeServerReplies();
  replies_.append(readOffset_, chunk, offset, length);
  readOffset_ += length;
  if (!framer_.feed(std::span<const char>(chunk->data() + offset, length), *this)) {
    fail(Failure::kProtocol, "the server's reply stream is not RESP");
    return;
  }
  if (!owns(stream)) return;  // failed while handing a reply over
  owner_.afterServerReplies();
  replies_.dropBefore(lastReplyEnd_);
  if (retainLimit_ != 0 && replies_.retainedBytes() > retainLimit_) replies_.clear();
}

void ServerConnection::onReply(const resp::ReplyFrame& frame) {
  lastReplyEnd_ = frame.end;
  if (state_ != State::kUp && state_ != State::kHandshake) return;
  // This connection never subscribes nor tracks: a push, like a reply nobody
  // asked for, means the stream is not what it thinks it is.
  if (expected_.empty() || frame.isPush()) {
    fail(Failure::kProtocol, "the server sent a reply nobody asked for");
    return;
  }
  const Expect kind = expected_.front().kind;
  if (--expected_.front().count == 0) expected_.pop_front();
  switch (kind) {
    case Expect::kOwner:
      owner_.onServerReply(frame);
      return;
    case Expect::kAuth:
      if (frame.isError()) fail(Failure::kAuthRefused, "AUTH refused");
      return;
    case Expect::kPing:
      if (frame.isError()) {
        // NOAUTH (no credentials configured for a server that needs them),
        // LOADING...: nothing else would be answered either.
        fail(Failure::kConnect, "PING answered " + std::string(frame.top.text.view()));
        return;
      }
      state_ = State::kUp;
      backoffMs_ = 0;
      owner_.onServerUp();
      return;
    case Expect::kInternal:
      // What follows would run in the wrong database or protocol.
      if (frame.isError()) {
        fail(Failure::kProtocol, "own SELECT/HELLO refused: " + std::string(frame.top.text.view()));
      }
      return;
  }
}

void ServerConnection::onEnd(net::TcpStream& stream, int status) {
  if (!owns(stream)) return;
  fail(Failure::kClosed, status == UV_EOF ? "connection closed by the server" : uv_strerror(status));
}

void ServerConnection::fail(Failure failure, std::string_view why) {
  if (state_ == State::kClosed || !stream_) return;
  const bool wasUp = state_ == State::kUp;
  state_ = State::kWaiting;
  backoffMs_ = backoffMs_ == 0 ? kBackoffStartMs : std::min(backoffMs_ * 2, kBackoffCapMs);
  retryAtMs_ = uv_now(loop_) + nextDelayMs();
  owner_.onServerDown(failure, why, wasUp);
  closeStream();
}

uint64_t ServerConnection::nextDelayMs() {
  // Jitter (±25%) so that many connections to one server do not reconnect in step.
  random_ ^= random_ << 13;
  random_ ^= random_ >> 7;
  random_ ^= random_ << 17;
  const uint64_t jitter = backoffMs_ / 4;
  return backoffMs_ - jitter + (jitter == 0 ? 0 : random_ % (2 * jitter));
}

void ServerConnection::closeStream() {
  expected_.clear();
  queuedBytes_ = writtenBytes_ = 0;
  if (stream_) {
    stream_->close();
    closing_.push_back(std::move(stream_));
  }
}

void ServerConnection::sweep(uint64_t nowMs) {
  std::erase_if(closing_, [](const std::unique_ptr<net::TcpStream>& stream) { return stream->isClosed(); });
  switch (state_) {
    case State::kWaiting:
      if (nowMs >= retryAtMs_) connect();
      break;
    case State::kConnecting:
      if (nowMs - connectStartedMs_ >= connectTimeoutMs_) fail(Failure::kConnect, "connect timed out");
      break;
    case State::kHandshake:
      if (nowMs - connectStartedMs_ >= connectTimeoutMs_) fail(Failure::kTimeout, "no answer to PING");
      break;
    case State::kIdle:
    case State::kUp:
    case State::kClosed:
      break;
  }
}

void ServerConnection::close() {
  state_ = State::kClosed;
  closeStream();
}

}  // namespace redmirror::mirror
