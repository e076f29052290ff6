// WorkerMirror: the script cache (EVALSHA on a canary that never saw the script).
#include "worker_mirror_internal.h"

namespace redmirror::mirror {

using namespace detail;  // NOLINT(google-build-using-namespace): this class's own helpers

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
  retries_[id] = ScriptRetry{resp::encodeCommand(eval), std::move(sha), canary.id, session.state.db(), protocol};
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
    sendOwned(canary, session, resp::encodeCommand({"SCRIPT", "LOAD", known->second}), session.state.db(), protocol, 1);
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

}  // namespace redmirror::mirror
