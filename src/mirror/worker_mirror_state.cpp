// WorkerMirror: the mirror's side of the session's state (SessionState):
// transactions at EXEC, barriers behind changes whose reply decides where later
// commands run, and what is lost when the primary refuses such a change.
#include "worker_mirror_internal.h"

namespace redmirror::mirror {

using namespace detail;  // NOLINT(google-build-using-namespace): this class's own helpers

void WorkerMirror::followState(SessionMirror& session, const resp::CommandFrame& frame, MirrorMarks* pending,
                               const net::StreamWindow& window) {
  FrameArgs args(frame, window, scratch_);
  followCommand(session, frame, args, pending, false);
}

bool WorkerMirror::followCommand(SessionMirror& session, const resp::CommandFrame& frame, ArgReader& args,
                                 MirrorMarks* pending, bool mirroring) {
  const SessionState::Step step = session.state.onCommand(frame, &args, pending != nullptr, mirroring);
  if (step.awaitsReply) pending->state = true;  // awaits only a reply that will be seen
  if (!step.stateOnly) return true;
  if (step.began || (step.ended && step.command != StateCommand::kExec)) session.transaction.clear();
  if (step.command == StateCommand::kExec && step.ended) {
    closeTransaction(session, step, pending, mirroring);
  } else if (step.placement && mirroring) {
    // Where the session's next commands run depends on this reply: they wait
    // behind it, and are lost if the primary refuses it.
    Effect barrier;
    barrier.kind = Effect::Kind::kState;
    barrier.barrier = true;
    barrier.db = session.state.db();
    barrier.protocol = session.state.protocol();
    barrier.transactionSerial = session.state.transactionSerial();
    session.effects.push_back(std::move(barrier));
    ++session.barriers;
    pending->effect = true;
  }
  return false;
}

void WorkerMirror::closeTransaction(SessionMirror& session, const SessionState::Step& step, MirrorMarks* pending,
                                    bool mirroring) {
  std::vector<HeldCommand> members = std::move(session.transaction);
  session.transaction.clear();
  if (!members.empty() && (step.transactionUnknown || pending == nullptr)) {
    // Begun unmirrored, short of a member, or answered unseen (CLIENT REPLY
    // OFF/SKIP): not sent, and the writes it kept taint their keys (the
    // primary may have run them).
    for (const HeldCommand& held : members) {
      for (uint64_t id : held.canaries) {
        if (CanaryCounters* c = counters(id)) bump(c->dropped_unconfirmed);
        taintHeld(id, held, held.db);
      }
    }
    members.clear();
  }
  const bool selects = step.transactionDb != step.dbBefore;
  if (pending == nullptr || (members.empty() && !(selects && mirroring))) return;
  // Sent once the primary committed it (Effect::kExec): EXEC may still be
  // refused (EXECABORT for OOM, MISCONF, BUSY, an ACL without EXEC) or answer
  // nil (WATCH), and members queued +QUEUED may be skipped (NOPERM).
  Effect effect;
  effect.kind = Effect::Kind::kExec;
  effect.dbBefore = step.dbBefore;
  effect.db = step.transactionDb;
  effect.protocol = session.state.protocol();
  effect.transactionSerial = step.serial;
  effect.defaultUser = session.state.defaultUser();
  if (guardQueue_) {
    // A pop that the transaction served waits for it, as for a guarded write.
    std::vector<uint64_t> hashes;
    for (const HeldCommand& held : members) hashes.insert(hashes.end(), held.keyHashes.begin(), held.keyHashes.end());
    if (!hashes.empty()) effect.guard = PendingGuard(guardQueue_, eventNowUs(), hashes);
  }
  effect.held = std::move(members);
  if (selects) {
    // Commands framed after it run in the database its SELECT chose if it
    // commits; they wait for it (sendHeld puts them back if it does not).
    effect.barrier = true;
    ++session.barriers;
  }
  session.effects.push_back(std::move(effect));
  pending->effect = true;
}

void WorkerMirror::confirmState(SessionMirror& session, const MirrorMarks& pending, const resp::ReplyFrame& reply) {
  const bool ok = !reply.isError() && !reply.top.isNull;
  const SessionState::Outcome outcome = session.state.onReply(ok);
  // A refused EXEC is undone exactly by sendHeld (HeldCommand::dbFromTransaction).
  if (outcome.refused && outcome.placement && outcome.command != StateCommand::kExec) {
    loseAfterRefusal(session, pending.effect, outcome);
  }
}

void WorkerMirror::loseAfterRefusal(SessionMirror& session, bool hasBarrier, const SessionState::Outcome& outcome) {
  // The barrier is this reply's effect: the first not answered yet. Every
  // effect after it was framed after it, and none is answered yet.
  auto barrier = hasBarrier ? std::find_if(session.effects.begin(), session.effects.end(),
                                           [](const Effect& effect) { return !effect.ready; })
                            : session.effects.end();
  if (barrier != session.effects.end() && barrier->kind == Effect::Kind::kState) {
    barrier->staleHeld = barrier->after.size();
    barrier->staleDb = outcome.dbBefore;
    for (auto later = std::next(barrier); later != session.effects.end(); ++later) {
      later->stale = true;
      later->staleHeld = later->after.size();
      later->staleDb = outcome.dbBefore;
    }
  }
  // The transaction open now was begun on the refused guess, or is the refused
  // MULTI's (whose members ran as plain commands): what it kept is lost.
  for (const HeldCommand& held : session.transaction) loseUnplaced(held, outcome.dbBefore);
  session.transaction.clear();
  session.state.loseTransaction();
}

void WorkerMirror::loseUnplaced(const HeldCommand& held, uint32_t realDb) {
  loseHeld(held, true);
  for (uint64_t id : held.canaries) {
    if (CanaryCounters* c = counters(id)) bump(c->dropped_unconfirmed);
    if (realDb != held.db) taintHeld(id, held, realDb);
  }
}

void WorkerMirror::loseStaleEffect(Effect& effect) {
  std::vector<std::string_view> keys;
  switch (effect.kind) {
    case Effect::Kind::kExec:
      for (const HeldCommand& held : effect.held) loseUnplaced(held, effect.staleDb);
      return;
    case Effect::Kind::kSpop:
    case Effect::Kind::kXadd:
    case Effect::Kind::kClaim:
      if (effect.args.size() > 1) keys.emplace_back(effect.args[1]);
      break;
    case Effect::Kind::kBlockingPop:
      if (effect.reply.error) return;  // nothing popped
      for (uint32_t position : effect.keys) {
        if (position < effect.args.size()) keys.emplace_back(effect.args[position]);
      }
      if (settings_) {
        for (const CanarySettings& canary : settings_->canaries) {
          if (canary.percentHundredths > 0) effect.canaries.push_back(canary.id);
        }
      }
      break;
    case Effect::Kind::kGuard:
    case Effect::Kind::kScript:
    case Effect::Kind::kState:
      return;  // the command is the first held behind it (lost with staleHeld), or there is none
  }
  for (uint64_t id : effect.canaries) {
    if (CanaryCounters* c = counters(id)) bump(c->dropped_unconfirmed);
    taintNamedKeys(id, keys, effect.db);
    if (effect.staleDb != effect.db) taintNamedKeys(id, keys, effect.staleDb);
  }
}

void WorkerMirror::skipUnplaced(SessionMirror& session, const resp::CommandFrame& frame, const CommandInfo& info,
                                ArgReader& args) {
  const SessionState& state = session.state;
  const Special special = info.special;
  const bool mayWrite = info.isWrite() || info.isBlocking() || isScriptBroadcast(special, frame) ||
                        ((special == Special::kEval || special == Special::kEvalsha || special == Special::kFcall) &&
                         !frame.captured[0].view().ends_with("_ro"));
  WriteTaint::Scope scope = WriteTaint::Scope::kNone;
  std::vector<uint64_t> hashes;
  if (mayWrite) {
    keyPositions_.clear();
    if (state.unknown() || (info.wholeKeyspace && info.name != "flushdb")) {
      scope = WriteTaint::Scope::kAll;
    } else if (info.wholeKeyspace || !findKeys(info, args, keyPositions_) || keyPositions_.empty()) {
      scope = WriteTaint::Scope::kDb;
    } else {
      scope = WriteTaint::Scope::kKey;
      for (uint32_t position : keyPositions_) {
        std::string_view key;
        if (!args.arg(position, key)) {
          scope = WriteTaint::Scope::kDb;
          break;
        }
        hashes.push_back(diff::WrittenKeys::hash(key));
      }
    }
  }
  // Wherever the session may be: the candidates, or (a change whose reply has
  // not come, sent before the session was mirrored) before and after it.
  std::vector<uint32_t> dbs = state.dbCandidates();
  if (dbs.empty()) dbs = {state.confirmed().db, state.db()};
  std::sort(dbs.begin(), dbs.end());
  dbs.erase(std::unique(dbs.begin(), dbs.end()), dbs.end());
  if (scope == WriteTaint::Scope::kAll) dbs.resize(1);
  for (const CanarySettings& canary : settings_->canaries) {
    if (canary.percentHundredths == 0) continue;
    bump(canary.counters->perWorker[workerIndex_].dropped_unconfirmed);
    if (scope == WriteTaint::Scope::kNone) continue;
    for (uint32_t db : dbs) taintKeys(canary.id, scope, hashes, db);
  }
}

}  // namespace redmirror::mirror
