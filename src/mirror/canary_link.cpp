#include "redmirror/mirror/canary_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "redmirror/mirror/worker_mirror.h"
#include "redmirror/net/uv_util.h"
#include "redmirror/net/counter.h"
#include "redmirror/resp/value.h"

namespace redmirror::mirror {

namespace {
using net::bump;
constexpr uint64_t kBackoffStartMs = 100;
constexpr uint64_t kBackoffCapMs = 30000;
constexpr uint64_t kPendingCost = CanaryHub::kPendingCost;
// The link never pushes back on sessions: its TcpStream's own watermarks are
// irrelevant, the byte budget decides.
constexpr net::WriteLimits kLinkLimits{SIZE_MAX / 2, SIZE_MAX / 4};
}  // namespace

CanaryLink::CanaryLink(WorkerMirror& owner, uint64_t canaryId, std::shared_ptr<CanaryCounterSet> set)
    : owner_(owner),
      canaryId_(canaryId),
      set_(std::move(set)),
      hub_(set_->hub),
      outgoing_(std::max<size_t>(1, hub_.workers())) {
  connect();
}

CanaryLink::~CanaryLink() {
  dropUnwritten();
  owner_.batcher().forget(*this);
}

const CanarySettings* CanaryLink::settings() const { return owner_.canary(canaryId_); }

void CanaryLink::dropUnwritten() {
  // Bytes the stream will never write (closed, or failed) no longer count.
  hub_.release(queuedBytes_ - kernelBytes_);
  queuedBytes_ = kernelBytes_ = 0;
}

void CanaryLink::answer(const Pending& pending, const resp::ReplyFrame* frame) {
  const bool local = pending.worker == owner_.workerIndex();
  if (frame == nullptr) {
    if (local) {
      if (pending.retry != 0) owner_.dropRetry(pending.retry);
      if (pending.comparison != 0) owner_.onCanaryLost(pending.comparison);
    } else if (pending.comparison != 0 || pending.retry != 0) {
      LinkMessage message;
      message.comparison = pending.comparison;
      message.retry = pending.retry;
      message.lost = true;
      outgoing_[pending.worker].push_back(std::move(message));
    }
    return;
  }
  const bool noscript = frame->isError() && frame->top.text.view().starts_with("NOSCRIPT");
  if (local) {
    if (pending.retry != 0 && owner_.onScriptReply(pending.retry, noscript, pending.comparison)) return;
    if (pending.comparison != 0) {
      owner_.onCanaryReply(pending.comparison, replies_, frame->begin, frame->end, frame->isError(),
                           pending.sentAtUs);
    }
    return;
  }
  if (pending.comparison == 0 && pending.retry == 0) return;
  LinkMessage message;
  message.comparison = pending.comparison;
  message.retry = pending.retry;
  message.isError = frame->isError();
  message.noscript = noscript;
  message.sentUs = pending.sentAtUs;
  if (pending.comparison != 0 && !replies_.copy(frame->begin, frame->end, message.reply)) message.lost = true;
  outgoing_[pending.worker].push_back(std::move(message));
}

void CanaryLink::lose(const Pending& pending) { answer(pending, nullptr); }

void CanaryLink::postMessages() {
  for (size_t worker = 0; worker < outgoing_.size(); ++worker) {
    if (!outgoing_[worker].empty()) hub_.post(worker, outgoing_[worker]);
  }
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
  dropUnwritten();
  db_ = 0;
  protocol_ = 2;
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
  }
  // Up (and the back-off reset) at the answer, not at the connect: a stopped
  // canary still accepts connections into its backlog, and mirroring into it
  // would cost as much as into a healthy one until the reply timeout.
  writeInternal("*1\r\n$4\r\nPING\r\n");
  expect(Pending{Expect::kHandshake, 0});
}

