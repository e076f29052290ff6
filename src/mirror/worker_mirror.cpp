#include "redmirror/mirror/worker_mirror.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include "redmirror/mirror/effect_order.h"
#include "redmirror/proxy/stats.h"
#include "redmirror/resp/ascii.h"
#include "redmirror/resp/value.h"

namespace redmirror::mirror {

namespace {

using proxy::bump;

// Multibulk argument `index` where it already lies in memory: the frame's
// capture (the first arguments after the name, when short) or one piece of the
// stream window. False when it is split across pieces (or not retained).
inline bool argInPlace(const resp::CommandFrame& frame, const net::StreamWindow& window, uint32_t index,
                       std::string_view& out) {
  if (index > 0 && index < resp::kCapturedArgs && frame.captured[index].complete) {
    out = frame.captured[index].view();
    return true;
  }
  const resp::ArgRef& ref = frame.args[index];
  return window.view(ref.offset, ref.offset + ref.length, out);
}

// Reads a command's arguments out of the client stream window.
class FrameArgs final : public ArgReader {
 public:
  FrameArgs(const resp::CommandFrame& frame, const net::StreamWindow& window, std::string& scratch)
      : frame_(frame), window_(window), scratch_(scratch) {}
  uint32_t argc() const override { return frame_.argc; }
  bool arg(uint32_t index, std::string_view& out) override {
    if (frame_.isInline) {
      if (index >= frame_.inlineArgs.size()) return false;
      out = frame_.inlineArgs[index];
      return true;
    }
    if (index >= frame_.args.size()) return false;
    if (argInPlace(frame_, window_, index, out)) return true;
    const resp::ArgRef& ref = frame_.args[index];
    scratch_.clear();
    if (!window_.copy(ref.offset, ref.offset + ref.length, scratch_)) return false;
    out = scratch_;
    return true;
  }

