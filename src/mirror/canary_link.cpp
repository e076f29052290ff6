#include "redmirror/mirror/canary_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "redmirror/mirror/worker_mirror.h"
#include "redmirror/net/uv_util.h"
#include "redmirror/proxy/stats.h"
#include "redmirror/resp/value.h"

namespace redmirror::mirror {

namespace {
using proxy::bump;
constexpr uint64_t kBackoffStartMs = 100;
constexpr uint64_t kBackoffCapMs = 30000;
constexpr uint64_t kMinLinkBudget = 256 * 1024;
// What a command awaiting the canary's reply costs us (its queue entry), so that
// a canary that reads but never answers also spends the budget.
constexpr uint64_t kPendingCost = 64;
// The link never pushes back on sessions: its TcpStream's own watermarks are
// irrelevant, the byte budget decides.
constexpr net::WriteLimits kLinkLimits{SIZE_MAX / 2, SIZE_MAX / 4};
}  // namespace

CanaryLink::CanaryLink(WorkerMirror& owner, uint64_t canaryId, uint32_t index)
    : owner_(owner), canaryId_(canaryId), index_(index) {
  if (const CanarySettings* canary = settings()) {
    slot_ = static_cast<uint32_t>(owner_.workerIndex()) * std::max<uint32_t>(1, canary->linksPerWorker) + index_;
  }
  connect();
}

CanaryLink::~CanaryLink() {
  clearMarks();
  owner_.batcher().forget(*this);
}

const CanarySettings* CanaryLink::settings() const { return owner_.canary(canaryId_); }

LinkOrder* CanaryLink::order() const {
  const CanarySettings* canary = settings();
  return canary != nullptr && canary->counters ? &canary->counters->order : nullptr;
}

void CanaryLink::markQueued() {
  marks_.push_back(Mark{kUnsealed, queuedBytes_, unmarkedReplies_});
  unmarkedReplies_ = 0;
}

void CanaryLink::sealMarks(uint64_t sealUs) {
  const uint64_t key = LinkOrder::key(sealUs, slot_);
  for (auto mark = marks_.rbegin(); mark != marks_.rend() && mark->key == kUnsealed; ++mark) mark->key = key;
}

void CanaryLink::seal(uint64_t sealUs, bool reserve) {
  sealMarks(sealUs);
  if (marks_.empty() && reserve) {
    // Effects of this turn are queued after the clients get their replies:
    // hold the others back until this link has queued and written them.
    publishOrder(LinkOrder::key(sealUs, slot_));
    reserved_ = true;
  } else {
    publishOrder(marks_.empty() ? LinkOrder::kEmpty : marks_.front().key);
  }
}

void CanaryLink::publishOrder(uint64_t key) {
  reserved_ = false;
  if (key == published_) return;
  published_ = key;
  if (LinkOrder* order = this->order()) order->publish(slot_, key);
}

void CanaryLink::releaseReservation() {
  if (reserved_) publishOrder(marks_.empty() ? LinkOrder::kEmpty : marks_.front().key);
}

void CanaryLink::clearMarks() {
  // A link that goes away, or loses what it queued, must not hold the others back.
  marks_.clear();
  unwrittenFrom_ = 0;
  publishOrder(LinkOrder::kEmpty);
  unmarkedReplies_ = 0;
  queuedBytes_ = writtenBytes_ = kernelBytes_ = 0;
}

void CanaryLink::connect() {
  const CanarySettings* canary = settings();
  if (canary == nullptr || state_ == State::kShutdown) return;
  net::TcpStream::Events& events = *this;
  net::FlushScheduler& scheduler = *this;
  stream_ = std::make_unique<net::TcpStream>(owner_.loop(), owner_.pool(), scheduler, events, kLinkLimits);
  framer_ = resp::ReplyFramer();
  replies_.clear();
  readOffset_ = lastReplyEnd_ = 0;
  pending_.clear();
  unstamped_ = 0;
  clearMarks();
  charges_.clear();
  charged_ = 0;
  lastChunk_ = nullptr;
  db_ = 0;
  protocol_ = 2;
  const size_t links = std::max<size_t>(1, canary->linksPerWorker) * std::max<size_t>(1, owner_.workers());
  budget_ = std::max<uint64_t>(kMinLinkBudget, canary->queueBudgetBytes / links);
  connectStartedMs_ = uv_now(owner_.loop());
  state_ = State::kConnecting;
  const int rc = stream_->connect(reinterpret_cast<const sockaddr*>(&canary->sockaddr));
  if (rc != 0) fail(uv_strerror(rc), false);
}

void CanaryLink::onConnected(net::TcpStream& stream, int status) {
  if (&stream != stream_.get()) return;
  if (status != 0) {
    fail(uv_strerror(status), false);
    return;
  }
  const CanarySettings* canary = settings();
  if (canary == nullptr) return;
  state_ = State::kHandshake;
  stream_->tune();
  stream_->startReading();
  if (!canary->password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!canary->username.empty()) auth.push_back(canary->username);
    auth.push_back(canary->password);
    writeInternal(resp::encodeCommand(auth));
    expect(Pending{Expect::kAuth, 0});
    markQueued();
  }
  // Up (and the back-off reset) at the answer, not at the connect: a stopped
  // canary still accepts connections into its backlog, and mirroring into it
  // would cost as much as into a healthy one until the reply timeout.
  writeInternal("*1\r\n$4\r\nPING\r\n");
  expect(Pending{Expect::kHandshake, 0});
  markQueued();
}

