#include "redmirror/mirror/canary_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "redmirror/mirror/worker_mirror.h"
#include "redmirror/net/counter.h"

namespace redmirror::mirror {

namespace {
using net::bump;
constexpr uint64_t kPendingCost = CanaryHub::kPendingCost;

void addLinksUp(CanaryCounters* counters, int delta) {
  if (counters == nullptr) return;
  counters->links_up.store(counters->links_up.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}
}  // namespace

CanaryLink::CanaryLink(WorkerMirror& owner, uint64_t canaryId, std::shared_ptr<CanaryCounterSet> set)
    : owner_(owner),
      canaryId_(canaryId),
      set_(std::move(set)),
      hub_(set_->hub),
      connection_(owner.loop(), owner.pool(), *this, *this, owner.randomNumber()),
      outgoing_(std::max<size_t>(1, hub_.workers())) {
  connection_.start();
}

CanaryLink::~CanaryLink() {
  hub_.release(connection_.unwrittenBytes());
  owner_.batcher().forget(*this);
}

const CanarySettings* CanaryLink::settings() const { return owner_.canary(canaryId_); }
CanaryCounters* CanaryLink::counters() const { return owner_.counters(canaryId_); }

bool CanaryLink::serverEndpoint(ServerConnection::Endpoint& endpoint) {
  const CanarySettings* canary = settings();
  if (canary == nullptr || shutdown_) return false;
  endpoint.address = canary->sockaddr;
  endpoint.username = canary->username;
  endpoint.password = canary->password;
  // Up (and the back-off reset) at the PING's answer, not at the connect: a
  // stopped canary still accepts connections into its backlog, and mirroring
  // into it would cost as much as into a healthy one until the reply timeout.
  endpoint.connectTimeoutMs = canary->replyTimeoutMs;
  return true;
}

void CanaryLink::onServerUp() {
  hub_.setUp(true);
  hub_.connected();
  CanaryCounters* counts = counters();
  if (counts != nullptr) bump(counts->reconnects);
  addLinksUp(counts, 1);
  if (const CanarySettings* canary = settings()) spdlog::debug("canary {} link connected", canary->name);
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
      owner_.onCanaryReply(pending.comparison, connection_.replies(), frame->begin, frame->end, frame->isError(),
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
  if (pending.comparison != 0 && !connection_.replies().copy(frame->begin, frame->end, message.reply)) {
    message.lost = true;
  }
  outgoing_[pending.worker].push_back(std::move(message));
}

void CanaryLink::lose(const Pending& pending) { answer(pending, nullptr); }

void CanaryLink::postMessages() {
  for (size_t worker = 0; worker < outgoing_.size(); ++worker) {
    if (!outgoing_[worker].empty()) hub_.post(worker, outgoing_[worker]);
  }
}

void CanaryLink::loseInFlight(bool timedOut) {
  std::deque<Pending> lost;
  lost.swap(pending_);
  unstamped_ = 0;
  CanaryCounters* counts = counters();
  for (const Pending& pending : lost) {
    hub_.release(kPendingCost);
    if (counts != nullptr) bump(timedOut ? counts->dropped_timeout : counts->dropped_disconnected);
    lose(pending);
    // The canary may or may not have run it: its keys are not to be judged.
    if (pending.taint.scope != WriteTaint::Scope::kNone) owner_.taint(canaryId_, pending.taint);
  }
  postMessages();
}

void CanaryLink::onServerDown(ServerConnection::Failure failure, std::string_view why, bool wasUp) {
  using Failure = ServerConnection::Failure;
  if (wasUp) addLinksUp(counters(), -1);
  hub_.setUp(false);
  CanaryCounters* counts = counters();
  if (counts != nullptr && failure == Failure::kProtocol) bump(counts->protocol_errors);
  if (counts != nullptr && failure == Failure::kAuthRefused) bump(counts->auth_failures);
  // Bytes the stream will never write no longer count against the budget.
  hub_.release(connection_.unwrittenBytes());
  loseInFlight(failure == Failure::kTimeout);
  if (const CanarySettings* canary = settings()) {
    spdlog::warn("canary {} ({}): {}; reconnecting with back-off", canary->name, canary->address.str(), why);
  }
}

void CanaryLink::beforeServerReplies() {
  owner_.newEvent();
  if (CanaryCounters* counts = counters()) bump(counts->link_reads);
}

void CanaryLink::afterServerReplies() { postMessages(); }

void CanaryLink::onServerReply(const resp::ReplyFrame& frame) {
  if (pending_.empty()) return;  // the connection only hands over replies it expected for the link
  const Pending pending = pending_.front();
  pending_.pop_front();
  if (unstamped_ > pending_.size()) unstamped_ = pending_.size();
  if (pending.bracket && frame.isError()) {
    // The proxy's own MULTI refused: what follows would run outside its
    // transaction. Lost with the rest (its budget, its taint).
    pending_.push_front(pending);
    connection_.fail(ServerConnection::Failure::kProtocol,
                     "the canary refused the link's own MULTI: " + std::string(frame.top.text.view()));
    return;
  }
  hub_.release(kPendingCost);
  // An EVALSHA resent as EVAL after NOSCRIPT: the error is not the canary's.
  const bool retried = pending.retry != 0 && frame.isError() && frame.top.text.view().starts_with("NOSCRIPT");
  if (frame.isError() && !retried) {
    if (CanaryCounters* counts = counters()) bump(counts->canary_errors);
  }
  answer(pending, &frame);
}

void CanaryLink::scheduleFlush(net::TcpStream& stream) {
  // Streams being closed need no flush: their unwritten bytes are dropped.
  if (!connection_.owns(stream) || batchScheduled_) return;
  batchScheduled_ = true;
  owner_.batcher().schedule(*this);
}

bool CanaryLink::flushBatch(uint64_t nowUs) {
  batchScheduled_ = false;
  // The commands of this batch leave now: their latency and timeout start here.
  for (size_t i = pending_.size() - unstamped_; i < pending_.size(); ++i) pending_[i].sentAtUs = nowUs;
  unstamped_ = 0;
  if (connection_.unsentBytes() > 0) {
    if (CanaryCounters* counts = counters()) bump(counts->link_writes);
  }
  connection_.flush();  // what the kernel takes now is reported to onServerWritten
  return true;
}

size_t CanaryLink::unflushedBytes() const { return connection_.queuedBytes(); }

void CanaryLink::onServerOwnBytes(size_t bytes) { hub_.charge(bytes); }

void CanaryLink::onServerWritten(size_t bytes) { hub_.release(bytes); }

void CanaryLink::write(HandoffBatch& batch) {
  if (!connection_.up()) {
    // Went down after the worker queued them: lost like what was in flight.
    CanaryCounters* counts = counters();
    hub_.release(batch.charged);
    batch.charged = 0;
    for (const HandoffEntry& entry : batch.entries) {
      if (counts != nullptr) bump(counts->dropped_disconnected);
      lose(Pending{entry.comparison, entry.retry, batch.worker});
      if (entry.taint.scope != WriteTaint::Scope::kNone) owner_.taint(canaryId_, entry.taint);
    }
    postMessages();
    return;
  }
  if (const MirrorSettings* snapshot = owner_.settingsSnapshot()) {
    connection_.setRetainLimit(snapshot->maxComparedReplyBytes);  // a reply too large to compare is lost
  }
  uint32_t begin = 0;
  for (const HandoffEntry& entry : batch.entries) {
    connection_.use(entry.db, entry.protocol);
    // Charged to the hub by the worker that queued it.
    connection_.write(std::string_view(batch.bytes).substr(begin, entry.end - begin), entry.replies);
    for (uint32_t i = 0; i < entry.replies; ++i) {
      pending_.push_back(Pending{i == 0 ? entry.comparison : 0, i == 0 ? entry.retry : 0, batch.worker, 0,
                                 i + 1 == entry.replies ? entry.taint : WriteTaint{}, i == 0 && entry.bracketed});
      ++unstamped_;
    }
    begin = entry.end;
  }
  batch.charged = 0;
}

void CanaryLink::sweep(uint64_t nowMs) {
  connection_.sweep(nowMs);
  const CanarySettings* canary = settings();
  if (canary == nullptr || !connection_.up()) return;
  // A command still waiting for its batch has not been sent: no timeout yet.
  if (!pending_.empty() && pending_.front().sentAtUs != 0 &&
      nowMs * 1000 >= pending_.front().sentAtUs + uint64_t{canary->replyTimeoutMs} * 1000) {
    connection_.fail(ServerConnection::Failure::kTimeout, "reply timed out");
  }
}

void CanaryLink::shutdown() {
  if (shutdown_) return;
  shutdown_ = true;
  if (connection_.up()) addLinksUp(counters(), -1);
  hub_.setUp(false);
  for (const Pending& pending : pending_) {
    hub_.release(kPendingCost);
    lose(pending);
  }
  postMessages();
  pending_.clear();
  unstamped_ = 0;
  hub_.release(connection_.unwrittenBytes());
  connection_.close();
}

}  // namespace redmirror::mirror
