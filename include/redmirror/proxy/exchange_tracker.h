#pragma once
// Pairs a session's commands with their replies.
//
// The request framer reports commands as the client sends them; the reply framer
// reports top-level values as the primary sends them. This class keeps the
// commands still awaiting replies, in order, and knows the connection modes in
// which Redis does not answer one reply per command:
//   - CLIENT REPLY OFF / SKIP (no reply, or none for the next command);
//   - pub/sub: one confirmation per channel, messages that answer nothing,
//     RESP3 pushes anywhere; UNSUBSCRIBE with no channel answers once per
//     channel still subscribed (tracked from the counts in the confirmations);
//   - MONITOR: after its +OK, nothing is a reply any more: matching ends.
// Whenever the stream leaves what it models (a reply with no command waiting, a
// mode change inside MULTI), matching ends for the session; forwarding never
// depends on it.
#include <cstdint>
#include <string>
#include <string_view>

#include "redmirror/proxy/ring.h"
#include "redmirror/mirror/mirror_marks.h"
#include "redmirror/resp/reply_framer.h"
#include "redmirror/resp/request_framer.h"

namespace redmirror::proxy {

// What a command does to reply matching.
enum class CommandRole : uint8_t {
  kPlain,        // one reply
  kSubscribe,    // SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE: one confirmation per channel
  kUnsubscribe,  // UNSUBSCRIBE family: per channel given, or per channel held
  kMonitor,      // +OK, then a feed: matching ends
  kHello,        // switches the protocol on success
  kReset,        // back to RESP2, reply ON, no subscriptions
};

// Which pub/sub namespace a command or confirmation belongs to.
enum class PubSubKind : uint8_t { kNone, kChannel, kPattern, kShard };

struct PendingCommand {
  uint64_t requestBegin = 0;
  uint64_t requestEnd = 0;
  uint32_t argc = 0;
  CommandRole role = CommandRole::kPlain;
  PubSubKind pubsub = PubSubKind::kNone;
  uint8_t helloVersion = 0;  // 2 or 3 when HELLO names a version
  bool replySuppressed = false;  // CLIENT REPLY OFF/SKIP: Redis sends nothing
  // Confirmations still expected; -1: "one per channel held", set at the first one.
  int64_t confirmationsLeft = 0;
  resp::Capture name;
  mirror::MirrorMarks mirror;  // the mirror's notes, read back with the reply
};

// A command and its reply, matched.
struct Exchange {
  const PendingCommand& command;
  const resp::ReplyFrame& reply;
};

class ExchangeObserver {
 public:
  virtual ~ExchangeObserver() = default;
  virtual void onExchange(const Exchange& exchange) = 0;
  // Matching ends for the session (reason for logs and counters); the commands
  // still pending are dropped right after this call.
  virtual void onMatchingEnded(std::string_view reason) = 0;
};

class ExchangeTracker final : public resp::RequestSink, public resp::ReplySink {
 public:
  // Commands awaiting replies beyond which matching ends (the client pipelines
  // faster than it reads; memory stays bounded).
  static constexpr size_t kMaxPending = 1 << 18;

  explicit ExchangeTracker(ExchangeObserver* observer = nullptr) : observer_(observer) {}

  void onCommand(const resp::CommandFrame& frame) override { track(frame); }
  void onReply(const resp::ReplyFrame& frame) override;
  // Records a command; returns its pending entry, or nullptr when Redis will not
  // answer it (replies off) or matching has ended. Valid until the next call.
  PendingCommand* track(const resp::CommandFrame& frame);
  const Ring<PendingCommand>& pendingCommands() const { return pending_; }

  // Ends matching (also used when a framer fails).
  void end(std::string_view reason);

  bool active() const { return active_; }
  const std::string& endReason() const { return endReason_; }
  size_t pending() const { return pending_.size(); }
  int protocol() const { return protocol_; }
  bool subscribed() const { return channels_ + patterns_ + shards_ > 0; }
  // Subscribed, or a (UN)SUBSCRIBE still waiting for its confirmations.
  bool inPubSub() const { return subscribed() || pubsubPending_ > 0; }
  uint64_t matched() const { return matched_; }

 private:
  void classify(const resp::CommandFrame& frame, PendingCommand& command);
  bool isPubSubMessage(const resp::ReplyFrame& frame) const;
  void onConfirmation(const resp::ReplyFrame& frame);
  void complete(const resp::ReplyFrame& frame);
  void popFront();

  ExchangeObserver* observer_;
  Ring<PendingCommand> pending_;
  bool active_ = true;
  std::string endReason_;
  int protocol_ = 2;
  bool replyOff_ = false;
  bool skipNext_ = false;
  bool inMulti_ = false;
  // Subscriptions held, derived from confirmations (their count is
  // channels+patterns for the classic kinds, shard channels for the S kinds).
  int64_t channels_ = 0;
  int64_t patterns_ = 0;
  int64_t shards_ = 0;
  uint64_t matched_ = 0;
  uint32_t pubsubPending_ = 0;  // (UN)SUBSCRIBE commands in pending_
};

}  // namespace redmirror::proxy
