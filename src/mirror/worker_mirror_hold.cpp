// WorkerMirror: keeping a command for the canaries and sending it: behind the
// session's pending effects, inside MULTI, as a blocking command's effect, or
// straight to the canary's outbox.
#include "worker_mirror_internal.h"

namespace redmirror::mirror {

using namespace detail;  // NOLINT(google-build-using-namespace): this class's own helpers

bool WorkerMirror::holdBlockingPop(SessionMirror& session, const resp::CommandFrame& frame, const CommandInfo& info,
                                   ArgReader& args, MirrorMarks* pending) {
  const Special special = info.special;
  const bool streamRead = special == Special::kXread || special == Special::kXreadgroup;
  if (!info.isBlocking() || session.state.inMulti() || (streamRead && streamBlockIndex(args) == 0)) return false;
  // Mirrored as its non-blocking effect once the primary answers (and not at
  // all if it timed out): the pops, and XREADGROUP ... BLOCK without BLOCK.
  // Other blocking commands (XREAD ... BLOCK, WAIT) are not mirrored.
  if (pending == nullptr || (!isBlockingPop(info.name) && special != Special::kXreadgroup)) return true;
  Effect effect;
  effect.kind = Effect::Kind::kBlockingPop;
  for (uint32_t i = 0; i < frame.argc; ++i) {
    std::string_view arg;
    if (!args.arg(i, arg)) return true;
    effect.args.emplace_back(arg);
  }
  effect.args[0] = info.name;  // lowercase, whatever the client sent
  effect.blockedOrder = ++blockedCount_;
  if (!findKeys(info, args, effect.keys)) effect.keys.clear();
  if (const std::string* destination = moveDestination(effect)) {
    effect.pendingMove = PendingMove(pendingMoves_, *destination);
  }
  effect.db = session.state.db();
  effect.protocol = session.state.protocol();
  session.effects.push_back(std::move(effect));
  pending->effect = true;
  return true;
}

bool WorkerMirror::holdMember(SessionMirror& session, const CanarySettings& canary, CanaryCounters& counters,
                              const resp::CommandFrame& frame, const net::StreamWindow& window, ArgReader& args,
                              size_t xaddId, HeldCommand*& held) {
  const uint32_t db = session.state.transactionDb();
  if (held == nullptr) {
    if (!mayHold(frame.end - frame.begin, counters)) {
      // Without this member the transaction cannot be sent whole.
      taintCurrent(canary.id, db);
      session.state.loseTransaction();
      return false;
    }
    session.transaction.emplace_back();
    held = &session.transaction.back();
    held->db = db;
    held->replyIndex = session.state.transactionCount() - 1;
    if (!window.forEach(frame.begin, frame.end, [held](net::Chunk* chunk, uint32_t offset, uint32_t length) {
          held->bytes.emplace_back(chunk, offset, length);
        })) {
      session.transaction.pop_back();
      held = nullptr;
      bump(counters.dropped_oversize);
      taintCurrent(canary.id, db);
      session.state.loseTransaction();
      return false;
    }
    held->charge = HeldCharge(heldBytes_, frame.end - frame.begin);
    if (taintScope_ != WriteTaint::Scope::kNone) {
      held->keyHashes = keyHashes_;
      held->taintScope = taintScope_;
      held->overwrites = overwrites_;
    }
    if (xaddId != 0) {
      for (uint32_t i = 0; i < frame.argc; ++i) {
        std::string_view arg;
        if (!args.arg(i, arg)) break;
        held->rewriteArgs.emplace_back(arg);
      }
      held->idIndex = xaddId;
    }
  }
  held->canaries.push_back(canary.id);
  held->comparisons.push_back(0);
  return true;
}

void WorkerMirror::dispatch(const CanarySettings& canary, SessionMirror& session,
                            const net::StreamWindow& window, const resp::CommandFrame& frame, int protocol,
                            bool write, uint32_t comparison, uint32_t retry, HeldCommand*& deferred) {
  CanaryCounters& counters = canary.counters->perWorker[workerIndex_];
  if (frame.end - frame.begin > settings_->maxMirroredCommandBytes) {
    bump(counters.dropped_oversize);
    if (comparison != 0) onCanaryLost(comparison);
    if (retry != 0) dropRetry(retry);
    taintCurrent(canary.id, session.state.db());
    return;
  }
  if (!session.effects.empty()) {
    // An effect ahead of this command is still waiting for the primary: keep
    // the session's order on the canary by holding this one behind it.
    if (deferred == nullptr && !mayHold(frame.end - frame.begin, counters)) {
      if (comparison != 0) onCanaryLost(comparison);
      if (retry != 0) dropRetry(retry);
      taintCurrent(canary.id, session.state.db());
      return;
    }
    if (deferred == nullptr) {
      session.effects.back().after.emplace_back();
      deferred = &session.effects.back().after.back();
      deferred->db = session.state.db();
      deferred->dbFromTransaction = session.state.dbFromTransaction();
      if (!window.forEach(frame.begin, frame.end, [deferred](net::Chunk* chunk, uint32_t offset,
                                                             uint32_t length) {
            deferred->bytes.emplace_back(chunk, offset, length);
          })) {
        session.effects.back().after.pop_back();
        deferred = nullptr;
        bump(counters.dropped_oversize);
        if (comparison != 0) onCanaryLost(comparison);
        if (retry != 0) dropRetry(retry);
        taintCurrent(canary.id, session.state.db());
        return;
      }
      deferred->charge = HeldCharge(heldBytes_, frame.end - frame.begin);
      if (taintScope_ != WriteTaint::Scope::kNone) {
        deferred->keyHashes = keyHashes_;
        deferred->taintScope = taintScope_;
        deferred->overwrites = overwrites_;
      }
    }
    deferred->canaries.push_back(canary.id);
    deferred->comparisons.push_back(comparison);
    deferred->retries.push_back(retry);
    if (write) {
      if (CanaryRuntime* runtime = runtimeOf(canary.id)) {
        for (uint64_t hash : keyHashes_) runtime->written->insert(hash);
      }
    }
    return;
  }
  CanaryOutbox* link = linkFor(canary, session);
  const WriteTaint taint = linkTaint(session.state.db(), keyHashes_, taintScope_);
  const SendResult result = link == nullptr ? SendResult::kDisconnected
                                            : link->send(window, frame.begin, frame.end, session.state.db(), protocol,
                                                         comparison, retry, taint);
  if (result == SendResult::kSent) {
    bump(counters.mirrored);
    if (write) {
      if (CanaryRuntime* runtime = runtimeOf(canary.id)) {
        for (uint64_t hash : keyHashes_) runtime->written->insert(hash);
      }
    }
    repaired(canary.id, session.state.db(), keyHashes_, overwrites_, taintScope_);
    return;
  }
  bump(result == SendResult::kQueueFull ? counters.dropped_queue_full : counters.dropped_disconnected);
  // Not sent: the link side of the comparison will never answer.
  if (comparison != 0) onCanaryLost(comparison);
  if (retry != 0) dropRetry(retry);
  taintCurrent(canary.id, session.state.db());
}

void WorkerMirror::sendHeld(SessionMirror& session, const HeldCommand& held, bool transactionAborted,
                            uint32_t dbBefore, int protocol) {
  const uint32_t db = transactionAborted && held.dbFromTransaction ? dbBefore : held.db;
  for (size_t i = 0; i < held.canaries.size(); ++i) {
    const uint32_t comparison = i < held.comparisons.size() ? held.comparisons[i] : 0;
    const uint32_t retry = i < held.retries.size() ? held.retries[i] : 0;
    const CanarySettings* canary = this->canary(held.canaries[i]);
    CanaryOutbox* link = canary == nullptr ? nullptr : linkFor(*canary, session);
    const SendResult result =
        link == nullptr ? SendResult::kDisconnected
                        : link->sendHeld(held.bytes, db, protocol, comparison, retry,
                                         linkTaint(db, held.keyHashes, held.taintScope));
    if (result != SendResult::kSent && retry != 0) dropRetry(retry);
    if (CanaryCounters* counters = this->counters(held.canaries[i])) {
      if (result == SendResult::kSent) {
        bump(counters->mirrored);
      } else {
        bump(result == SendResult::kQueueFull ? counters->dropped_queue_full : counters->dropped_disconnected);
      }
    }
    if (result == SendResult::kSent) {
      repaired(held.canaries[i], db, held.keyHashes, held.overwrites, held.taintScope);
    } else {
      if (comparison != 0) onCanaryLost(comparison);
      taintHeld(held.canaries[i], held, db);
    }
  }
}

bool WorkerMirror::mayHold(uint64_t bytes, CanaryCounters& counters) {
  if (heldBytes_->bytes + bytes <= heldBudget_) return true;
  bump(counters.dropped_held);
  return false;
}

bool WorkerMirror::linkTakes(const CanarySettings& canary, const SessionMirror& session,
                             const resp::CommandFrame& frame, CanaryCounters& counters) {
  // A canary that is down or whose budget is spent: dropped here, before
  // paying for a comparison that could never complete.
  const CanaryOutbox* link = linkFor(canary, session);
  if (link != nullptr && link->up() && link->hasRoomFor(frame.end - frame.begin)) return true;
  bump(link != nullptr && link->up() ? counters.dropped_queue_full : counters.dropped_disconnected);
  return false;
}

}  // namespace redmirror::mirror
