// WorkerMirror: what a lost write taints, what repairs it, and shedding by slot.
#include "worker_mirror_internal.h"

namespace redmirror::mirror {

using namespace detail;  // NOLINT(google-build-using-namespace): this class's own helpers

void WorkerMirror::loseHeld(const HeldCommand& held, bool ran) {
  for (uint32_t comparison : held.comparisons) {
    if (comparison != 0) onCanaryLost(comparison);
  }
  for (uint32_t retry : held.retries) {
    if (retry != 0) dropRetry(retry);
  }
  if (ran) {
    for (uint64_t id : held.canaries) taintHeld(id, held, held.db);
  }
}

TaintedKeys* WorkerMirror::taintedOf(uint64_t canaryId) {
  const CanarySettings* settings = canary(canaryId);
  return settings != nullptr && settings->counters ? &settings->counters->tainted : nullptr;
}

void WorkerMirror::taint(uint64_t canaryId, const WriteTaint& taint) {
  if (TaintedKeys* tainted = taintedOf(canaryId)) {
    taint.applyTo(*tainted);
    if (CanaryCounters* c = counters(canaryId)) bump(c->keys_tainted);
  }
}

void WorkerMirror::taintKeys(uint64_t canaryId, WriteTaint::Scope scope, const std::vector<uint64_t>& keyHashes,
                             uint32_t db) {
  TaintedKeys* tainted = taintedOf(canaryId);
  if (tainted == nullptr || scope == WriteTaint::Scope::kNone) return;
  if (CanaryCounters* c = counters(canaryId)) bump(c->keys_tainted);
  if (scope != WriteTaint::Scope::kKey) {
    WriteTaint{scope, db, 0}.applyTo(*tainted);
    return;
  }
  for (uint64_t hash : keyHashes) tainted->taintKey(db, hash);
}

void WorkerMirror::taintNamedKeys(uint64_t canaryId, const std::vector<std::string_view>& keys, uint32_t db) {
  std::vector<uint64_t> hashes;
  for (std::string_view key : keys) hashes.push_back(diff::WrittenKeys::hash(key));
  if (!hashes.empty()) taintKeys(canaryId, WriteTaint::Scope::kKey, hashes, db);
}

void WorkerMirror::taintCurrent(uint64_t canaryId, uint32_t db) { taintKeys(canaryId, taintScope_, keyHashes_, db); }

void WorkerMirror::taintHeld(uint64_t canaryId, const HeldCommand& held, uint32_t db) {
  taintKeys(canaryId, held.taintScope, held.keyHashes, db);
}

WriteTaint WorkerMirror::linkTaint(uint32_t db, const std::vector<uint64_t>& keyHashes, WriteTaint::Scope scope) {
  if (scope == WriteTaint::Scope::kKey) {
    // One entry per command on the link: several keys stand as their database.
    return keyHashes.size() == 1 ? WriteTaint{scope, db, keyHashes.front()} : WriteTaint{WriteTaint::Scope::kDb, db, 0};
  }
  return WriteTaint{scope, db, 0};
}

void WorkerMirror::repaired(uint64_t canaryId, uint32_t db, const std::vector<uint64_t>& keyHashes,
                            bool overwrites, WriteTaint::Scope scope) {
  TaintedKeys* tainted = taintedOf(canaryId);
  if (tainted == nullptr || tainted->empty()) return;
  if (!overwrites) return;
  switch (scope) {
    case WriteTaint::Scope::kKey:
      for (uint64_t hash : keyHashes) tainted->clearKey(db, hash);
      break;
    case WriteTaint::Scope::kDb:  // FLUSHDB
      tainted->clearDb(db);
      break;
    case WriteTaint::Scope::kAll:  // FLUSHALL
      tainted->clearAll();
      break;
    case WriteTaint::Scope::kNone:
      break;
  }
}

void WorkerMirror::shedSlots(const CanarySettings& canary, CanaryRuntime& runtime, uint64_t nowMs) {
  CanaryCounterSet& set = *runtime.set;
  SlotShedder::Input input;
  input.nowMs = nowMs;
  input.thresholdSlots = SlotSampler::threshold(canary.percentHundredths);
  input.heldBytes = runtime.hub->held();
  input.budgetBytes = canary.queueBudgetBytes;
  for (const CanaryCounters& counters : set.perWorker) {
    input.drops += counters.dropped_queue_full.load(std::memory_order_relaxed);
  }
  const uint32_t before = set.shedSlots.load(std::memory_order_relaxed);
  const uint32_t after = runtime.shedder.update(input);
  if (after == before) return;
  set.shedSlots.store(after, std::memory_order_relaxed);
  spdlog::info("canary {}: effective share {:.2f}% of {:.2f}% ({} of {} slots shed; {} bytes queued, budget {})",
               canary.name, effectiveHundredths(canary.percentHundredths, set) / 100.0,
               canary.percentHundredths / 100.0, after, input.thresholdSlots, input.heldBytes, input.budgetBytes);
}

}  // namespace redmirror::mirror