void CanaryLink::onHandshakeDone() {
  state_ = State::kUp;
  hub_.setUp(true);
  hub_.connected();
  backoffMs_ = 0;
  if (CanaryCounters* counters = owner_.counters(canaryId_)) {
    bump(counters->reconnects);
    counters->links_up.store(counters->links_up.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
  }
  if (const CanarySettings* canary = settings()) spdlog::debug("canary {} link connected", canary->name);
}

void CanaryLink::fail(const char* why, bool timedOut) {
  if (state_ == State::kShutdown) return;
  CanaryCounters* counters = owner_.counters(canaryId_);
  if (state_ == State::kUp && counters != nullptr) {
    counters->links_up.store(counters->links_up.load(std::memory_order_relaxed) - 1,
                             std::memory_order_relaxed);
  }
  hub_.setUp(false);
  std::deque<Pending> lost;
  lost.swap(pending_);
  unstamped_ = 0;
  dropUnwritten();
  for (const Pending& pending : lost) {
    if (pending.expect == Expect::kAuth || pending.expect == Expect::kHandshake ||
        pending.expect == Expect::kInternal) {
      continue;
    }
    hub_.release(kPendingCost);
    if (counters != nullptr) bump(timedOut ? counters->dropped_timeout : counters->dropped_disconnected);
    lose(pending);
    // The canary may or may not have run it: its keys are not to be judged.
    if (pending.taint.scope != WriteTaint::Scope::kNone) owner_.taint(canaryId_, pending.taint);
  }
  postMessages();
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
    spdlog::warn("canary {} ({}): {}; retrying in {} ms", canary->name, canary->address.str(), why, delay);
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
  postMessages();
  replies_.dropBefore(lastReplyEnd_);
  if (const auto* settings = owner_.settingsSnapshot();
      settings != nullptr && replies_.retainedBytes() > settings->maxComparedReplyBytes) {
    replies_.clear();  // a reply too large to compare; its comparison is lost
  }
}

void CanaryLink::onReply(const resp::ReplyFrame& frame) {
  lastReplyEnd_ = frame.end;
  if (state_ != State::kUp && state_ != State::kHandshake) return;
  // The link never subscribes nor tracks: a push, like a reply nobody asked
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
  if ((pending.expect == Expect::kInternal || pending.bracket) && frame.isError()) {
    // Its own SELECT, HELLO or MULTI refused: what follows would run in the
    // wrong database or protocol, or outside its transaction.
    if (pending.bracket) pending_.push_front(pending);  // lost with the rest (its budget, its taint)
    if (counters != nullptr) bump(counters->protocol_errors);
    const std::string why =
        "the canary refused the link's own SELECT/HELLO/MULTI: " + std::string(frame.top.text.view());
    fail(why.c_str(), false);
    return;
  }
  if (pending.expect == Expect::kInternal) return;
  hub_.release(kPendingCost);
  // An EVALSHA resent as EVAL after NOSCRIPT: the error is not the canary's.
  const bool retried = pending.retry != 0 && frame.isError() && frame.top.text.view().starts_with("NOSCRIPT");
  if (frame.isError() && !retried && counters != nullptr) bump(counters->canary_errors);
  answer(pending, &frame);
}

void CanaryLink::expect(Pending pending) {
  pending_.push_back(pending);
  ++unstamped_;
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
  // The commands of this batch leave now: their latency and timeout start here.
  for (size_t i = pending_.size() - unstamped_; i < pending_.size(); ++i) pending_[i].sentAtUs = nowUs;
  unstamped_ = 0;
  if (stream_->unsentBytes() > 0) {
    if (CanaryCounters* counters = owner_.counters(canaryId_)) bump(counters->link_writes);
  }
  stream_->flush();  // what the kernel takes now is reported to onWritten
  return true;
}

size_t CanaryLink::unflushedBytes() const { return stream_ ? stream_->queuedBytes() : 0; }

void CanaryLink::writeInternal(std::string_view bytes) {
  stream_->writeCopy(bytes);
  queuedBytes_ += bytes.size();
  hub_.charge(bytes.size());
}

void CanaryLink::onWritten(net::TcpStream& stream, size_t bytes) {
  if (&stream != stream_.get()) return;
  kernelBytes_ += bytes;
  hub_.release(bytes);
}

void CanaryLink::write(HandoffBatch& batch) {
  CanaryCounters* counters = owner_.counters(canaryId_);
  if (state_ != State::kUp) {
    // Went down after the worker queued them: lost like what was in flight.
    hub_.release(batch.charged);
    batch.charged = 0;
    for (const HandoffEntry& entry : batch.entries) {
      if (counters != nullptr) bump(counters->dropped_disconnected);
      lose(Pending{Expect::kMirrored, entry.comparison, entry.retry, batch.worker});
      if (entry.taint.scope != WriteTaint::Scope::kNone) owner_.taint(canaryId_, entry.taint);
    }
    postMessages();
    return;
  }
  uint32_t begin = 0;
  for (const HandoffEntry& entry : batch.entries) {
    if (entry.protocol != protocol_) {
      writeInternal(entry.protocol == 3 ? "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"
                                        : "*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n");
      expect(Pending{Expect::kInternal, 0});
      protocol_ = entry.protocol;
    }
    if (entry.db != db_) {
      writeInternal(resp::encodeCommand({"SELECT", std::to_string(entry.db)}));
      expect(Pending{Expect::kInternal, 0});
      db_ = entry.db;
    }
    // Charged to the hub by the worker that queued it.
    stream_->writeCopy(std::string_view(batch.bytes).substr(begin, entry.end - begin));
    queuedBytes_ += entry.end - begin;
    for (uint32_t i = 0; i < entry.replies; ++i) {
      const Expect kind = i == 0 && entry.comparison != 0 ? Expect::kCompared : Expect::kMirrored;
      expect(Pending{kind, i == 0 ? entry.comparison : 0, i == 0 ? entry.retry : 0, batch.worker, 0,
                     i + 1 == entry.replies ? entry.taint : WriteTaint{}, i == 0 && entry.bracketed});
    }
    begin = entry.end;
  }
  batch.charged = 0;
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
  hub_.setUp(false);
  for (const Pending& pending : pending_) {
    if (pending.expect == Expect::kMirrored || pending.expect == Expect::kCompared) {
      hub_.release(kPendingCost);
      lose(pending);
    }
  }
  postMessages();
  pending_.clear();
  unstamped_ = 0;
  dropUnwritten();
  state_ = State::kShutdown;
  if (stream_) {
    stream_->close();
    closing_.push_back(std::move(stream_));
  }
}

}  // namespace redmirror::mirror
