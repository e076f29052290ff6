// WorkerMirror: effects that wait for the primary's reply, transactions, the turn's end.
#include "worker_mirror_internal.h"

namespace redmirror::mirror {

using namespace detail;  // NOLINT(google-build-using-namespace): this class's own helpers

void WorkerMirror::onReply(SessionMirror& session, const MirrorMarks& pending,
                           const resp::ReplyFrame& reply, const net::StreamWindow& window) {
  // The state first: a refused change marks what its barrier holds before
  // the barrier's effect is answered below.
  if (pending.state) confirmState(session, pending, reply);
  if (pending.comparison != 0) {
    const uint64_t size = reply.end - reply.begin;
    const bool fits = settings_ && size <= settings_->maxComparedReplyBytes;
    const uint64_t nowUs = eventNowUs();
    for (uint32_t id = pending.comparison; id != 0;) {
      Comparison& comparison = comparisons_[id];
      const uint32_t next = comparison.next;
      // Straight into the slot (one copy per canary comparing it; usually one).
      if (fits && charge(comparison, size) && window.copy(reply.begin, reply.end, comparison.primary)) {
        comparison.primaryUs = nowUs - comparison.startedUs;
        comparison.hasPrimary = true;
        comparison.primaryError = reply.isError();
        comparison.refused = comparison.primaryError && refusedBeforeRunning(reply.top.text.view());
      } else {
        comparison.lost = true;
        if (CanaryCounters* c = counters(comparison.canaryId)) bump(fits ? c->dropped_queue_full : c->dropped_oversize);
      }
      release(id);
      id = next;
    }
    if (session.outstanding > 0) --session.outstanding;
  }
  if (!pending.effect) return;
  // Effects are in reply order; those already answered wait for the turn's end.
  auto effect = std::find_if(session.effects.begin(), session.effects.end(),
                             [](const Effect& e) { return !e.ready; });
  if (effect == session.effects.end()) return;
  EffectReply& answer = effect->reply;
  answer.error = reply.isError();
  answer.killed = killedScript(reply);
  answer.ranScript = effect->kind != Effect::Kind::kScript || !answer.error || scriptRan(reply, window);
  answer.committed = reply.top.type == '*' && !reply.top.isNull;
  // Rebuilt from the reply: SPOP, XADD *, claims, pops; EXEC's members' replies.
  const bool needsValue = !answer.error && effect->kind != Effect::Kind::kScript &&
                          effect->kind != Effect::Kind::kGuard && effect->kind != Effect::Kind::kState &&
                          !(effect->kind == Effect::Kind::kExec && effect->held.empty());
  if (needsValue && settings_ && reply.end - reply.begin <= settings_->maxComparedReplyBytes) {
    std::string bytes;
    std::string error;
    answer.parsed = window.copy(reply.begin, reply.end, bytes) &&
                    resp::parseValue(bytes, answer.value, error, kMaxComparedValues);
  }
  effect->ready = true;
  effect->readyUs = eventNowUs();
  effect->pendingMove.answer();
  if (!session.hasReadyEffects) {
    session.hasReadyEffects = true;
    readySessions_.push_back(&session);
  }
}

bool WorkerMirror::waitsForFeeders(SessionMirror& session, uint64_t nowUs, uint64_t& recheckUs) {
  if (session.effects.empty() || !session.effects.front().ready) return false;
  Effect& effect = session.effects.front();
  if (effect.kind != Effect::Kind::kBlockingPop) return false;
  const std::vector<std::string_view> sources = fedKeys(effect);
  bool moveFed = false;
  bool guardFed = false;  // or fed by an answered move that waits for a guarded write
  const bool guardsBefore = guardQueue_ && guardQueue_->order().pendingAtOrBefore(effect.readyUs);
  for (std::string_view key : sources) {
    moveFed = moveFed || (!pendingMoves_->destinations.empty() && pendingMoves_->destinations.count(std::string(key)) != 0);
    if (!pendingMoves_->answered.empty()) {
      // BLMOVE q q counts itself among the answered moves into q.
      const std::string* own = moveDestination(effect);
      auto found = pendingMoves_->answered.find(std::string(key));
      const uint32_t others = found == pendingMoves_->answered.end() ? 0 : found->second - (own != nullptr && *own == key ? 1 : 0);
      guardFed = guardFed || others != 0;
    }
    guardFed = guardFed || (guardsBefore && guardQueue_->order().keyPending(diff::WrittenKeys::hash(key)));
  }
  if (!moveFed && !guardFed) return false;
  if (effect.heldSinceUs == 0) effect.heldSinceUs = nowUs;
  const uint64_t waited = nowUs - effect.heldSinceUs;
  if (moveFed && waited < kMoveWaitUs) {
    recheckUs = std::min(recheckUs, nowUs + (guardFed ? kGuardRecheckUs : kMoveWaitUs - waited));
    return true;
  }
  if (guardFed && waited < kGuardWaitUs) {
    recheckUs = std::min(recheckUs, nowUs + kGuardRecheckUs);
    return true;
  }
  if (guardFed && settings_) {
    // Its feeder is still held up: the canary may pop before the push.
    for (const CanarySettings& canary : settings_->canaries) {
      if (canary.percentHundredths > 0) taintNamedKeys(canary.id, sources, effect.db);
    }
  }
  return false;
}

void WorkerMirror::sealTurn() {
  sealUs_ = uv_hrtime() / 1000;
  eventUs_ = sealUs_;  // what the turn's end mirrors is stamped with its start
  // Effects first: their primary replies reach the clients with this turn's
  // writes, so they belong to this turn's hand-off.
  runReadyEffectsOfTurn();
  for (auto& [id, runtime] : runtimes_) {
    if (runtime.outbox) runtime.outbox->handOver();
  }
  // Guarded writes sent in this turn are handed over: pops they fed, on any
  // worker, may go now (they are handed over after them).
  sentGuards_.clear();
}

void WorkerMirror::runReadyEffectsOfTurn() {
  if (readySessions_.empty()) return;
  // Running an effect never makes another one ready: the list is stable here.
  for (SessionMirror* session : readySessions_) runReadyEffects(*session, true);
  orderBlockingPops(readySessions_);
  // A pop from a key that a blocking move still waiting for its answer pushes
  // into may have been fed by it: that answer is on its way (Redis wrote the
  // pop's first), so the pop waits for it, briefly, to run after the move.
  // Likewise a pop from a key that a guarded write, framed before the pop's
  // reply was read, may have fed, on any worker (guard_order.h).
  std::vector<SessionMirror*> held;
  const bool mayWait = !pendingMoves_->destinations.empty() || !pendingMoves_->answered.empty() ||
                       (guardQueue_ != nullptr && guardQueue_->order().pendingAtOrBefore(UINT64_MAX - 1));
  const uint64_t nowUs = mayWait ? uv_hrtime() / 1000 : 0;
  uint64_t recheckUs = UINT64_MAX;
  for (SessionMirror* session : readySessions_) {
    if (mayWait && waitsForFeeders(*session, nowUs, recheckUs)) {
      held.push_back(session);
      continue;
    }
    runReadyEffects(*session, false);
    session->hasReadyEffects = false;
  }
  readySessions_ = std::move(held);
  if (!readySessions_.empty()) batcher_.wakeAt(recheckUs == UINT64_MAX ? nowUs + kMoveWaitUs : recheckUs);
}

void WorkerMirror::onTurnEnd() {
  writeHandedOver();
  batcher_.onTurnEnd();
}

void WorkerMirror::runReadyEffects(SessionMirror& session, bool stopAtBlockingPop) {
  while (!session.effects.empty() && session.effects.front().ready) {
    if (stopAtBlockingPop && session.effects.front().kind == Effect::Kind::kBlockingPop) return;
    Effect effect = std::move(session.effects.front());
    session.effects.pop_front();
    if (effect.barrier && session.barriers > 0) --session.barriers;
    if (effect.staleHeld > 0) {
      // Framed before a refused change of database or transaction was known:
      // placed on a wrong guess (the effect's own command first, if it holds one).
      const size_t stale = std::min(effect.staleHeld, effect.after.size());
      for (size_t i = 0; i < stale; ++i) loseUnplaced(effect.after[i], effect.staleDb);
      effect.after.erase(effect.after.begin(), effect.after.begin() + static_cast<std::ptrdiff_t>(stale));
    }
    bool aborted = false;
    if (effect.stale) {
      loseStaleEffect(effect);
    } else {
      loseRefusedCommand(effect);
      aborted = runEffect(session, effect);
    }
    // The session's commands that waited behind this effect, in order.
    for (const HeldCommand& held : effect.after) sendHeld(session, held, aborted, effect.dbBefore, effect.protocol);
    // A guard stays open until its write is handed over (sealTurn).
    if (effect.kind == Effect::Kind::kGuard || effect.kind == Effect::Kind::kExec) {
      sentGuards_.push_back(std::move(effect.guard));
    }
  }
}

void WorkerMirror::loseRefusedCommand(Effect& effect) {
  const bool guard = effect.kind == Effect::Kind::kGuard;
  if ((effect.kind != Effect::Kind::kScript && !guard) || effect.after.empty() || !effect.reply.error) return;
  const bool refused = !effect.reply.killed && (effect.dropIfRefused || !effect.reply.ranScript);
  // A script that failed while it ran, for a session authenticated as another
  // user than `default`, may have stopped on that user's ACL (a redis.call of
  // a key or command it may not use, after some writes): the canary's link,
  // as its own user, would run it whole.
  const bool userScript = !refused && !effect.reply.killed && !effect.defaultUser;
  if (!refused && !effect.reply.killed && !userScript) return;
  // Not mirrored: a killed script would run on the canary until killed,
  // answering BUSY meanwhile; a refused write or library load changed nothing;
  // what a user's failed script wrote is tainted.
  const HeldCommand& command = effect.after.front();
  for (uint64_t id : command.canaries) {
    if (CanaryCounters* c = counters(id)) {
      bump(userScript ? c->skipped_acl_user
           : guard    ? c->skipped_refused
           : refused  ? c->scripts_refused
                      : c->scripts_killed);
    }
  }
  loseHeld(command, userScript);
  effect.after.erase(effect.after.begin());
}

void WorkerMirror::abandon(SessionMirror& session, const MirrorMarks& pending) {
  for (uint32_t id = pending.comparison; id != 0;) {
    Comparison& comparison = comparisons_[id];
    const uint32_t next = comparison.next;
    comparison.lost = true;
    if (CanaryCounters* c = counters(comparison.canaryId)) bump(c->dropped_session_closed);
    release(id);
    id = next;
  }
  if (pending.comparison != 0 && session.outstanding > 0) --session.outstanding;
  if (!pending.effect) return;
  auto effect = std::find_if(session.effects.begin(), session.effects.end(),
                             [](const Effect& e) { return !e.ready; });
  if (effect == session.effects.end()) return;
  // Its reply will not be seen: what waited behind it, or the transaction it
  // ends, may have run on the primary.
  for (const HeldCommand& held : effect->held) loseHeld(held, true);
  for (const HeldCommand& held : effect->after) loseHeld(held, true);
  if (effect->barrier && session.barriers > 0) --session.barriers;
  session.effects.erase(effect);
}

void WorkerMirror::sessionClosed(SessionMirror& session) {
  if (session.hasReadyEffects) {
    // Effects already answered still run: the primary applied them.
    runReadyEffects(session, false);
    std::erase(readySessions_, &session);
    session.hasReadyEffects = false;
  }
  for (const Effect& effect : session.effects) {
    for (const HeldCommand& held : effect.held) loseHeld(held, true);
    for (const HeldCommand& held : effect.after) loseHeld(held, true);
  }
  session.transaction.clear();
  session.effects.clear();
  session.barriers = 0;
}

void WorkerMirror::sendOwned(const CanarySettings& canary, const SessionMirror& session,
                             const std::string& bytes, uint32_t db, int protocol, uint32_t replies,
                             const std::vector<std::string_view>& keys) {
  CanaryCounters* counters = this->counters(canary.id);
  CanaryOutbox* link = linkFor(canary, session);
  std::vector<uint64_t> hashes;
  for (std::string_view key : keys) hashes.push_back(diff::WrittenKeys::hash(key));
  const WriteTaint::Scope scope = keys.empty() ? WriteTaint::Scope::kNone : WriteTaint::Scope::kKey;
  const SendResult result = link == nullptr ? SendResult::kDisconnected
                                            : link->sendOwned(bytes, db, protocol, replies, 0,
                                                              linkTaint(db, hashes, scope));
  if (counters == nullptr) return;
  if (result == SendResult::kSent) {
    bump(counters->effects_mirrored);
    return;
  }
  bump(result == SendResult::kQueueFull ? counters->dropped_queue_full : counters->dropped_disconnected);
  taintKeys(canary.id, scope, hashes, db);
}

void WorkerMirror::sendTransaction(SessionMirror& session, const Effect& effect, bool committed,
                                   const resp::Value* results) {
  if (!settings_) return;
  static constexpr std::string_view kMulti = "*1\r\n$5\r\nMULTI\r\n";
  static constexpr std::string_view kExec = "*1\r\n$4\r\nEXEC\r\n";
  const std::vector<MemberFate> fates = committed ? memberFates(effect, results) : std::vector<MemberFate>();
  for (const CanarySettings& canary : settings_->canaries) {
    CanaryCounters* counters = this->counters(canary.id);
    std::vector<const HeldCommand*> members;
    for (size_t i = 0; i < effect.held.size(); ++i) {
      const HeldCommand& held = effect.held[i];
      if (std::find(held.canaries.begin(), held.canaries.end(), canary.id) == held.canaries.end()) continue;
      if (committed && fates[i] != MemberFate::kSend && counters != nullptr) {
        // Skipped by EXEC (NOPERM): it changed nothing. Failed for a user
        // other than `default`: what it may have written is tainted.
        bump(fates[i] == MemberFate::kSkipped ? counters->skipped_refused : counters->skipped_acl_user);
        if (fates[i] == MemberFate::kUnsure) taintHeld(canary.id, held, held.db);
        continue;
      }
      members.push_back(&held);
    }
    if (members.empty() || counters == nullptr) continue;
    if (!committed) {
      bump(counters->transactions_discarded);
      continue;
    }
    // One unit, built whole and queued whole or not at all: a link never
    // holds half a transaction, and nothing of another session interleaves.
    // A SELECT inside MULTI moves the members after it; the link is put back
    // in the database it believes it is in after EXEC.
    const uint32_t firstDb = members.front()->db;
    uint32_t db = firstDb;
    uint32_t replies = 2;
    std::string unit(kMulti);
    std::vector<uint64_t> hashes;
    WriteTaint::Scope scope = WriteTaint::Scope::kNone;
    for (const HeldCommand* held : members) {
      if (held->db != db) {
        unit += resp::encodeCommand({"SELECT", std::to_string(held->db)});
        db = held->db;
        ++replies;
      }
      if (held->rewriteArgs.empty()) {
        for (const net::Slice& slice : held->bytes) unit.append(slice.data(), slice.size());
      } else {
        std::vector<std::string_view> rebuilt(held->rewriteArgs.begin(), held->rewriteArgs.end());
        if (results != nullptr && held->replyIndex < results->elements.size() &&
            results->elements[held->replyIndex].type == '$' && held->idIndex < rebuilt.size()) {
          rebuilt[held->idIndex] = results->elements[held->replyIndex].text;
        }
        unit += resp::encodeCommand(rebuilt);
      }
      ++replies;
      hashes.insert(hashes.end(), held->keyHashes.begin(), held->keyHashes.end());
      scope = std::max(scope, held->taintScope);
    }
    unit += kExec;
    if (db != firstDb) {
      unit += resp::encodeCommand({"SELECT", std::to_string(firstDb)});
      ++replies;
      scope = WriteTaint::Scope::kAll;  // lost with the link: which database is unknown
    }
    CanaryOutbox* link = linkFor(canary, session);
    const SendResult result =
        link == nullptr ? SendResult::kDisconnected
                        : link->sendOwned(unit, firstDb, effect.protocol, replies, 0, linkTaint(firstDb, hashes, scope),
                                          true);
    if (result != SendResult::kSent) {
      bump(result == SendResult::kQueueFull ? counters->dropped_queue_full : counters->dropped_disconnected);
      for (const HeldCommand* held : members) taintHeld(canary.id, *held, held->db);
      continue;
    }
    bump(counters->transactions_mirrored);
    net::bump(counters->mirrored, members.size());
    for (const HeldCommand* held : members) {
      repaired(canary.id, held->db, held->keyHashes, held->overwrites, held->taintScope);
    }
  }
}

std::vector<WorkerMirror::MemberFate> WorkerMirror::memberFates(const Effect& effect, const resp::Value* results) {
  std::vector<MemberFate> fates(effect.held.size(), MemberFate::kSend);
  for (size_t i = 0; i < effect.held.size(); ++i) {
    const size_t index = effect.held[i].replyIndex;
    const resp::Value* answer =
        results != nullptr && results->isAggregate() && index < results->elements.size() ? &results->elements[index]
                                                                                          : nullptr;
    if (answer == nullptr) {
      // Not read (too large to parse): a `default` user's members ran as
      // queued; another user's cannot be told apart.
      if (!effect.defaultUser) fates[i] = MemberFate::kUnsure;
    } else if (answer->isError()) {
      // Redis checks a member's ACL again at EXEC and skips it with NOPERM.
      if (answer->text.starts_with("NOPERM")) {
        fates[i] = MemberFate::kSkipped;
      } else if (!effect.defaultUser) {
        fates[i] = MemberFate::kUnsure;
      }
    }
  }
  return fates;
}

void WorkerMirror::sendToEffectCanaries(const SessionMirror& session, const Effect& effect,
                                        const std::vector<std::string_view>& command) {
  const std::string encoded = resp::encodeCommand(command);
  const std::vector<std::string_view> keys{effect.args.size() > 1 ? std::string_view(effect.args[1])
                                                                  : std::string_view()};
  for (uint64_t id : effect.canaries) {
    if (const CanarySettings* canary = this->canary(id)) {
      sendOwned(*canary, session, encoded, effect.db, effect.protocol, 1, keys);
    }
  }
}

bool WorkerMirror::runEffect(SessionMirror& session, Effect& effect) {
  // The script, or the guarded write, is the first of effect.after.
  if (!settings_ || effect.kind == Effect::Kind::kScript || effect.kind == Effect::Kind::kGuard ||
      effect.kind == Effect::Kind::kState) {
    return false;
  }
  const EffectReply& reply = effect.reply;
  if (reply.error) return effect.kind == Effect::Kind::kExec;  // EXECABORT
  const MirrorSettings& settings = *settings_;
  if (effect.kind == Effect::Kind::kExec) {
    sendTransaction(session, effect, reply.committed, reply.parsed ? &reply.value : nullptr);
    return !reply.committed;
  }

  if (!reply.parsed || reply.value.isNull) return false;  // nothing popped (timed out), or too large to rebuild
  EffectCommand built;
  if (!buildEffectCommand(effect.kind, effect.args, effect.idIndex, reply.value, built)) return false;
  const std::vector<std::string_view>& command = built.command;
  const std::vector<std::string_view>& keys = built.keys;
  if (effect.kind == Effect::Kind::kXadd || effect.kind == Effect::Kind::kClaim || effect.kind == Effect::Kind::kSpop) {
    // To the canaries that sampled the command's key when it was sent.
    sendToEffectCanaries(session, effect, command);
    return false;
  }
  const std::string encoded = resp::encodeCommand(command);
  for (const CanarySettings& canary : settings.canaries) {
    if (canary.percentHundredths == 0) continue;
    bool any = false;
    bool shed = false;
    const uint32_t threshold = SlotSampler::threshold(canary.percentHundredths);
    const uint32_t effective = effectiveThreshold(canary.percentHundredths, *canary.counters);
    for (std::string_view key : keys) {
      const uint32_t rank = settings.sampler->rank(keySlot(key));
      any = any || rank < effective;
      shed = shed || (rank >= effective && rank < threshold);
    }
    if (shed) {
      // A key of a shed slot: not mirrored, and stale on the canary from now on.
      bump(canary.counters->perWorker[workerIndex_].dropped_shed);
      taintNamedKeys(canary.id, keys, effect.db);
      continue;
    }
    if (any) sendOwned(canary, session, encoded, effect.db, effect.protocol, 1, keys);
  }
  return false;
}

}  // namespace redmirror::mirror
