// WorkerMirror: comparison slots, resolving a comparison, read repair, divergence samples.
#include "worker_mirror_internal.h"

namespace redmirror::mirror {

using namespace detail;  // NOLINT(google-build-using-namespace): this class's own helpers

namespace {
// The cumulative view of one comparison (metrics): its outcome and both sides' latencies.
void countComparison(CanaryCounters& counters, diff::Outcome outcome, uint64_t primaryUs, uint64_t canaryUs) {
  bump(counters.outcomes[static_cast<size_t>(outcome)]);
  counters.primaryLatency.record(primaryUs);
  counters.canaryLatency.record(canaryUs);
}

// Empties a slot's string but keeps a small buffer for the next comparison.
void clearKeepingSmall(std::string& text) {
  text.clear();
  if (text.capacity() > 256) text.shrink_to_fit();
}
}  // namespace

void WorkerMirror::Comparison::reset() {
  // Field by field: a slot is reused for every sampled command, and rebuilding
  // it whole would free and reallocate its four strings each time.
  next = 0;
  refs = 0;
  hasPrimary = hasCanary = lost = primaryError = canaryError = refused = tainted = false;
  canaryId = keyHash = 0;
  db = 0;
  startedUs = primaryUs = canaryUs = 0;
  command.clear();
  clearKeepingSmall(request);
  rules = diff::CompareRules{};
  clearKeepingSmall(primary);
  clearKeepingSmall(canary);
  charged = 0;
}

uint32_t WorkerMirror::newComparison(uint64_t canaryId) {
  uint32_t id;
  if (!freeComparisons_.empty()) {
    id = freeComparisons_.back();
    freeComparisons_.pop_back();
  } else {
    id = static_cast<uint32_t>(comparisons_.size());
    comparisons_.emplace_back();
  }
  Comparison& comparison = comparisons_[id];  // fresh: reset when released
  comparison.refs = 2;
  comparison.canaryId = canaryId;
  return id;
}

void WorkerMirror::release(uint32_t id) {
  Comparison& comparison = comparisons_[id];
  if (--comparison.refs > 0) return;
  resolve(id);
  if (comparison.charged != 0) {
    if (CanaryRuntime* runtime = runtimeOf(comparison.canaryId)) {
      runtime->comparisonBytes -= std::min(runtime->comparisonBytes, comparison.charged);
    }
  }
  comparison.reset();
  freeComparisons_.push_back(id);
}

void WorkerMirror::resolve(uint32_t id) {
  Comparison& comparison = comparisons_[id];
  if (comparison.lost || !comparison.hasPrimary || !comparison.hasCanary) return;
  const CanarySettings* settings = canary(comparison.canaryId);
  if (settings == nullptr || !settings->counters) return;
  CanaryCounters& counters = settings->counters->perWorker[workerIndex_];
  if (comparison.refused) {
    bump(counters.skipped_refused);
    return;
  }
  if (const TaintedKeys& tainted = settings->counters->tainted; !tainted.empty()) {
    // A key whose mirrored history has a gap (keyless reads: any gap) says
    // nothing about the canary; with --warm-canary it is repaired.
    if (comparison.tainted || comparison.keyHash == 0 || tainted.tainted(comparison.db, comparison.keyHash)) {
      bump(counters.skipped_tainted);
      if (settings_->warmCanary && comparison.keyHash != 0 && !tainted.dbTainted(comparison.db)) {
        warm(comparison, true);
      }
      return;
    }
  }
  if (comparison.primary == comparison.canary) {
    // Identical bytes are equal under every normalisation: no parsing (the common case).
    bump(counters.compared);
    bump(counters.matched);
    if (comparison.primaryError) bump(counters.primary_errors);
    countComparison(counters, diff::Outcome::kMatch, comparison.primaryUs, comparison.canaryUs);
    settings->counters->reports[workerIndex_].recordComparison(comparison.command, diff::Comparison{},
                                                               comparison.primaryUs, comparison.canaryUs,
                                                               comparison.primaryError, comparison.canaryError);
    return;
  }
  resp::Value primary;
  resp::Value canary;
  std::string error;
  if (!resp::parseValue(comparison.primary, primary, error, kMaxComparedValues) ||
      !resp::parseValue(comparison.canary, canary, error, kMaxComparedValues)) {
    // Too many elements to build both trees within the memory bound: not compared, counted.
    // Otherwise the framers accepted both; a parse failure would be our bug, not a divergence.
    if (error == resp::kTooManyValues) bump(counters.skipped_too_large);
    return;
  }
  comparison.rules.command = comparison.command;
  CanaryRuntime* runtime = runtimeOf(comparison.canaryId);
  comparison.rules.keyWrittenByMirror =
      comparison.keyHash != 0 && runtime != nullptr && runtime->written->mayContain(comparison.keyHash);
  const diff::Comparison result = diff::compare(comparison.rules, primary, canary);
  bump(counters.compared);
  if (result.outcome == diff::Outcome::kMatch) {
    bump(counters.matched);
  } else if (result.outcome != diff::Outcome::kColdMiss) {
    bump(counters.diverged);
  }
  if (comparison.primaryError) bump(counters.primary_errors);
  countComparison(counters, result.outcome, comparison.primaryUs, comparison.canaryUs);
  settings->counters->reports[workerIndex_].recordComparison(comparison.command, result, comparison.primaryUs,
                                                             comparison.canaryUs, comparison.primaryError,
                                                             comparison.canaryError);
  if (result.outcome != diff::Outcome::kMatch && result.outcome != diff::Outcome::kColdMiss) {
    recordSample(comparison, result, primary, canary);
  }
  if (result.outcome == diff::Outcome::kColdMiss && settings_->warmCanary) warm(comparison, false);
}

void WorkerMirror::warm(const Comparison& comparison, bool replace) {
  // Token bucket: at most warmRatePerSecond repairs per second on this worker.
  const uint64_t now = uv_now(loop_);
  const double rate = settings_->warmRatePerSecond;
  warmTokens_ = std::min(rate, warmTokens_ + static_cast<double>(now - warmRefilledMs_) * rate / 1000.0);
  warmRefilledMs_ = now;
  CanaryCounters* counters = this->counters(comparison.canaryId);
  if (warmTokens_ < 1.0) {
    if (counters != nullptr) bump(counters->warm_rate_limited);
    return;
  }
  resp::Value request;
  std::string error;
  if (!resp::parseValue(comparison.request, request, error)) return;
  std::vector<std::string_view> args;
  for (const resp::Value& arg : request.elements) args.push_back(arg.text);
  const CommandInfo* info = settings_->commands->find(comparison.command);
  std::vector<uint32_t> keys;
  ListArgs reader(args);
  if (info == nullptr || !findKeys(*info, reader, keys) || keys.size() != 1) return;
  if (!repair_) repair_ = std::make_unique<RepairLink>(*this);
  if (repair_->request(comparison.canaryId, comparison.db, std::string(args[keys.front()]), replace)) {
    warmTokens_ -= 1.0;
  } else if (counters != nullptr) {
    bump(counters->warm_rate_limited);
  }
}

void WorkerMirror::restoreOnCanary(uint64_t canaryId, uint32_t db, std::string_view key, const std::string& restore) {
  CanaryRuntime* runtime = runtimeOf(canaryId);
  CanaryCounters* counters = this->counters(canaryId);
  if (runtime == nullptr || !runtime->outbox || counters == nullptr) return;
  const uint64_t keyHash = diff::WrittenKeys::hash(key);
  const SendResult result =
      runtime->outbox->sendOwned(restore, db, 2, 1, 0, WriteTaint{WriteTaint::Scope::kKey, db, keyHash});
  if (result == SendResult::kSent) {
    bump(counters->warm_repairs);
    // The canary gets the primary's copy: the key is comparable again.
    if (TaintedKeys* tainted = taintedOf(canaryId)) tainted->clearKey(db, keyHash);
  } else {
    bump(result == SendResult::kQueueFull ? counters->dropped_queue_full : counters->dropped_disconnected);
  }
}

void WorkerMirror::recordSample(Comparison& comparison, const diff::Comparison& result,
                                const resp::Value& primary, const resp::Value& canary) {
  const CanarySettings* settings = this->canary(comparison.canaryId);
  if (settings == nullptr || !settings_->redaction) return;
  const diff::Redaction& redaction = *settings_->redaction;
  resp::Value request;
  std::string error;
  std::vector<std::string_view> args;
  if (resp::parseValue(comparison.request, request, error)) {
    for (const resp::Value& arg : request.elements) args.push_back(arg.text);
  } else {
    args.push_back(comparison.command);  // cut short: show the name only
  }
  std::vector<uint32_t> keys;
  if (const CommandInfo* info = settings_->commands->find(comparison.command)) {
    ListArgs reader(args);
    if (!findKeys(*info, reader, keys)) keys.clear();
  }
  diff::DivergenceSample sample;
  sample.atUnixMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  sample.command = redaction.showCommand(args, keys);
  if (!keys.empty() && keys.front() < args.size()) sample.key = redaction.showKey(args[keys.front()]);
  sample.outcome = result.outcome;
  sample.detail = result.detail;
  sample.primary = diff::renderReply(primary, redaction);
  sample.canary = diff::renderReply(canary, redaction);
  settings->counters->reports[workerIndex_].recordSample(std::move(sample));
}

bool WorkerMirror::charge(Comparison& comparison, uint64_t bytes) {
  const CanarySettings* settings = canary(comparison.canaryId);
  CanaryRuntime* runtime = runtimeOf(comparison.canaryId);
  if (settings == nullptr || runtime == nullptr) return false;
  if (runtime->comparisonBytes + bytes > comparisonBudget(*settings)) return false;
  runtime->comparisonBytes += bytes;
  comparison.charged += bytes;
  return true;
}

uint64_t WorkerMirror::comparisonBudget(const CanarySettings& canary) const {
  // Half of the canary's byte budget, shared by the workers, for replies kept
  // while the other side has not answered (a stopped canary must not grow us).
  return canary.queueBudgetBytes / 2 / std::max<size_t>(1, workers());
}

bool WorkerMirror::mayKeepCanaryReply(Comparison& comparison, uint64_t bytes) {
  return settings_ && bytes <= settings_->maxComparedReplyBytes && charge(comparison, bytes);
}

void WorkerMirror::keptCanaryReply(uint32_t id, bool kept, bool isError, uint64_t sentUs) {
  Comparison& comparison = comparisons_[id];
  if (kept) {
    const uint64_t nowUs = eventNowUs();
    comparison.canaryUs = sentUs != 0 && sentUs <= nowUs ? nowUs - sentUs : nowUs - comparison.startedUs;
    comparison.hasCanary = true;
    comparison.canaryError = isError;
  } else {
    comparison.lost = true;
  }
  release(id);
}

void WorkerMirror::onCanaryReply(uint32_t id, const net::StreamWindow& window, uint64_t begin,
                                 uint64_t end, bool isError, uint64_t sentUs) {
  Comparison& comparison = comparisons_[id];
  const bool kept = mayKeepCanaryReply(comparison, end - begin) && window.copy(begin, end, comparison.canary);
  keptCanaryReply(id, kept, isError, sentUs);
}

void WorkerMirror::onCanaryReply(uint32_t id, std::string& reply, bool isError, uint64_t sentUs) {
  Comparison& comparison = comparisons_[id];
  const bool kept = mayKeepCanaryReply(comparison, reply.size());
  if (kept) comparison.canary.swap(reply);
  keptCanaryReply(id, kept, isError, sentUs);
}

void WorkerMirror::onCanaryLost(uint32_t id) {
  comparisons_[id].lost = true;
  release(id);
}

}  // namespace redmirror::mirror
