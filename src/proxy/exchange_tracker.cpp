#include "redmirror/proxy/exchange_tracker.h"

namespace redmirror::proxy {

namespace {

PubSubKind subscribeKind(const resp::Capture& name, bool& unsubscribe) {
  unsubscribe = false;
  if (name.is("subscribe")) return PubSubKind::kChannel;
  if (name.is("psubscribe")) return PubSubKind::kPattern;
  if (name.is("ssubscribe")) return PubSubKind::kShard;
  unsubscribe = true;
  if (name.is("unsubscribe")) return PubSubKind::kChannel;
  if (name.is("punsubscribe")) return PubSubKind::kPattern;
  if (name.is("sunsubscribe")) return PubSubKind::kShard;
  return PubSubKind::kNone;
}

bool isClientReply(const resp::CommandFrame& frame) {
  return frame.argc == 3 && frame.captured[0].size == 6 && frame.captured[0].is("client") &&
         frame.captured[1].is("reply");
}

}  // namespace

void ExchangeTracker::classify(const resp::CommandFrame& frame, PendingCommand& command) {
  const resp::Capture& name = frame.captured[0];
  // Every name this cares about is 5 to 12 bytes long: GET, SET and friends
  // leave at once.
  if (name.size < 5 || name.size > 12) return;
  bool unsubscribe = false;
  const PubSubKind kind = subscribeKind(name, unsubscribe);
  if (kind != PubSubKind::kNone && (frame.argc >= 2 || unsubscribe)) {
    command.role = unsubscribe ? CommandRole::kUnsubscribe : CommandRole::kSubscribe;
    command.pubsub = kind;
    command.confirmationsLeft = frame.argc >= 2 ? static_cast<int64_t>(frame.argc) - 1 : -1;
  } else if (name.is("monitor")) {
    command.role = CommandRole::kMonitor;
  } else if (name.is("hello")) {
    command.role = CommandRole::kHello;
    if (frame.argc >= 2 && frame.captured[1].is("2")) command.helloVersion = 2;
    if (frame.argc >= 2 && frame.captured[1].is("3")) command.helloVersion = 3;
  } else if (name.is("reset")) {
    command.role = CommandRole::kReset;
  }
}

PendingCommand* ExchangeTracker::track(const resp::CommandFrame& frame) {
  if (!active_) return nullptr;
  PendingCommand command;
  command.requestBegin = frame.begin;
  command.requestEnd = frame.end;
  command.argc = frame.argc;
  command.name = frame.captured[0];
  classify(frame, command);
  const bool clientReply = isClientReply(frame);

  if (inMulti_ && (command.role != CommandRole::kPlain || clientReply)) {
    // Queued now, effective at EXEC: a mode change we would have to replay from
    // inside the EXEC reply. Rare enough to stop matching instead.
    end("connection mode change inside MULTI");
    return nullptr;
  }
  const uint8_t length = command.name.size;
  if (length == 5 && command.name.is("multi")) inMulti_ = true;
  if ((length == 4 && command.name.is("exec")) || (length == 7 && command.name.is("discard")) ||
      command.role == CommandRole::kReset) {
    inMulti_ = false;
  }

  // Redis decides at execution, in command order, whether a reply is sent.
  bool suppressed = replyOff_ || skipNext_;
  skipNext_ = false;
  if (command.role == CommandRole::kReset) {
    replyOff_ = false;
    suppressed = false;
  }
  if (clientReply) {
    const resp::Capture& mode = frame.captured[2];
    if (mode.is("on")) {
      replyOff_ = false;
      suppressed = false;
    } else if (mode.is("off")) {
      replyOff_ = true;
      suppressed = true;
    } else if (mode.is("skip")) {
      if (!replyOff_) skipNext_ = true;
      suppressed = true;
    }
  }
  if (suppressed) {
    if (command.role != CommandRole::kPlain) end("pub/sub or mode change with replies off");
    return nullptr;
  }
  if (pending_.size() >= kMaxPending) {
    end("too many commands awaiting replies");
    return nullptr;
  }
  if (command.role == CommandRole::kSubscribe || command.role == CommandRole::kUnsubscribe) ++pubsubPending_;
  pending_.push_back(command);
  return &pending_.back();
}

bool ExchangeTracker::isPubSubMessage(const resp::ReplyFrame& frame) const {
  const resp::Capture& kind = frame.head[0].text;
  return kind.is("message") || kind.is("pmessage") || kind.is("smessage");
}

void ExchangeTracker::onReply(const resp::ReplyFrame& frame) {
  if (!active_) return;
  bool unsubscribe = false;
  const bool aggregate = frame.top.type == '*' || frame.top.type == '>';
  const PubSubKind confirmation =
      aggregate && frame.top.integer == 3 ? subscribeKind(frame.head[0].text, unsubscribe)
                                          : PubSubKind::kNone;
  if (frame.isPush()) {
    // RESP3 pushes answer no command: messages, invalidations, confirmations.
    if (confirmation != PubSubKind::kNone) onConfirmation(frame);
    return;
  }
  const bool frontIsPubSub = !pending_.empty() && (pending_.front().role == CommandRole::kSubscribe ||
                                                    pending_.front().role == CommandRole::kUnsubscribe);
  if (protocol_ == 2 && frame.top.type == '*' && (subscribed() || frontIsPubSub)) {
    if (isPubSubMessage(frame)) return;
    if (confirmation != PubSubKind::kNone) {
      onConfirmation(frame);
      return;
    }
  }
  if (pending_.empty()) {
    end("a reply arrived with no command awaiting it");
    return;
  }
  complete(frame);
}

void ExchangeTracker::onConfirmation(const resp::ReplyFrame& frame) {
  bool unsubscribe = false;
  const PubSubKind kind = subscribeKind(frame.head[0].text, unsubscribe);
  if (pending_.empty() || pending_.front().pubsub != kind ||
      (pending_.front().role == CommandRole::kUnsubscribe) != unsubscribe ||
      frame.head[2].type != ':') {
    end("a pub/sub confirmation arrived that no command asked for");
    return;
  }
  PendingCommand& front = pending_.front();
  if (front.confirmationsLeft < 0) {
    // UNSUBSCRIBE with no channel: one confirmation per channel held, or one.
    const int64_t held = kind == PubSubKind::kChannel   ? channels_
                         : kind == PubSubKind::kPattern ? patterns_
                                                        : shards_;
    front.confirmationsLeft = held > 0 ? held : 1;
  }
  const int64_t count = frame.head[2].integer;
  switch (kind) {
    case PubSubKind::kChannel: channels_ = count - patterns_; break;
    case PubSubKind::kPattern: patterns_ = count - channels_; break;
    case PubSubKind::kShard: shards_ = count; break;
    case PubSubKind::kNone: break;
  }
  if (--front.confirmationsLeft == 0) popFront();
}

void ExchangeTracker::complete(const resp::ReplyFrame& frame) {
  PendingCommand& front = pending_.front();
  const bool error = frame.isError();
  switch (front.role) {
    case CommandRole::kSubscribe:
    case CommandRole::kUnsubscribe:
      if (!error) {
        end("an unexpected reply to a pub/sub command");
        return;
      }
      break;
    case CommandRole::kMonitor:
      if (!error) {
        end("MONITOR");
        return;
      }
      break;
    case CommandRole::kHello:
      if (!error && front.helloVersion != 0) protocol_ = front.helloVersion;
      break;
    case CommandRole::kReset:
      if (!error) {
        protocol_ = 2;
        channels_ = patterns_ = shards_ = 0;
      }
      break;
    case CommandRole::kPlain:
      break;
  }
  ++matched_;
  if (observer_ != nullptr) observer_->onExchange(Exchange{front, frame});
  popFront();
}

void ExchangeTracker::popFront() {
  const CommandRole role = pending_.front().role;
  if (role == CommandRole::kSubscribe || role == CommandRole::kUnsubscribe) --pubsubPending_;
  pending_.pop_front();
}

void ExchangeTracker::end(std::string_view reason) {
  if (!active_) return;
  active_ = false;
  endReason_ = std::string(reason);
  if (observer_ != nullptr) observer_->onMatchingEnded(reason);
  pending_.clear();
  pubsubPending_ = 0;
}

}  // namespace redmirror::proxy