void CanaryLink::onHandshakeDone() {
  state_ = State::kUp;
  backoffMs_ = 0;
  if (CanaryCounters* counters = owner_.counters(canaryId_)) {
    bump(counters->reconnects);
    counters->links_up.store(counters->links_up.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
  }
  owner_.onLinkConnected(canaryId_);
  if (const CanarySettings* canary = settings()) {
    spdlog::debug("canary {} link {} connected", canary->name, index_);
  }
}

void CanaryLink::fail(const char* why, bool timedOut) {
  if (state_ == State::kShutdown) return;
  CanaryCounters* counters = owner_.counters(canaryId_);
  if (state_ == State::kUp && counters != nullptr) {
    counters->links_up.store(counters->links_up.load(std::memory_order_relaxed) - 1,
                             std::memory_order_relaxed);
  }
  std::deque<Pending> lost;
  lost.swap(pending_);
  unstamped_ = 0;
  clearMarks();
  for (const Pending& pending : lost) {
    if (pending.retry != 0) owner_.dropRetry(pending.retry);
    if (pending.expect == Expect::kAuth || pending.expect == Expect::kHandshake ||
        pending.expect == Expect::kInternal) {
      continue;
    }
    if (counters != nullptr) bump(timedOut ? counters->dropped_timeout : counters->dropped_disconnected);
    if (pending.comparison != 0) owner_.onCanaryLost(pending.comparison);
    // The canary may or may not have run it: its keys are not to be judged.
    if (pending.taint.scope != WriteTaint::Scope::kNone) owner_.taint(canaryId_, pending.taint);
  }
  charges_.clear();
  charged_ = 0;
  if (stream_) {
    stream_->close();
    closing_.push_back(std::move(stream_));
  }
  state_ = State::kWaiting;
  backoffMs_ = backoffMs_ == 0 ? kBackoffStartMs : std::min(backoffMs_ * 2, kBackoffCapMs);
  // Jitter (±25%) so that links of many workers do not reconnect in step.
  const uint64_t jitter = backoffMs_ / 4;
  const uint64_t delay = backoffMs_ - jitter + (jitter == 0 ? 0 : owner_.randomNumber() % (2 * jitter));
  retryAtMs_ = uv_now(owner_.loop()) + delay;
  if (const CanarySettings* canary = settings()) {
    spdlog::warn("canary {} ({}) link {}: {}; retrying in {} ms", canary->name, canary->address.str(),
                 index_, why, delay);
  }
}

void CanaryLink::onEnd(net::TcpStream& stream, int status) {
  if (&stream != stream_.get()) return;
  fail(status == UV_EOF ? "connection closed by the canary" : uv_strerror(status), false);
}

void CanaryLink::onClosed(net::TcpStream& /*stream*/) {}

void CanaryLink::onData(net::TcpStream& stream, net::Chunk* chunk, uint32_t offset, uint32_t length) {
  if (&stream != stream_.get()) return;
  owner_.newEvent();
  if (CanaryCounters* counters = owner_.counters(canaryId_)) bump(counters->link_reads);
  replies_.append(readOffset_, chunk, offset, length);
  readOffset_ += length;
  if (!framer_.feed(std::span<const char>(chunk->data() + offset, length), *this)) {
    if (CanaryCounters* counters = owner_.counters(canaryId_)) bump(counters->protocol_errors);
    fail("the canary's reply stream is not RESP", false);
    return;
  }
  replies_.dropBefore(lastReplyEnd_);
  if (const auto* settings = owner_.settingsSnapshot();
      settings != nullptr && replies_.retainedBytes() > settings->maxComparedReplyBytes) {
    replies_.clear();  // a reply too large to compare; its comparison is lost
  }
}

void CanaryLink::onReply(const resp::ReplyFrame& frame) {
  lastReplyEnd_ = frame.end;
  if (state_ != State::kUp && state_ != State::kHandshake) return;
  // The links never subscribe nor track: a push, like a reply nobody asked
  // for, means the stream is not what the link thinks it is.
  if (pending_.empty() || frame.isPush()) {
    if (CanaryCounters* counters = owner_.counters(canaryId_)) bump(counters->protocol_errors);
    fail("the canary sent a reply nobody asked for", false);
    return;
  }
  const Pending pending = pending_.front();
  pending_.pop_front();
  if (unstamped_ > pending_.size()) unstamped_ = pending_.size();
  CanaryCounters* counters = owner_.counters(canaryId_);
  if (pending.expect == Expect::kAuth) {
    if (frame.isError()) {
      if (counters != nullptr) bump(counters->auth_failures);
      fail("AUTH refused by the canary", false);
    }
    return;
  }
  if (pending.expect == Expect::kHandshake) {
    if (frame.isError()) {
      // NOAUTH (no credentials configured for a canary that needs them),
      // LOADING...: nothing mirrored would be answered either.
      const std::string why = "the canary answered PING with " + std::string(frame.top.text.view());
      fail(why.c_str(), false);
      return;
    }
    onHandshakeDone();
    return;
  }
  if (pending.expect == Expect::kInternal && frame.isError()) {
    // Its own SELECT, HELLO or MULTI refused: what follows would run in the
    // wrong database or protocol, or outside its transaction.
    if (counters != nullptr) bump(counters->protocol_errors);
    const std::string why = "the canary refused the link's own SELECT/HELLO/MULTI: " + std::string(frame.top.text.view());
    fail(why.c_str(), false);
    return;
  }
  if (pending.retry != 0) {
    const bool noscript = frame.isError() && frame.top.text.view().starts_with("NOSCRIPT");
    if (owner_.onScriptReply(pending.retry, noscript, pending.comparison, *this)) return;
  }
  if (frame.isError() && counters != nullptr) bump(counters->canary_errors);
  if (pending.comparison != 0) {
    owner_.onCanaryReply(pending.comparison, replies_, frame.begin, frame.end, frame.isError(),
                         pending.sentAtUs);
  }
}

void CanaryLink::expect(Pending pending) {
  pending_.push_back(pending);
  ++unstamped_;
  ++unmarkedReplies_;
}

void CanaryLink::scheduleFlush(net::TcpStream& stream) {
  // Streams being closed need no flush: their unwritten bytes are dropped.
  if (&stream != stream_.get() || batchScheduled_) return;
  batchScheduled_ = true;
  owner_.batcher().schedule(*this);
}

bool CanaryLink::flushBatch(uint64_t nowUs) {
  batchScheduled_ = false;
  if (!stream_) return true;
  // Only what was sealed before every other link's oldest command that is not
  // in the kernel yet. Effects queued at the end of this turn take its seal.
  sealMarks(owner_.sealUs());
  const LinkOrder* order = this->order();
  const uint64_t limit = order != nullptr ? order->othersOldest(slot_) : LinkOrder::kEmpty;
  size_t replies = 0;
  uint64_t endBytes = writtenBytes_;
  while (unwrittenFrom_ < marks_.size() && marks_[unwrittenFrom_].key < limit) {
    replies += marks_[unwrittenFrom_].replies;
    endBytes = marks_[unwrittenFrom_].endBytes;
    ++unwrittenFrom_;
  }
  // The commands of this batch leave now: their latency and timeout start here.
  replies = std::min(replies, unstamped_);
  const size_t firstUnstamped = pending_.size() - unstamped_;
  for (size_t i = firstUnstamped; i < firstUnstamped + replies; ++i) pending_[i].sentAtUs = nowUs;
  unstamped_ -= replies;
  if (endBytes > writtenBytes_) {
    const uint64_t bytes = endBytes - writtenBytes_;
    writtenBytes_ = endBytes;
    if (CanaryCounters* counters = owner_.counters(canaryId_)) bump(counters->link_writes);
    stream_->flushPrefix(bytes);  // what the kernel takes now is reported to onWritten
  }
  if (unwrittenFrom_ == marks_.size()) return true;
  batchScheduled_ = true;  // the rest waits for the other links
  return false;
}

size_t CanaryLink::unflushedBytes() const { return stream_ ? stream_->queuedBytes() : 0; }

void CanaryLink::writeInternal(std::string_view bytes) {
  stream_->writeCopy(bytes);
  queuedBytes_ += bytes.size();
  charge(bytes.size(), bytes.size());
}

void CanaryLink::charge(uint64_t bytes, uint64_t pinned) {
  charges_.push_back(Charge{bytes, pinned});
  charged_ += pinned;
}

void CanaryLink::onWritten(net::TcpStream& stream, size_t bytes) {
  if (&stream != stream_.get()) return;
  // A command counts as written for LinkOrder once the kernel has it: bytes
  // still queued in libuv (a slow canary's full socket) keep the others waiting.
  kernelBytes_ += bytes;
  size_t done = 0;
  while (done < unwrittenFrom_ && marks_[done].endBytes <= kernelBytes_) ++done;
  if (done > 0) {
    marks_.erase(marks_.begin(), marks_.begin() + static_cast<std::ptrdiff_t>(done));
    unwrittenFrom_ -= done;
    publishOrder(marks_.empty() ? LinkOrder::kEmpty : marks_.front().key);
  }
  while (bytes > 0 && !charges_.empty()) {
    Charge& front = charges_.front();
    if (front.bytes <= bytes) {
      bytes -= front.bytes;
      charged_ -= front.charge;
      charges_.pop_front();
    } else {
      front.bytes -= bytes;
      bytes = 0;
    }
  }
}

bool CanaryLink::overBudget(uint64_t extra) const {
  return charged_ + pending_.size() * kPendingCost + extra > budget_;
}

template <typename ForEach>
SendResult CanaryLink::enqueue(uint64_t bytes, ForEach&& forEach, uint32_t db, int protocol,
                               Expect kind, uint32_t comparison, uint32_t replies, uint32_t retry,
                               WriteTaint taint, std::string_view owned) {
  if (state_ != State::kUp) return SendResult::kDisconnected;
  // Budget: the bytes, plus every chunk the command pins that the previous one
  // did not (a small command can keep a whole 16 KiB read chunk alive).
  uint64_t pinned = bytes;
  net::Chunk* last = lastChunk_;
  forEach([&](net::Chunk* chunk, uint32_t, uint32_t) {
    if (chunk != last) pinned += chunk->capacity;
    last = chunk;
  });
  if (overBudget(pinned)) return SendResult::kQueueFull;
  if (protocol != protocol_) {
    writeInternal(protocol == 3 ? "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n" : "*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n");
    expect(Pending{Expect::kInternal, 0});
    protocol_ = protocol;
  }
  if (db != db_) {
    const std::string number = std::to_string(db);
    writeInternal(resp::encodeCommand({"SELECT", number}));
    expect(Pending{Expect::kInternal, 0});
    db_ = db;
  }
  forEach([&](net::Chunk* chunk, uint32_t offset, uint32_t length) {
    stream_->write(chunk, offset, length);
    lastChunk_ = chunk;
  });
  queuedBytes_ += bytes;
  charge(bytes, pinned);
  // Bytes the proxy built are copied into the stream's own chunk: nothing else is pinned.
  if (!owned.empty()) writeInternal(owned);
  for (uint32_t i = 0; i < replies; ++i) {
    expect(Pending{i == 0 ? kind : Expect::kMirrored, i == 0 ? comparison : 0, i == 0 ? retry : 0, 0,
                   i + 1 == replies ? taint : WriteTaint{}});
  }
  markQueued();
  return SendResult::kSent;
}

SendResult CanaryLink::send(const net::StreamWindow& window, uint64_t begin, uint64_t end, uint32_t db,
                            int protocol, uint32_t comparison, uint32_t retry, WriteTaint taint) {
  return enqueue(
      end - begin, [&](auto&& visit) { window.forEach(begin, end, visit); }, db, protocol,
      comparison != 0 ? Expect::kCompared : Expect::kMirrored, comparison, 1, retry, taint);
}

SendResult CanaryLink::sendHeld(const std::vector<net::Slice>& bytes, uint32_t db, int protocol,
                                uint32_t comparison, uint32_t retry, WriteTaint taint) {
  uint64_t total = 0;
  for (const net::Slice& slice : bytes) total += slice.size();
  return enqueue(
      total,
      [&](auto&& visit) {
        for (const net::Slice& slice : bytes) visit(slice.chunk(), slice.offset(), slice.size());
      },
      db, protocol, comparison != 0 ? Expect::kCompared : Expect::kMirrored, comparison, 1, retry, taint);
}

SendResult CanaryLink::sendOwned(std::string_view bytes, uint32_t db, int protocol, uint32_t replies,
                                 uint32_t comparison, WriteTaint taint, bool bracketed) {
  if (state_ != State::kUp) return SendResult::kDisconnected;
  if (overBudget(bytes.size() + replies * kPendingCost)) return SendResult::kQueueFull;
  const Expect first = bracketed ? Expect::kInternal : comparison != 0 ? Expect::kCompared : Expect::kMirrored;
  return enqueue(0, [](auto&&) {}, db, protocol, first, comparison, replies, 0, taint, bytes);
}

void CanaryLink::sweep(uint64_t nowMs) {
  std::erase_if(closing_, [](const std::unique_ptr<net::TcpStream>& stream) { return stream->isClosed(); });
  const CanarySettings* canary = settings();
  if (canary == nullptr) return;
  switch (state_) {
    case State::kWaiting:
      if (nowMs >= retryAtMs_) connect();
      break;
    case State::kConnecting:
      if (nowMs - connectStartedMs_ >= canary->replyTimeoutMs) fail("connect timed out", false);
      break;
    case State::kHandshake:
      if (nowMs - connectStartedMs_ >= canary->replyTimeoutMs) fail("no answer to PING", true);
      break;
    case State::kUp:
      // A command still waiting for its batch has not been sent: no timeout yet.
      if (!pending_.empty() && pending_.front().sentAtUs != 0 &&
          nowMs * 1000 >= pending_.front().sentAtUs + uint64_t{canary->replyTimeoutMs} * 1000) {
        fail("reply timed out", true);
      }
      break;
    case State::kShutdown:
      break;
  }
}

void CanaryLink::shutdown() {
  if (state_ == State::kShutdown) return;
  if (state_ == State::kUp) {
    if (CanaryCounters* counters = owner_.counters(canaryId_)) {
      counters->links_up.store(counters->links_up.load(std::memory_order_relaxed) - 1,
                               std::memory_order_relaxed);
    }
  }
  for (const Pending& pending : pending_) {
    if (pending.comparison != 0) owner_.onCanaryLost(pending.comparison);
    if (pending.retry != 0) owner_.dropRetry(pending.retry);
  }
  pending_.clear();
  unstamped_ = 0;
  clearMarks();
  state_ = State::kShutdown;
  if (stream_) {
    stream_->close();
    closing_.push_back(std::move(stream_));
  }
}

}  // namespace redmirror::mirror