 private:
  const resp::CommandFrame& frame_;
  const net::StreamWindow& window_;
  std::string& scratch_;
};

bool parseDb(const resp::Capture& capture, uint32_t& db) {
  if (!capture.complete || capture.size == 0) return false;
  auto [end, ec] = std::from_chars(capture.bytes.data(), capture.bytes.data() + capture.size, db);
  return ec == std::errc() && end == capture.bytes.data() + capture.size;
}

// SCRIPT LOAD/FLUSH and FUNCTION LOAD/DELETE/FLUSH/RESTORE change what the
// canary can run: every canary mirroring anything gets them.
// "ERR Script killed by user with SCRIPT KILL..." / "... FUNCTION KILL...".
bool killedScript(const resp::ReplyFrame& reply) {
  return reply.isError() && reply.top.text.view().starts_with("ERR Script killed by user");
}

// Redis ends errors raised while a script or function ran with
// " script: <sha or name>, on @user_script:<line>." (a script refused before it
// ran, for OOM or NOREPLICAS, gets the bare error). An error too long to read
// here is taken as raised while running: the script is mirrored.
bool scriptRan(const resp::ReplyFrame& reply, const net::StreamWindow& window) {
  constexpr uint64_t kMaxErrorBytes = 4096;
  if (reply.end - reply.begin > kMaxErrorBytes) return true;
  std::string line;
  if (!window.copy(reply.begin, reply.end, line)) return true;
  return line.find(" script: ") != std::string::npos;
}

// Errors Redis answers before running a command, for reasons of the primary's
// own (the session's ACL user, its memory, its role, its persistence, a
// script running, a load in progress): a canary, connected as another user
// and in another state, answers the command, and the two replies say nothing
// about the canary.
bool refusedBeforeRunning(std::string_view error) {
  static constexpr std::string_view kCodes[] = {"NOPERM", "NOAUTH", "OOM", "READONLY", "MISCONF",
                                                "NOREPLICAS", "LOADING", "BUSY", "MASTERDOWN"};
  const std::string_view code = error.substr(0, error.find(' '));
  return std::find(std::begin(kCodes), std::end(kCodes), code) != std::end(kCodes);
}

bool isScriptBroadcast(Special special, const resp::CommandFrame& frame) {
  const resp::Capture& sub = frame.captured[1];
  if (special == Special::kScript) return sub.is("load") || sub.is("flush");
  if (special == Special::kFunction) {
    return sub.is("load") || sub.is("delete") || sub.is("flush") || sub.is("restore");
  }
  return false;
}

constexpr size_t kMaxScriptBytes = 16 * 1024 * 1024;
// Bytes of a compared command kept to render it in a divergence sample.
constexpr uint64_t kSampleRequestBytes = 1024;
// Bookkeeping of one comparison, counted against the canary's budget.
constexpr uint64_t kComparisonCost = 256;
// Most values (elements at every depth) built from one reply: a Value takes
// ~100 bytes, so both sides of a comparison stay within ~25 MiB however small
// the elements of an 8 MiB reply are. Larger replies are skipped as too_large.
constexpr size_t kMaxComparedValues = 131072;

using resp::equalsIgnoreCase;

// Position of XADD's ID argument when the server picks it ("*" or "<ms>-*"),
// else 0: XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] id ...
size_t xaddIdPosition(ArgReader& args) {
  uint32_t i = 2;
  std::string_view arg;
  while (args.arg(i, arg)) {
    if (equalsIgnoreCase(arg, "nomkstream")) {
      ++i;
    } else if (equalsIgnoreCase(arg, "maxlen") || equalsIgnoreCase(arg, "minid")) {
      ++i;
      if (args.arg(i, arg) && (arg == "=" || arg == "~")) ++i;
      ++i;  // threshold
      if (args.arg(i, arg) && equalsIgnoreCase(arg, "limit")) i += 2;
    } else {
      return !arg.empty() && arg.back() == '*' ? i : 0;
    }
  }
  return 0;
}

std::string sha1Hex(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(body.data(), body.size(), digest, &length, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

bool isBlockingPop(std::string_view name) {
  return name == "blpop" || name == "brpop" || name == "blmove" || name == "brpoplpush" ||
         name == "bzpopmin" || name == "bzpopmax" || name == "blmpop" || name == "bzmpop";
}


// "1526919030474-55", "1526919030474" (the sequence is optional in XCLAIM).
bool isStreamId(std::string_view text) {
  const size_t dash = text.find('-');
  auto digits = [](std::string_view part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return dash == std::string_view::npos ? digits(text) : digits(text.substr(0, dash)) && digits(text.substr(dash + 1));
}

// XCLAIM key group consumer min-idle id... [options] or XAUTOCLAIM key group
// consumer min-idle start [COUNT n] [JUSTID], and the primary's reply: the XCLAIM
// that claims exactly what the primary claimed (and, for XAUTOCLAIM, drops the
// deleted entries it removed from the PEL), whatever the idle times on the
// canary. Empty when nothing was claimed.
std::vector<std::string_view> claimEffect(const std::vector<std::string>& args, const resp::Value& reply) {
  std::vector<std::string_view> command;
  if (args.size() < 6 || !reply.isAggregate()) return command;
  const bool autoclaim = equalsIgnoreCase(args[0], "xautoclaim");
  bool justId = false;
  for (size_t i = 5; i < args.size(); ++i) justId = justId || equalsIgnoreCase(args[i], "justid");
  command = {"XCLAIM", args[1], args[2], args[3], "0"};
  const size_t before = command.size();
  auto addIds = [&](const resp::Value& list) {
    for (const resp::Value& item : list.elements) {
      if (item.type == '$' || item.type == '+') {
        command.push_back(item.text);  // JUSTID, or a deleted ID
      } else if (item.isAggregate() && !item.elements.empty()) {
        command.push_back(item.elements[0].text);  // [id, fields]
      }
    }
  };
  if (autoclaim) {
    // [next-start, claimed, deleted]
    if (reply.elements.size() < 2 || !reply.elements[1].isAggregate()) return {};
    addIds(reply.elements[1]);
    if (reply.elements.size() > 2 && reply.elements[2].isAggregate()) addIds(reply.elements[2]);
    if (command.size() == before) return {};
    if (justId) command.push_back("JUSTID");
    return command;
  }
  addIds(reply);
  if (command.size() == before) return {};
  // The options as sent (IDLE, TIME, RETRYCOUNT, FORCE, JUSTID, LASTID), after the IDs.
  size_t options = 5;
  while (options < args.size() && isStreamId(args[options])) ++options;
  command.insert(command.end(), args.begin() + static_cast<std::ptrdiff_t>(options), args.end());
  return command;
}

// XREAD / XREADGROUP carry the blocking flag but block only with a BLOCK option
// (before STREAMS): position of BLOCK, or 0 when the call cannot block.
uint32_t streamBlockIndex(ArgReader& args) {
  for (uint32_t i = 1; i < args.argc(); ++i) {
    std::string_view arg;
    if (!args.arg(i, arg) || equalsIgnoreCase(arg, "streams")) return 0;
    if (equalsIgnoreCase(arg, "block")) return i;
  }
  return 0;
}

}  // namespace

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

namespace {
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

inline bool WorkerMirror::unsampledSingleKey(const CommandInfo& info, const SessionMirror& session,
                                             const resp::CommandFrame& frame, const net::StreamWindow& window,
                                             int& slot) const {
  if (!info.singleKey || session.inMulti || frame.isInline || frame.args.size() < 2) return false;
  std::string_view key;
  if (!argInPlace(frame, window, 1, key)) return false;  // a split key: the full path copies it
  slot = keySlot(key);
  for (const CanarySettings& canary : settings_->canaries) {
    if (canary.percentHundredths > 0 && settings_->sampler->sampled(slot, canary.percentHundredths)) return false;
  }
  return true;
}

void WorkerMirror::followState(SessionMirror& session, const resp::CommandFrame& frame,
                               proxy::PendingCommand* pending, int protocol) {
  // The session's state is followed unmirrored too, so that a share raised
  // later mirrors into the right database and transaction.
  if (!settings_ || !settings_->commands) return;
  trackState(session, frame, settings_->commands->find(frame.captured[0]), pending, protocol, false);
}

void WorkerMirror::onMirroredCommand(SessionMirror& session, const resp::CommandFrame& frame,
                                     proxy::PendingCommand* pending, const net::StreamWindow& window,
                                     int protocol) {
  // Unknown to the primary's table: the primary refuses it, the canary need not see it.
  const CommandInfo* info = settings_->commands->find(frame.captured[0]);
  // Most commands: one key, unsampled by every canary at low percentages.
  // Nothing else of the work below applies to them (no counter, no state), and
  // they leave before the full path's frame is set up.
  int slot = -1;
  if (info != nullptr && unsampledSingleKey(*info, session, frame, window, slot)) return;
  mirrorCommand(session, frame, info, pending, window, protocol, slot);
}

bool WorkerMirror::trackState(SessionMirror& session, const resp::CommandFrame& frame, const CommandInfo* info,
                              proxy::PendingCommand* pending, int protocol, bool mirroring) {
  const resp::Capture& name = frame.captured[0];
  const Special special = info != nullptr ? info->special : Special::kNone;
  if (special == Special::kQuit || (info == nullptr && name.is("quit"))) {
    // Redis closes after answering QUIT: what the client pipelined after it never runs.
    session.quit = true;
    return false;
  }
  if (session.inMulti && special != Special::kExec && special != Special::kDiscard && special != Special::kMulti) {
    ++session.transactionCount;
    if (pending != nullptr) {
      pending->transaction = session.transactionSerial;
      ++session.queuedAwaiting;
    } else {
      session.transactionRefusable = true;  // its answer cannot be followed
    }
  }
  if (info == nullptr) {
    session.transactionRefusable = session.transactionRefusable || session.inMulti;
    return false;
  }

  // Connection state the canary links replay: the database and transactions.
  switch (special) {
    case Special::kSelect: {
      uint32_t db = 0;
      if (frame.argc == 2 && parseDb(frame.captured[1], db)) {
        if (session.inMulti) {
          session.transactionDb = db;  // runs at EXEC, if the primary commits
        } else {
          session.db = db;
          session.dbFromTransaction = false;
        }
      }
      return false;
    }
    case Special::kWatch:
      if (!session.inMulti) session.watching = true;
      return false;
    case Special::kUnwatch:
      session.watching = false;
      return false;
    case Special::kReset:
      session.watching = false;
      session.inMulti = false;
      session.transactionUnknown = false;
      session.transaction.clear();
      session.db = 0;
      session.dbFromTransaction = false;
      return false;
    case Special::kMulti:
      session.transactionRefusable = session.inMulti;  // a nested MULTI is refused
      // Begun unmirrored: its first members were not kept, so it cannot be sent whole.
      if (!session.inMulti) session.transactionUnknown = !mirroring;
      ++session.transactionSerial;
      session.queuedAwaiting = 0;
      session.inMulti = true;
      session.transactionCount = 0;
      session.transactionDb = session.db;
      session.transaction.clear();
      return false;
    case Special::kDiscard:
      session.inMulti = false;
      session.transactionUnknown = false;
      session.watching = false;
      session.transaction.clear();
      return false;
    case Special::kExec: {
      if (session.transactionUnknown) {
        // Not mirrored: the writes it kept taint their keys (the primary may run them).
        for (const HeldCommand& held : session.transaction) {
          for (uint64_t id : held.canaries) {
            if (CanaryCounters* c = counters(id)) bump(c->dropped_unconfirmed);
            taintHeld(id, held, held.db);
          }
        }
        session.transaction.clear();
        session.transactionUnknown = false;
      }
      const bool selects = session.inMulti && session.transactionDb != session.db;
      const bool watched = session.watching;
      session.watching = false;
      if (session.inMulti && pending != nullptr && !session.transaction.empty() && !watched && !selects &&
          !session.transactionRefusable && session.queuedAwaiting == 0 && session.effects.empty() &&
          std::none_of(session.transaction.begin(), session.transaction.end(),
                       [](const HeldCommand& held) { return !held.rewriteArgs.empty(); })) {
        // Without WATCH, EXEC runs what was queued unless a member was refused
        // when queued (unknown, malformed, or answered with an error: OOM, BUSY);
        // every member was answered +QUEUED here (pipelined ones wait for the
        // EXEC reply instead). Sent now, like
        // any write, the transaction reaches the canary before the effects it
        // causes (a BRPOP it serves answers before the EXEC does).
        Effect transaction;
        transaction.held = std::move(session.transaction);
        transaction.protocol = protocol;
        sendTransaction(session, transaction, true, nullptr);
        session.inMulti = false;
        session.transaction.clear();
        return false;
      }
      if (session.inMulti && pending != nullptr && (!session.transaction.empty() || selects)) {
        Effect effect;
        effect.kind = Effect::Kind::kExec;
        effect.held = std::move(session.transaction);
        effect.dbBefore = session.db;
        effect.db = session.transactionDb;
        effect.protocol = protocol;
        session.effects.push_back(std::move(effect));
        pending->effect = true;
        if (selects) {
          // Optimistic: most transactions commit. Commands held behind this EXEC
          // get the database fixed if the primary aborts it.
          session.db = session.transactionDb;
          session.dbFromTransaction = true;
        }
      }
      session.inMulti = false;
      session.transaction.clear();
      return false;
    }
    default:
      break;
  }
  return true;
}

void WorkerMirror::mirrorCommand(SessionMirror& session, const resp::CommandFrame& frame,
                                 const CommandInfo* info, proxy::PendingCommand* pending,
                                 const net::StreamWindow& window, int protocol, int singleKeySlot) {
  if (!trackState(session, frame, info, pending, protocol, true)) return;
  const MirrorSettings& settings = *settings_;
  const resp::Capture& name = frame.captured[0];
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
  FrameArgs args(frame, window, scratch_);
  const bool streamRead = special == Special::kXread || special == Special::kXreadgroup;
  if (info->isBlocking() && !session.inMulti && (!streamRead || streamBlockIndex(args) != 0)) {
    // Mirrored as its non-blocking effect once the primary answers (and not at
    // all if it timed out): the pops, and XREADGROUP ... BLOCK without BLOCK.
    // Other blocking commands (XREAD ... BLOCK, WAIT) are not mirrored.
    if (pending == nullptr || (!isBlockingPop(info->name) && special != Special::kXreadgroup)) return;
    Effect effect;
    effect.kind = Effect::Kind::kBlockingPop;
    for (uint32_t i = 0; i < frame.argc; ++i) {
      std::string_view arg;
      if (!args.arg(i, arg)) return;
      effect.args.emplace_back(arg);
    }
    effect.args[0] = info->name;  // lowercase, whatever the client sent
    effect.blockedOrder = ++blockedCount_;
    if (!findKeys(*info, args, effect.keys)) effect.keys.clear();
    if (const std::string* destination = moveDestination(effect)) {
      effect.pendingMove = PendingMove(pendingMoves_, *destination);
    }
    effect.db = session.db;
    effect.protocol = protocol;
    session.effects.push_back(std::move(effect));
    pending->effect = true;
    return;
  }

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
    if (!findKeys(*info, args, keyPositions_)) {
      // Malformed arguments: inside MULTI the primary refuses it and aborts EXEC.
      session.transactionRefusable = session.transactionRefusable || session.inMulti;
      return;
    }
    for (uint32_t position : keyPositions_) {
      std::string_view key;
      if (!args.arg(position, key)) {
        // A key past the argument positions the framer keeps (kMaxArgRefs):
        // cannot be sampled, so it is counted rather than silently skipped.
        for (const CanarySettings& canary : settings.canaries) {
          if (canary.percentHundredths == 0) continue;
          bump(canary.counters->perWorker[workerIndex_].dropped_oversize);
          if (info->isWrite()) canary.counters->tainted.taintDb(session.inMulti ? session.transactionDb : session.db);
        }
        if (session.inMulti) session.transactionUnknown = true;
        return;
      }
      keySlots_.push_back(keySlot(key));
    }
  }
  bool keysHashed = false;

  // Commands whose effect is only known from the primary's reply.
  const size_t xaddId = special == Special::kXadd ? xaddIdPosition(args) : 0;
  const bool isXadd = xaddId != 0 && !session.inMulti && pending != nullptr;
  const bool isSpop = special == Special::kSpop && !session.inMulti && pending != nullptr;
  const bool isClaim = special == Special::kClaim && !session.inMulti && pending != nullptr;
  const bool libraryLoad = special == Special::kFunction &&
                           (frame.captured[1].is("load") || frame.captured[1].is("restore"));
  const bool isScript = (special == Special::kEval || special == Special::kEvalsha || special == Special::kFcall ||
                         libraryLoad) &&
                        !session.inMulti && pending != nullptr;
  const bool comparable = !session.inMulti && pending != nullptr && info->policy != Policy::kNever;
  const bool write = info->isWrite() || broadcast;
  // Sent as it is, now: a canary that cannot take it drops it before any
  // other work is done for it (key hashes, comparison).
  const bool plain = !isScript && !isSpop && !isXadd && !isClaim && !session.inMulti &&
                     special != Special::kEval && special != Special::kEvalsha && special != Special::kScript;
  // A write reaches a canary only once the primary ran it (Effect::kGuard):
  // reads go ahead, they change nothing.
  const bool guarded = write && plain && pending != nullptr;
  // What the write taints if it is lost, and whether it repairs its keys.
  taintScope_ = WriteTaint::Scope::kNone;
  overwrites_ = false;
  // Scripts and functions that may write (COMMAND does not flag them as
  // writes; the _ro forms cannot) taint what they name if they are lost.
  const bool scriptMayWrite = (special == Special::kEval || special == Special::kEvalsha || special == Special::kFcall) &&
                              !name.view().ends_with("_ro");
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
      taintCurrent(canary.id, session.inMulti ? session.transactionDb : session.db);
      if (session.inMulti) session.transactionUnknown = true;  // not sent in part
      continue;
    }
    if (!(write ? any : all)) {
      if (any && !write) bump(counters.skipped_unsampled_keys);
      if (any && taints) {
        // A script whose keys are only partly sampled is not mirrored: the
        // sampled ones it may write go stale on the canary.
        hashKeys();
        taintCurrent(canary.id, session.inMulti ? session.transactionDb : session.db);
      }
      continue;
    }
    if (plain && session.effects.empty() && !linkTakes(canary, session, frame, counters)) {
      if (taints) {
        hashKeys();
        taintCurrent(canary.id, session.db);
      }
      continue;
    }
    hashKeys();
    if (session.inMulti && session.transactionUnknown) {
      // A transaction that cannot be sent whole is not sent: its writes taint their keys.
      if (taints) {
        bump(counters.dropped_unconfirmed);
        taintCurrent(canary.id, session.transactionDb);
      }
      continue;
    }
    if (write && plain && pending == nullptr) {
      // Its answer will not be seen (CLIENT REPLY OFF/SKIP): whether the
      // primary ran it is unknown, so it is not mirrored and its keys are tainted.
      bump(counters.dropped_unconfirmed);
      taintCurrent(canary.id, session.db);
      continue;
    }
    if ((isScript || guarded) && effect == nullptr) {
      // The command itself is held behind this effect (dispatch sees it pending).
      session.effects.emplace_back();
      effect = &session.effects.back();
      effect->kind = isScript ? Effect::Kind::kScript : Effect::Kind::kGuard;
      effect->dropIfRefused = libraryLoad || guarded;
      effect->db = session.db;
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
        effect->db = session.db;
        effect->protocol = protocol;
        pending->effect = true;
      }
      effect->canaries.push_back(canary.id);
      if (CanaryRuntime* runtime = runtimeOf(canary.id)) {
        for (uint64_t hash : keyHashes_) runtime->written->insert(hash);
      }
      continue;
    }
    if (session.inMulti) {
      if (held == nullptr) {
        session.transaction.emplace_back();
        held = &session.transaction.back();
        held->db = session.transactionDb;
        if (!window.forEach(frame.begin, frame.end, [held](net::Chunk* chunk, uint32_t offset,
                                                           uint32_t length) {
              held->bytes.emplace_back(chunk, offset, length);
            })) {
          session.transaction.pop_back();
          bump(counters.dropped_oversize);
          // Without this member the transaction cannot be sent whole.
          taintCurrent(canary.id, session.transactionDb);
          session.transactionUnknown = true;
          return;
        }
        if (taints) {
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
          held->replyIndex = session.transactionCount - 1;
        }
      }
      held->canaries.push_back(canary.id);
      held->comparisons.push_back(0);
      continue;
    }
    if (special == Special::kEval || special == Special::kEvalsha || special == Special::kScript) {
      prepareScripts(canary, session, frame, special, args, protocol);
    }
    if (!plain && session.effects.empty() && !linkTakes(canary, session, frame, counters)) continue;
    uint32_t comparison = 0;
    if (comparable && all) {
      comparison = newComparison(canary.id);
      Comparison& record = comparisons_[comparison];
      record.command.assign(name.view());
      record.rules = info->compareRules;
      record.rules.ttlToleranceMs = settings.ttlToleranceMs;
      record.keyHash = keyHashes_.empty() ? 0 : keyHashes_.front();
      record.db = session.db;
      if (const TaintedKeys& tainted = canary.counters->tainted; !tainted.empty()) {
        for (uint64_t hash : keyHashes_) record.tainted = record.tainted || tainted.tainted(session.db, hash);
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
        comparison = 0;
      } else {
        record.next = pending->comparison;
        if (pending->comparison == 0) ++session.outstanding;
        pending->comparison = comparison;
      }
    }
    const uint32_t retry = special == Special::kEvalsha ? scriptRetry(canary, session, frame, args, protocol) : 0;
    dispatch(canary, session, window, frame, protocol, write, comparison, retry, deferred);
  }
}

void WorkerMirror::dispatch(const CanarySettings& canary, SessionMirror& session,
                            const net::StreamWindow& window, const resp::CommandFrame& frame, int protocol,
                            bool write, uint32_t comparison, uint32_t retry, HeldCommand*& deferred) {
  CanaryCounters& counters = canary.counters->perWorker[workerIndex_];
  if (frame.end - frame.begin > settings_->maxMirroredCommandBytes) {
    bump(counters.dropped_oversize);
    if (comparison != 0) onCanaryLost(comparison);
    if (retry != 0) dropRetry(retry);
    taintCurrent(canary.id, session.db);
    return;
  }
  if (!session.effects.empty()) {
    // An effect ahead of this command is still waiting for the primary: keep
    // the session's order on the canary by holding this one behind it.
    if (deferred == nullptr) {
      session.effects.back().after.emplace_back();
      deferred = &session.effects.back().after.back();
      deferred->db = session.db;
      deferred->dbFromTransaction = session.dbFromTransaction;
      if (!window.forEach(frame.begin, frame.end, [deferred](net::Chunk* chunk, uint32_t offset,
                                                             uint32_t length) {
            deferred->bytes.emplace_back(chunk, offset, length);
          })) {
        session.effects.back().after.pop_back();
        deferred = nullptr;
        bump(counters.dropped_oversize);
        if (comparison != 0) onCanaryLost(comparison);
        if (retry != 0) dropRetry(retry);
        taintCurrent(canary.id, session.db);
        return;
      }
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
  const WriteTaint taint = linkTaint(session.db, keyHashes_, taintScope_);
  const SendResult result = link == nullptr ? SendResult::kDisconnected
                                            : link->send(window, frame.begin, frame.end, session.db, protocol,
                                                         comparison, retry, taint);
  if (result == SendResult::kSent) {
    bump(counters.mirrored);
    if (write) {
      if (CanaryRuntime* runtime = runtimeOf(canary.id)) {
        for (uint64_t hash : keyHashes_) runtime->written->insert(hash);
      }
    }
    repaired(canary.id, session.db, keyHashes_, overwrites_, taintScope_);
    return;
  }
  bump(result == SendResult::kQueueFull ? counters.dropped_queue_full : counters.dropped_disconnected);
  // Not sent: the link side of the comparison will never answer.
  if (comparison != 0) onCanaryLost(comparison);
  if (retry != 0) dropRetry(retry);
  taintCurrent(canary.id, session.db);
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

void WorkerMirror::taintCurrent(uint64_t canaryId, uint32_t db) {
  TaintedKeys* tainted = taintedOf(canaryId);
  if (tainted == nullptr || taintScope_ == WriteTaint::Scope::kNone) return;
  if (CanaryCounters* c = counters(canaryId)) bump(c->keys_tainted);
  if (taintScope_ != WriteTaint::Scope::kKey) {
    WriteTaint{taintScope_, db, 0}.applyTo(*tainted);
    return;
  }
  for (uint64_t hash : keyHashes_) tainted->taintKey(db, hash);
}

void WorkerMirror::taintHeld(uint64_t canaryId, const HeldCommand& held, uint32_t db) {
  TaintedKeys* tainted = taintedOf(canaryId);
  if (tainted == nullptr || held.taintScope == WriteTaint::Scope::kNone) return;
  if (CanaryCounters* c = counters(canaryId)) bump(c->keys_tainted);
  if (held.taintScope != WriteTaint::Scope::kKey) {
    WriteTaint{held.taintScope, db, 0}.applyTo(*tainted);
    return;
  }
  for (uint64_t hash : held.keyHashes) tainted->taintKey(db, hash);
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

bool WorkerMirror::linkTakes(const CanarySettings& canary, const SessionMirror& session,
                             const resp::CommandFrame& frame, CanaryCounters& counters) {
  // A canary that is down or whose budget is spent: dropped here, before
  // paying for a comparison that could never complete.
  const CanaryOutbox* link = linkFor(canary, session);
  if (link != nullptr && link->up() && link->hasRoomFor(frame.end - frame.begin)) return true;
  bump(link != nullptr && link->up() ? counters.dropped_queue_full : counters.dropped_disconnected);
  return false;
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

uint32_t WorkerMirror::scriptRetry(const CanarySettings& canary, const SessionMirror& session,
                                   const resp::CommandFrame& frame, ArgReader& args, int protocol) {
  // Called for EVALSHA and EVALSHA_RO only (Special::kEvalsha).
  const bool readOnly = frame.captured[0].is("evalsha_ro");
  std::string_view arg;
  if (!args.arg(1, arg)) return 0;
  std::string sha = resp::lowercase(arg);
  auto known = scripts_.find(sha);
  if (known == scripts_.end()) return 0;
  // EVALSHA sha numkeys ... -> EVAL body numkeys ...
  std::vector<std::string> copies;
  copies.reserve(frame.argc);
  for (uint32_t i = 2; i < frame.argc; ++i) {
    if (!args.arg(i, arg)) return 0;
    copies.emplace_back(arg);
  }
  std::vector<std::string_view> eval{readOnly ? "EVAL_RO" : "EVAL", known->second};
  for (const std::string& copy : copies) eval.push_back(copy);
  const uint32_t id = nextRetry_++;
  if (nextRetry_ == 0) nextRetry_ = 1;
  retries_[id] = ScriptRetry{resp::encodeCommand(eval), std::move(sha), canary.id, session.db, protocol};
  return id;
}

bool WorkerMirror::onScriptReply(uint32_t retry, bool noscript, uint32_t comparison) {
  auto found = retries_.find(retry);
  if (found == retries_.end()) return false;
  ScriptRetry record = std::move(found->second);
  retries_.erase(found);
  if (!noscript) return false;
  // The canary lost the script (restart, SCRIPT FLUSH): run it by body; the
  // comparison follows the resent command.
  CanaryRuntime* runtime = runtimeOf(record.canaryId);
  if (runtime != nullptr) runtime->loadedScripts.erase(record.sha);
  const SendResult result = runtime == nullptr || !runtime->outbox
                                ? SendResult::kDisconnected
                                : runtime->outbox->sendOwned(record.eval, record.db, record.protocol, 1, comparison);
  if (result != SendResult::kSent) {
    if (comparison != 0) onCanaryLost(comparison);
  } else if (CanaryCounters* counters = this->counters(record.canaryId)) {
    bump(counters->effects_mirrored);
  }
  return true;
}

void WorkerMirror::dropRetry(uint32_t retry) { retries_.erase(retry); }

void WorkerMirror::prepareScripts(const CanarySettings& canary, const SessionMirror& session,
                                  const resp::CommandFrame& frame, Special special, ArgReader& args,
                                  int protocol) {
  const bool eval = special == Special::kEval;
  const bool load = special == Special::kScript && frame.captured[1].is("load");
  const bool evalsha = special == Special::kEvalsha;
  if (!eval && !load && !evalsha) return;
  std::string_view arg;
  if (!args.arg(load ? 2 : 1, arg)) return;
  CanaryRuntime& runtime = runtimes_[canary.id];
  if (runtime.hub != nullptr && runtime.connections != runtime.hub->connections()) {
    // The canary's link (re)connected since: it may have restarted and lost its scripts.
    runtime.connections = runtime.hub->connections();
    runtime.loadedScripts.clear();
  }
  if (evalsha) {
    std::string sha = resp::lowercase(arg);
    if (runtime.loadedScripts.count(sha) != 0) return;
    auto known = scripts_.find(sha);
    if (known == scripts_.end()) return;  // the canary may answer NOSCRIPT: counted as its error
    sendOwned(canary, session, resp::encodeCommand({"SCRIPT", "LOAD", known->second}), session.db, protocol, 1);
    runtime.loadedScripts.insert(std::move(sha));
    return;
  }
  std::string sha = sha1Hex(arg);
  if (scripts_.count(sha) == 0) {
    if (scriptBytes_ + arg.size() > kMaxScriptBytes) {
      scripts_.clear();
      scriptBytes_ = 0;
    }
    scriptBytes_ += arg.size();
    scripts_.emplace(sha, std::string(arg));
  }
  runtime.loadedScripts.insert(std::move(sha));
}

void WorkerMirror::onReply(SessionMirror& session, const proxy::PendingCommand& pending,
                           const resp::ReplyFrame& reply, const net::StreamWindow& window) {
  if (pending.transaction != 0 && pending.transaction == session.transactionSerial) {
    if (session.queuedAwaiting > 0) --session.queuedAwaiting;
    if (reply.isError()) session.transactionRefusable = true;
  }
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
  const bool needsValue =
      !answer.error && effect->kind != Effect::Kind::kScript && effect->kind != Effect::Kind::kGuard &&
      (effect->kind != Effect::Kind::kExec ||
       std::any_of(effect->held.begin(), effect->held.end(), [](const HeldCommand& h) { return !h.rewriteArgs.empty(); }));
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
  std::vector<std::string_view> sources = popSources(effect);
  if (!effect.args.empty() && effect.args[0] == "xreadgroup") {
    // Nothing moves into a stream, but an XADD (a guarded write) feeds it.
    for (uint32_t position : effect.keys) {
      if (position < effect.args.size()) sources.emplace_back(effect.args[position]);
    }
  }
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
      if (canary.percentHundredths == 0) continue;
      for (std::string_view key : sources) canary.counters->tainted.taintKey(effect.db, diff::WrittenKeys::hash(key));
      bump(canary.counters->perWorker[workerIndex_].keys_tainted);
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
    const bool refused = effect.reply.error && !effect.reply.killed &&
                         (effect.dropIfRefused || !effect.reply.ranScript);
    const bool guard = effect.kind == Effect::Kind::kGuard;
    if ((effect.kind == Effect::Kind::kScript || guard) && !effect.after.empty() &&
        (effect.reply.killed || refused)) {
      // Not mirrored: a killed script would run on the canary until killed,
      // answering BUSY meanwhile; a refused write or library load changed nothing.
      const HeldCommand& command = effect.after.front();
      for (uint64_t id : command.canaries) {
        if (CanaryCounters* c = counters(id)) {
          bump(guard ? c->skipped_refused : refused ? c->scripts_refused : c->scripts_killed);
        }
      }
      loseHeld(command, false);
      effect.after.erase(effect.after.begin());
    }
    const bool aborted = runEffect(session, effect);
    if (aborted && session.dbFromTransaction && session.effects.empty()) {
      session.db = effect.dbBefore;
      session.dbFromTransaction = false;
    }
    // The session's commands that waited behind this effect, in order.
    for (const HeldCommand& held : effect.after) sendHeld(session, held, aborted, effect.dbBefore, effect.protocol);
    // A guard stays open until its write is handed over (sealTurn).
    if (guard) sentGuards_.push_back(std::move(effect.guard));
  }
}

void WorkerMirror::abandon(SessionMirror& session, const proxy::PendingCommand& pending) {
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
  // Its reply will not be seen: what waited behind it may have run on the primary.
  for (const HeldCommand& held : effect->after) loseHeld(held, true);
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
    for (const HeldCommand& held : effect.after) loseHeld(held, true);
  }
  session.transaction.clear();
  session.effects.clear();
  session.inMulti = false;
}

void WorkerMirror::onCanaryReply(uint32_t id, const net::StreamWindow& window, uint64_t begin,
                                 uint64_t end, bool isError, uint64_t sentUs) {
  Comparison& comparison = comparisons_[id];
  if (settings_ && end - begin <= settings_->maxComparedReplyBytes && charge(comparison, end - begin) &&
      window.copy(begin, end, comparison.canary)) {
    const uint64_t nowUs = eventNowUs();
    comparison.canaryUs = sentUs != 0 && sentUs <= nowUs ? nowUs - sentUs : nowUs - comparison.startedUs;
    comparison.hasCanary = true;
    comparison.canaryError = isError;
  } else {
    comparison.lost = true;
  }
  release(id);
}

void WorkerMirror::onCanaryReply(uint32_t id, std::string& reply, bool isError, uint64_t sentUs) {
  Comparison& comparison = comparisons_[id];
  if (settings_ && reply.size() <= settings_->maxComparedReplyBytes && charge(comparison, reply.size())) {
    comparison.canary.swap(reply);
    const uint64_t nowUs = eventNowUs();
    comparison.canaryUs = sentUs != 0 && sentUs <= nowUs ? nowUs - sentUs : nowUs - comparison.startedUs;
    comparison.hasCanary = true;
    comparison.canaryError = isError;
  } else {
    comparison.lost = true;
  }
  release(id);
}

void WorkerMirror::onCanaryLost(uint32_t id) {
  comparisons_[id].lost = true;
  release(id);
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
  if (TaintedKeys* tainted = taintedOf(canary.id); tainted != nullptr && !hashes.empty()) {
    for (uint64_t hash : hashes) tainted->taintKey(db, hash);
    bump(counters->keys_tainted);
  }
}

void WorkerMirror::sendTransaction(SessionMirror& session, const Effect& effect, bool committed,
                                   const resp::Value* results) {
  if (!settings_) return;
  static constexpr std::string_view kMulti = "*1\r\n$5\r\nMULTI\r\n";
  static constexpr std::string_view kExec = "*1\r\n$4\r\nEXEC\r\n";
  for (const CanarySettings& canary : settings_->canaries) {
    CanaryCounters* counters = this->counters(canary.id);
    std::vector<const HeldCommand*> members;
    for (const HeldCommand& held : effect.held) {
      for (uint64_t id : held.canaries) {
        if (id == canary.id) members.push_back(&held);
      }
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
    proxy::bump(counters->mirrored, members.size());
    for (const HeldCommand* held : members) {
      repaired(canary.id, held->db, held->keyHashes, held->overwrites, held->taintScope);
    }
  }
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
  if (!settings_ || effect.kind == Effect::Kind::kScript || effect.kind == Effect::Kind::kGuard) return false;
  const EffectReply& reply = effect.reply;
  if (reply.error) return effect.kind == Effect::Kind::kExec;  // EXECABORT
  const MirrorSettings& settings = *settings_;
  if (effect.kind == Effect::Kind::kExec) {
    sendTransaction(session, effect, reply.committed, reply.parsed ? &reply.value : nullptr);
    return !reply.committed;
  }

  const resp::Value& value = reply.value;
  if (!reply.parsed || value.isNull) return false;  // nothing popped (timed out), or too large to rebuild
  const std::vector<std::string>& args = effect.args;
  std::vector<std::string_view> command;
  std::vector<std::string_view> keys;  // keys the effect touches, for sampling
  std::string countText;
  const std::string_view name = args.empty() ? std::string_view() : std::string_view(args[0]);

  if (effect.kind == Effect::Kind::kXadd) {
    // The ID the primary chose, so that both streams hold the same entries.
    if (value.type != '$' || effect.idIndex == 0 || effect.idIndex >= args.size()) return false;
    command.assign(args.begin(), args.end());
    command[0] = "XADD";
    command[effect.idIndex] = value.text;
    sendToEffectCanaries(session, effect, command);
    return false;
  }
  if (effect.kind == Effect::Kind::kClaim) {
    command = claimEffect(args, value);
    if (command.empty()) return false;
    sendToEffectCanaries(session, effect, command);
    return false;
  }
  if (effect.kind == Effect::Kind::kSpop) {
    if (args.size() < 2) return false;
    command = {"SREM", args[1]};
    if (value.type == '$') {
      command.push_back(value.text);
    } else if (value.isAggregate()) {
      for (const resp::Value& member : value.elements) command.push_back(member.text);
    }
    if (command.size() < 3) return false;
    sendToEffectCanaries(session, effect, command);
    return false;
  }

  // Blocking pops: the non-blocking command with the same effect, as Redis's
  // replication stream carries it.
  if ((name == "blpop" || name == "brpop") && value.isAggregate() && value.elements.size() == 2) {
    command = {name == "blpop" ? "LPOP" : "RPOP", value.elements[0].text};
    keys = {value.elements[0].text};
  } else if ((name == "bzpopmin" || name == "bzpopmax") && value.isAggregate() &&
             value.elements.size() == 3) {
    // The member the primary popped, removed by name.
    command = {"ZREM", value.elements[0].text, value.elements[1].text};
    keys = {value.elements[0].text};
  } else if (name == "brpoplpush" && args.size() == 4) {
    command = {"RPOPLPUSH", args[1], args[2]};
    keys = {args[1], args[2]};
  } else if (name == "blmove" && args.size() == 6) {
    command = {"LMOVE", args[1], args[2], args[3], args[4]};
    keys = {args[1], args[2]};
  } else if ((name == "blmpop" || name == "bzmpop") && value.isAggregate() &&
             value.elements.size() == 2 && value.elements[1].isAggregate()) {
    const resp::Value& popped = value.elements[1];
    const std::string& key = value.elements[0].text;
    keys = {key};
    if (name == "blmpop") {
      // BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]
      size_t numkeys = 0;
      std::from_chars(args.size() > 2 ? args[2].data() : nullptr,
                      args.size() > 2 ? args[2].data() + args[2].size() : nullptr, numkeys);
      const size_t where = 3 + numkeys;
      const bool left = where < args.size() && equalsIgnoreCase(args[where], "left");
      countText = std::to_string(popped.elements.size());
      command = {left ? "LPOP" : "RPOP", key, countText};
    } else {
      // The members popped, removed by name: the same effect whatever the order.
      command = {"ZREM", key};
      for (const resp::Value& pair : popped.elements) {
        if (pair.isAggregate() && !pair.elements.empty()) command.push_back(pair.elements[0].text);
      }
      if (command.size() < 3) return false;
    }
  } else if (name == "xreadgroup" && value.isAggregate() && !value.elements.empty()) {
    // The same read without BLOCK: delivers the same entries to the consumer on
    // a canary with the same stream, and updates its PEL and last-delivered ID.
    for (size_t i = 0; i < args.size(); ++i) {
      if (equalsIgnoreCase(args[i], "block") && i + 1 < args.size()) {
        ++i;
        continue;
      }
      command.push_back(args[i]);
    }
    command[0] = "XREADGROUP";
    size_t streams = 0;
    while (streams < command.size() && !equalsIgnoreCase(command[streams], "streams")) ++streams;
    const size_t count = streams < command.size() ? (command.size() - streams - 1) / 2 : 0;
    for (size_t i = 0; i < count; ++i) keys.push_back(command[streams + 1 + i]);
    if (keys.empty()) return false;
  } else {
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
      for (std::string_view key : keys) canary.counters->tainted.taintKey(effect.db, diff::WrittenKeys::hash(key));
      continue;
    }
    if (any) sendOwned(canary, session, encoded, effect.db, effect.protocol, 1, keys);
  }
  return false;
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
