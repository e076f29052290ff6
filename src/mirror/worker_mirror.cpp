// WorkerMirror: settings, the session hooks, sampling of each command.
#include "worker_mirror_internal.h"

namespace redmirror::mirror {

using namespace detail;  // NOLINT(google-build-using-namespace): this class's own helpers

WorkerMirror::WorkerMirror(uv_loop_t* loop, net::ChunkPool& pool, net::FlushScheduler& scheduler,
                           size_t workerIndex)
    : loop_(loop),
      pool_(pool),
      scheduler_(scheduler),
      workerIndex_(workerIndex),
      batcher_(loop),
      randomState_(0x9E3779B97F4A7C15ULL ^
                   (static_cast<uint64_t>(
                        std::chrono::steady_clock::now().time_since_epoch().count()) +
                    workerIndex)) {
  // Pops held for a move that may have fed them run when the wait is over,
  // even if the loop has nothing else to do by then.
  batcher_.setWakeHandler([this] {
    sealTurn();
    onTurnEnd();
  });
}

WorkerMirror::~WorkerMirror() = default;

void WorkerMirror::initWake() {
  if (wakeReady_ || wakeClosed_) return;
  uv_async_init(loop_, &wake_, &WorkerMirror::onWake);
  wake_.data = this;
  wakeReady_ = true;
}

void WorkerMirror::onWake(uv_async_t* handle) {
  auto* self = static_cast<WorkerMirror*>(handle->data);
  self->newEvent();
  self->takeMessages();
  // Batches handed over are written by this turn's end (the check phase follows).
}

void WorkerMirror::takeMessages() {
  for (auto& [id, runtime] : runtimes_) {
    if (runtime.hub == nullptr) continue;
    messages_.clear();
    runtime.hub->takeMessages(workerIndex_, messages_);
    for (LinkMessage& message : messages_) {
      if (message.lost) {
        if (message.retry != 0) dropRetry(message.retry);
        if (message.comparison != 0) onCanaryLost(message.comparison);
        continue;
      }
      if (message.retry != 0 && onScriptReply(message.retry, message.noscript, message.comparison)) continue;
      if (message.comparison != 0) onCanaryReply(message.comparison, message.reply, message.isError, message.sentUs);
    }
  }
  messages_.clear();
}

void WorkerMirror::writeHandedOver() {
  for (auto& [id, runtime] : runtimes_) {
    if (!runtime.link) continue;
    batches_.clear();
    runtime.hub->takeBatches(batches_);
    for (HandoffBatch& batch : batches_) runtime.link->write(batch);
  }
  batches_.clear();
}

uint64_t WorkerMirror::random() {
  // xorshift64*: sampling of keyless commands needs speed, not quality.
  randomState_ ^= randomState_ >> 12;
  randomState_ ^= randomState_ << 25;
  randomState_ ^= randomState_ >> 27;
  return randomState_ * 2685821657736338717ULL;
}

void WorkerMirror::apply(std::shared_ptr<const MirrorSettings> settings) {
  initWake();
  settings_ = std::move(settings);
  if (settings_ && settings_->guards && !guardQueue_) {
    guardQueue_ = std::make_shared<GuardQueue>(settings_->guards, workerIndex_);
  }
  if (settings_) batcher_.configure(settings_->linkBatchDelayUs, settings_->linkBatchBytes);
  active_ = settings_ && settings_->anyActive() && settings_->commands && settings_->sampler;
  heldBudget_ = 0;
  if (settings_) {
    for (const CanarySettings& canary : settings_->canaries) {
      heldBudget_ = std::max<uint64_t>(heldBudget_, canary.queueBudgetBytes / std::max<size_t>(1, settings_->workers));
    }
  }
  std::unordered_map<uint64_t, CanaryRuntime> next;
  lastRuntime_ = nullptr;  // the runtimes move
  if (settings_) {
    for (const CanarySettings& canary : settings_->canaries) {
      auto existing = runtimes_.find(canary.id);
      if (existing != runtimes_.end()) {
        next.emplace(canary.id, std::move(existing->second));
        runtimes_.erase(existing);
        continue;
      }
      CanaryRuntime runtime;
      runtime.id = canary.id;
      runtime.set = canary.counters;
      runtime.hub = &canary.counters->hub;
      runtime.written = &canary.counters->written;
      runtime.outbox = std::make_unique<CanaryOutbox>(*runtime.hub, static_cast<uint32_t>(workerIndex_),
                                                      canary.queueBudgetBytes);
      runtime.hub->attach(workerIndex_, wakeReady_ ? &wake_ : nullptr);
      if (runtime.hub->home() == workerIndex_) {
        runtime.link = std::make_unique<CanaryLink>(*this, canary.id, canary.counters);
      }
      next.emplace(canary.id, std::move(runtime));
    }
  }
  for (auto& [id, runtime] : runtimes_) {
    if (runtime.hub != nullptr) runtime.hub->detach(workerIndex_);
    if (runtime.link) {
      runtime.link->shutdown();
      retiring_.push_back(std::move(runtime.link));
    }
  }
  runtimes_ = std::move(next);
  lastRuntime_ = nullptr;
}

const CanarySettings* WorkerMirror::canary(uint64_t id) const {
  if (!settings_) return nullptr;
  for (const CanarySettings& canary : settings_->canaries) {
    if (canary.id == id) return &canary;
  }
  return nullptr;
}

CanaryCounters* WorkerMirror::counters(uint64_t id) {
  const CanarySettings* settings = canary(id);
  if (settings == nullptr || !settings->counters) return nullptr;
  return &settings->counters->perWorker[workerIndex_];
}

CanaryOutbox* WorkerMirror::linkFor(const CanarySettings& canary, const SessionMirror& /*session*/) {
  CanaryRuntime* runtime = runtimeOf(canary.id);
  return runtime == nullptr ? nullptr : runtime->outbox.get();
}

WorkerMirror::CanaryRuntime* WorkerMirror::runtimeOf(uint64_t canaryId) {
  // Each comparison asks several times for the same canary's runtime.
  if (lastRuntime_ != nullptr && lastRuntime_->id == canaryId) return lastRuntime_;
  auto found = runtimes_.find(canaryId);
  if (found == runtimes_.end()) return nullptr;
  lastRuntime_ = &found->second;
  return lastRuntime_;
}

inline bool WorkerMirror::unsampledSingleKey(const CommandInfo& info, const SessionMirror& session,
                                             const resp::CommandFrame& frame, const net::StreamWindow& window,
                                             int& slot) const {
  if (!info.singleKey || session.state.inMulti() || frame.isInline || frame.args.size() < 2) return false;
  std::string_view key;
  if (!argInPlace(frame, window, 1, key)) return false;  // a split key: the full path copies it
  slot = keySlot(key);
  for (const CanarySettings& canary : settings_->canaries) {
    if (canary.percentHundredths > 0 && settings_->sampler->sampled(slot, canary.percentHundredths)) return false;
  }
  return true;
}

void WorkerMirror::onMirroredCommand(SessionMirror& session, const resp::CommandFrame& frame,
                                     MirrorMarks* pending, const net::StreamWindow& window) {
  // Unknown to the primary's table: the primary refuses it, the canary need not see it.
  const CommandInfo* info = settings_->commands->find(frame.captured[0]);
  // Most commands: one key, unsampled by every canary at low percentages.
  // Nothing else of the work below applies to them (no counter, no state), and
  // they leave before the full path's frame is set up.
  int slot = -1;
  if (info != nullptr && unsampledSingleKey(*info, session, frame, window, slot)) return;
  mirrorCommand(session, frame, info, pending, window, slot);
}

uint32_t WorkerMirror::startComparison(SessionMirror& session, const CanarySettings& canary, CanaryCounters& counters,
                                       const resp::CommandFrame& frame, const CommandInfo& info,
                                       const net::StreamWindow& window, MirrorMarks& pending) {
  const uint32_t db = session.state.db();
  const uint32_t comparison = newComparison(canary.id);
  Comparison& record = comparisons_[comparison];
  record.command.assign(frame.captured[0].view());
  record.rules = info.compareRules;
  record.rules.ttlToleranceMs = settings_->ttlToleranceMs;
  record.keyHash = keyHashes_.empty() ? 0 : keyHashes_.front();
  record.db = db;
  if (const TaintedKeys& tainted = canary.counters->tainted; !tainted.empty()) {
    for (uint64_t hash : keyHashes_) record.tainted = record.tainted || tainted.tainted(db, hash);
  }
  record.startedUs = eventNowUs();
  if (frame.isInline) {
    std::vector<std::string_view> inlineArgs(frame.inlineArgs.begin(), frame.inlineArgs.end());
    record.request = resp::encodeCommand(inlineArgs);
  } else {
    window.copy(frame.begin, std::min<uint64_t>(frame.end, frame.begin + kSampleRequestBytes), record.request);
  }
  if (!charge(record, kComparisonCost + record.request.size())) {
    // Replies kept for this canary already fill its budget: mirror, do not compare.
    bump(counters.dropped_queue_full);
    record.lost = true;
    release(comparison);  // the session side
    release(comparison);  // the link side
    return 0;
  }
  record.next = pending.comparison;
  if (pending.comparison == 0) ++session.outstanding;
  pending.comparison = comparison;
  return comparison;
}

void WorkerMirror::mirrorCommand(SessionMirror& session, const resp::CommandFrame& frame,
                                 const CommandInfo* info, MirrorMarks* pending,
                                 const net::StreamWindow& window, int singleKeySlot) {
  FrameArgs args(frame, window, scratch_);
  if (!followCommand(session, frame, args, pending, true) || info == nullptr) return;
  const MirrorSettings& settings = *settings_;
  const SessionState& state = session.state;
  const bool inMulti = state.inMulti();
  const uint32_t db = state.db();
  // Where the command runs: a transaction member in the transaction's database.
  const uint32_t runDb = inMulti ? state.transactionDb() : db;
  const int protocol = state.protocol();
  const Special special = info->special;

  const bool broadcast = isScriptBroadcast(special, frame);
  // SCRIPT KILL / FUNCTION KILL act on what runs now on the primary (a killed
  // script never reaches the canary), FUNCTION STATS reports it: not mirrored.
  const bool scriptState = (special == Special::kScript || special == Special::kFunction) &&
                           (frame.captured[1].is("kill") || frame.captured[1].is("stats"));
  if ((info->policy == Policy::kNever && !broadcast) || scriptState) {
    for (const CanarySettings& canary : settings.canaries) {
      if (canary.percentHundredths > 0) bump(canary.counters->perWorker[workerIndex_].skipped_policy);
    }
    return;
  }
  if (!state.placementKnown() || state.placementPending() > session.barriers) {
    // Its database or transaction hangs on a reply the mirror cannot wait for.
    skipUnplaced(session, frame, *info, args);
    return;
  }
  if (holdBlockingPop(session, frame, *info, args, pending)) return;

  // Slots of the keys, computed once for every canary; their hashes (for the
  // written-keys filter) only once some canary samples the command.
  keySlots_.clear();
  keyHashes_.clear();
  if (!broadcast && !info->wholeKeyspace && singleKeySlot >= 0 && info->acceptsArgc(frame.argc)) {
    // The fast path found the one key (argument 1) and its slot already.
    keyPositions_.assign(1, 1);
    keySlots_.push_back(static_cast<uint16_t>(singleKeySlot));
  } else if (!broadcast && !info->wholeKeyspace) {
    keyPositions_.clear();
    // Malformed arguments: the primary refuses it (inside MULTI, EXEC then aborts).
    if (!findKeys(*info, args, keyPositions_)) return;
    for (uint32_t position : keyPositions_) {
      std::string_view key;
      if (!args.arg(position, key)) {
        // A key past the argument positions the framer keeps (kMaxArgRefs):
        // cannot be sampled, so it is counted rather than silently skipped.
        for (const CanarySettings& canary : settings.canaries) {
          if (canary.percentHundredths == 0) continue;
          bump(canary.counters->perWorker[workerIndex_].dropped_oversize);
          if (info->isWrite()) taintKeys(canary.id, WriteTaint::Scope::kDb, {}, runDb);
        }
        if (inMulti) session.state.loseTransaction();
        return;
      }
      keySlots_.push_back(keySlot(key));
    }
  }
  bool keysHashed = false;

  // Commands whose effect is only known from the primary's reply.
  const size_t xaddId = special == Special::kXadd ? xaddIdPosition(args) : 0;
  const bool isXadd = xaddId != 0 && !inMulti && pending != nullptr;
  const bool isSpop = special == Special::kSpop && !inMulti && pending != nullptr;
  const bool isClaim = special == Special::kClaim && !inMulti && pending != nullptr;
  const bool libraryLoad = special == Special::kFunction &&
                           (frame.captured[1].is("load") || frame.captured[1].is("restore"));
  const bool scriptCall = special == Special::kEval || special == Special::kEvalsha || special == Special::kFcall;
  const bool isScript = (scriptCall || libraryLoad) && !inMulti && pending != nullptr;
  const bool comparable = !inMulti && pending != nullptr && info->policy != Policy::kNever;
  const bool write = info->isWrite() || broadcast;
  // Sent as it is, now: a canary that cannot take it drops it before any
  // other work is done for it (key hashes, comparison).
  const bool plain = !isScript && !isSpop && !isXadd && !isClaim && !inMulti && !scriptCall;
  // A write reaches a canary only once the primary ran it (Effect::kGuard):
  // reads go ahead, they change nothing. SCRIPT LOAD and FLUSH too.
  const bool guarded = write && plain && pending != nullptr;
  // Its answer will not be seen (CLIENT REPLY OFF/SKIP): whether the primary
  // ran it is unknown.
  const bool unconfirmable = pending == nullptr && ((write && plain) || (scriptCall && !inMulti));
  // What the write taints if it is lost, and whether it repairs its keys.
  taintScope_ = WriteTaint::Scope::kNone;
  overwrites_ = false;
  // Scripts and functions that may write (COMMAND does not flag them as
  // writes; the _ro forms cannot) taint what they name if they are lost.
  const bool scriptMayWrite = scriptCall && !frame.captured[0].view().ends_with("_ro");
  if ((write || scriptMayWrite) && !(broadcast && !libraryLoad)) {
    if (info->wholeKeyspace) {
      taintScope_ = info->name == "flushdb" ? WriteTaint::Scope::kDb : WriteTaint::Scope::kAll;
      overwrites_ = info->name != "swapdb";  // FLUSHDB, FLUSHALL: nothing stale is left
    } else if (keySlots_.empty()) {
      // Keyless writes, scripts that name no key: whatever they touch, in the session's database.
      taintScope_ = WriteTaint::Scope::kDb;
    } else {
      taintScope_ = WriteTaint::Scope::kKey;
      if (info->overwrites) {
        std::string_view option;  // SET's: only SET k v [EX|PX|EXAT|PXAT n] replaces k whole
        if (frame.argc == 5) args.arg(3, option);
        overwrites_ = info->overwritesKeys(frame.argc, option);
      }
    }
  }
  const bool taints = taintScope_ != WriteTaint::Scope::kNone;
  const auto hashKeys = [&] {
    if (keysHashed) return;
    keysHashed = true;
    for (size_t i = 0; i < keySlots_.size(); ++i) {
      std::string_view key;
      if (args.arg(keyPositions_[i], key)) keyHashes_.push_back(diff::WrittenKeys::hash(key));
    }
  };
  HeldCommand* held = nullptr;      // the transaction member, once built
  HeldCommand* deferred = nullptr;  // held behind an effect, once built
  Effect* effect = nullptr;
  for (const CanarySettings& canary : settings.canaries) {
    if (canary.percentHundredths == 0) continue;
    CanaryCounters& counters = canary.counters->perWorker[workerIndex_];
    bool any = false;
    bool all = true;
    bool shed = false;  // a write to a slot of the share that is shed now
    if (broadcast || info->wholeKeyspace) {
      any = true;
    } else if (keySlots_.empty()) {
      any = random() % 10000 < effectiveHundredths(canary.percentHundredths, *canary.counters);
      all = any;
    } else {
      const uint32_t threshold = SlotSampler::threshold(canary.percentHundredths);
      const uint32_t effective = effectiveThreshold(canary.percentHundredths, *canary.counters);
      for (uint16_t slot : keySlots_) {
        const uint32_t rank = settings.sampler->rank(slot);
        const bool sampled = rank < effective;
        any = any || sampled;
        all = all && sampled;
        shed = shed || (rank >= effective && rank < threshold);
      }
    }
    if (shed && taints) {
      // Not mirrored while its slot is shed: its keys go stale on the canary.
      bump(counters.dropped_shed);
      hashKeys();
      taintCurrent(canary.id, runDb);
      if (inMulti) session.state.loseTransaction();  // not sent in part
      continue;
    }
    if (!(write ? any : all)) {
      if (any && !write) bump(counters.skipped_unsampled_keys);
      if (any && taints) {
        // A script whose keys are only partly sampled is not mirrored: the
        // sampled ones it may write go stale on the canary.
        hashKeys();
        taintCurrent(canary.id, runDb);
      }
      continue;
    }
    if (plain && session.effects.empty() && !linkTakes(canary, session, frame, counters)) {
      if (taints) {
        hashKeys();
        taintCurrent(canary.id, db);
      }
      continue;
    }
    hashKeys();
    if (inMulti && state.transactionUnknown()) {
      // A transaction that cannot be sent whole is not sent: its writes taint their keys.
      if (taints) {
        bump(counters.dropped_unconfirmed);
        taintCurrent(canary.id, runDb);
      }
      continue;
    }
    if (unconfirmable) {
      bump(counters.dropped_unconfirmed);
      taintCurrent(canary.id, db);
      continue;
    }
    if ((isScript || guarded) && effect == nullptr) {
      // The command itself is held behind this effect (dispatch sees it pending).
      session.effects.emplace_back();
      effect = &session.effects.back();
      effect->kind = isScript ? Effect::Kind::kScript : Effect::Kind::kGuard;
      effect->dropIfRefused = libraryLoad || guarded;
      effect->defaultUser = !isScript || state.defaultUser();  // only a script's failure depends on it
      effect->db = db;
      effect->protocol = protocol;
      if (guarded && guardQueue_) effect->guard = PendingGuard(guardQueue_, eventNowUs(), keyHashes_);
      pending->effect = true;
    }

    if (isSpop || isXadd || isClaim) {
      if (effect == nullptr) {
        session.effects.emplace_back();
        effect = &session.effects.back();
        effect->kind = isSpop ? Effect::Kind::kSpop : isXadd ? Effect::Kind::kXadd : Effect::Kind::kClaim;
        for (uint32_t i = 0; i < frame.argc; ++i) {
          std::string_view arg;
          if (!args.arg(i, arg)) break;
          effect->args.emplace_back(arg);
        }
        effect->idIndex = xaddId;
        effect->db = db;
        effect->protocol = protocol;
        pending->effect = true;
      }
      effect->canaries.push_back(canary.id);
      if (CanaryRuntime* runtime = runtimeOf(canary.id)) {
        for (uint64_t hash : keyHashes_) runtime->written->insert(hash);
      }
      continue;
    }
    if (inMulti) {
      if (!holdMember(session, canary, counters, frame, window, args, xaddId, held)) return;
      continue;
    }
    if (special == Special::kEval || special == Special::kEvalsha || special == Special::kScript) {
      prepareScripts(canary, session, frame, special, args, protocol);
    }
    if (!plain && session.effects.empty() && !linkTakes(canary, session, frame, counters)) continue;
    const uint32_t comparison =
        comparable && all ? startComparison(session, canary, counters, frame, *info, window, *pending) : 0;
    const uint32_t retry = special == Special::kEvalsha ? scriptRetry(canary, session, frame, args, protocol) : 0;
    dispatch(canary, session, window, frame, protocol, write, comparison, retry, deferred);
  }
}

void WorkerMirror::sweep(uint64_t now) {
  for (auto& [id, runtime] : runtimes_) {
    if (!runtime.link) continue;
    runtime.link->sweep(now);
    if (const CanarySettings* canary = this->canary(id)) shedSlots(*canary, runtime, now);
  }
  for (auto& link : retiring_) link->sweep(now);
  std::erase_if(retiring_, [](const std::unique_ptr<CanaryLink>& link) { return link->fullyClosed(); });
  if (repair_) repair_->sweep(now);
}

void WorkerMirror::shutdown() {
  for (auto& [id, runtime] : runtimes_) {
    if (runtime.hub != nullptr) runtime.hub->detach(workerIndex_);
    if (runtime.link) {
      runtime.link->shutdown();
      retiring_.push_back(std::move(runtime.link));
    }
  }
  runtimes_.clear();
  lastRuntime_ = nullptr;
  if (repair_) repair_->shutdown();
  batcher_.close();
  if (wakeReady_ && !wakeClosed_) {
    wakeClosed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_),
             [](uv_handle_t* handle) { static_cast<WorkerMirror*>(handle->data)->wakeReady_ = false; });
  } else {
    wakeClosed_ = true;
  }
  std::erase_if(retiring_, [](const std::unique_ptr<CanaryLink>& link) { return link->fullyClosed(); });
}

bool WorkerMirror::idle() const {
  return runtimes_.empty() && retiring_.empty() && (!repair_ || repair_->fullyClosed()) &&
         batcher_.closed() && !wakeReady_;
}

}  // namespace redmirror::mirror
