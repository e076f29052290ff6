#include "redmirror/control/mirror_manager.h"

#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace redmirror::control {

namespace {

std::map<std::string, mirror::Policy> policyOverrides(const ProxyConfig& config) {
  std::map<std::string, mirror::Policy> overrides;
  for (const auto& [command, text] : config.policy) {
    mirror::Policy policy;
    if (mirror::parsePolicy(text, policy)) overrides[command] = policy;
  }
  return overrides;
}

// A cheap fingerprint of a COMMAND reply, to publish only when it changed.
void fingerprint(const redisReply* reply, std::string& out) {
  if (reply == nullptr) return;
  out += std::to_string(reply->type);
  out += ':';
  if (reply->str != nullptr) out.append(reply->str, reply->len);
  out += std::to_string(reply->integer);
  for (size_t i = 0; i < reply->elements; ++i) fingerprint(reply->element[i], out);
}

// COMMAND is read again this often even without a reconnect (MODULE LOAD adds commands).
constexpr int64_t kCommandsRefreshMs = 60000;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t unixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t sum(const mirror::CanaryCounterSet& set, std::atomic<uint64_t> mirror::CanaryCounters::*counter) {
  uint64_t total = 0;
  for (const mirror::CanaryCounters& counters : set.perWorker) total += (counters.*counter).load(std::memory_order_relaxed);
  return total;
}

uint64_t mirroredTotal(const mirror::CanaryCounterSet& set) {
  return sum(set, &mirror::CanaryCounters::mirrored) + sum(set, &mirror::CanaryCounters::effects_mirrored);
}

}  // namespace

// Non-comparisons by reason (REPORT's "skipped"), from the counters the data
// path keeps anyway; cumulative, so a window subtracts its start.
std::map<std::string, uint64_t> skippedTotals(const mirror::CanaryCounterSet& set) {
  using C = mirror::CanaryCounters;
  return {
      {"policy", sum(set, &C::skipped_policy)},
      {"unsampled_keys", sum(set, &C::skipped_unsampled_keys)},
      {"timeout", sum(set, &C::dropped_timeout)},
      {"dropped", sum(set, &C::dropped_queue_full) + sum(set, &C::dropped_oversize) + sum(set, &C::dropped_held)},
      {"disconnected", sum(set, &C::dropped_disconnected) + sum(set, &C::dropped_session_closed)},
      {"script_killed", sum(set, &C::scripts_killed)},
      {"primary_refused", sum(set, &C::scripts_refused) + sum(set, &C::skipped_refused)},
      {"tainted", sum(set, &C::skipped_tainted)},
      {"too_large", sum(set, &C::skipped_too_large)},
      {"shed", sum(set, &C::dropped_shed)},
      {"unconfirmed", sum(set, &C::dropped_unconfirmed)},
      {"acl_user", sum(set, &C::skipped_acl_user)},
  };
}

std::map<std::string, uint64_t> droppedTotals(const mirror::CanaryCounterSet& set) {
  using C = mirror::CanaryCounters;
  return {
      {"queue_full", sum(set, &C::dropped_queue_full)},
      {"disconnected", sum(set, &C::dropped_disconnected)},
      {"timeout", sum(set, &C::dropped_timeout)},
      {"oversize", sum(set, &C::dropped_oversize)},
      {"session_closed", sum(set, &C::dropped_session_closed)},
      {"unconfirmed", sum(set, &C::dropped_unconfirmed)},
      {"shed", sum(set, &C::dropped_shed)},
      {"held", sum(set, &C::dropped_held)},
  };
}

nlohmann::ordered_json percentJson(const std::string& name, uint32_t hundredths) {
  return {{"canary", name}, {"percent", hundredths / 100.0}};
}

nlohmann::ordered_json canaryJson(const std::string& name, const net::HostPort& address, uint32_t hundredths) {
  return {{"canary", name}, {"address", address.str()}, {"percent", hundredths / 100.0}};
}

MirrorManager::MirrorManager(const ProxyConfig& config, std::vector<mirror::SettingsSubscriber*> workers)
    : config_(config), workers_(std::move(workers)) {
  auto table = std::make_shared<mirror::CommandTable>();
  table->loadBuiltin();
  table->applyPolicy(policyOverrides(config_));
  commands_ = table;
  sampler_ = std::make_shared<mirror::SlotSampler>(config_.samplingSeed);
  guards_ = std::make_shared<mirror::GuardOrder>(workers_.size());
  auto redaction = std::make_shared<diff::Redaction>();
  redaction->plainKeys = config_.reportPlainKeys;
  redaction->fullValues = config_.reportValues;
  redaction->hashKey = readSecret("report_key_hash_secret", config_.reportKeyHashSecret);
  if (redaction->hashKey.empty()) {
    // Random per start: key hashes cannot be matched across restarts or guessed.
    unsigned char random[32];
    RAND_bytes(random, sizeof(random));
    redaction->hashKey.assign(reinterpret_cast<const char*>(random), sizeof(random));
  }
  redaction_ = redaction;
  std::string error;
  net::toSockaddr(config_.primary, primaryAddress_, error);
  primaryPassword_ = readSecret("primary_password", config_.primaryPassword);
  for (const CanaryConfig& canary : config_.canaries) canaries_.push_back(makeCanary(canary));
  std::lock_guard<std::mutex> lock(mutex_);
  publishLocked();
}

mirror::CanarySettings MirrorManager::makeCanary(const CanaryConfig& canary) {
  return makeCanary(canary, readSecret("canaries." + canary.name + ".password", canary.password));
}

mirror::CanarySettings MirrorManager::makeCanary(const CanaryConfig& canary, std::string password) {
  mirror::CanarySettings settings;
  settings.id = nextId_++;
  settings.name = canary.name;
  settings.address = canary.address;
  std::string error;
  net::toSockaddr(canary.address, settings.sockaddr, error);
  settings.percentHundredths = canary.percentHundredths;
  settings.username = canary.username;
  settings.password = std::move(password);
  settings.queueBudgetBytes = canary.queueBudgetBytes;
  settings.replyTimeoutMs = canary.replyTimeoutMs;
  settings.linksPerWorker = canary.linksPerWorker;
  // Canaries' home workers (their one link) are spread over the workers.
  settings.counters = std::make_shared<mirror::CanaryCounterSet>(workers_.size(), config_.writtenKeysFilterBytes,
                                                                 static_cast<size_t>(settings.id),
                                                                 config_.taintedKeysMax);
  windows_[settings.id] = Window{nowMs(), 0, {}, unixNowMs()};
  return settings;
}

void MirrorManager::publishLocked() {
  auto settings = std::make_shared<mirror::MirrorSettings>();
  settings->canaries = canaries_;
  settings->paused = paused_;
  settings->commands = commands_;
  settings->sampler = sampler_;
  settings->workers = workers_.size();
  settings->maxMirroredCommandBytes = config_.maxMirroredCommandBytes;
  settings->ttlToleranceMs = config_.ttlToleranceMs;
  settings->linkBatchDelayUs = config_.linkBatchDelayUs;
  settings->linkBatchBytes = config_.linkBatchBytes;
  settings->redaction = redaction_;
  settings->guards = guards_;
  settings->warmCanary = config_.warmCanary;
  settings->warmRatePerSecond = config_.warmRatePerSecond;
  settings->primaryAddress = primaryAddress_;
  settings->primaryUsername = config_.primaryUsername;
  settings->primaryPassword = primaryPassword_;
  current_ = settings;
  for (mirror::SettingsSubscriber* worker : workers_) worker->publish(settings);
}

std::string MirrorManager::journalLocked(const nlohmann::ordered_json& before, const nlohmann::ordered_json& after) {
  if (journal_ == nullptr) return "";
  return journal_->recordChange(before, after);
}

std::shared_ptr<const mirror::MirrorSettings> MirrorManager::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

bool MirrorManager::haveServerCommands() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return serverCommands_;
}

std::string MirrorManager::readCommands(ServerWatch& server, mirror::CommandTable& table,
                                        std::string& signature) {
  std::string error;
  ReplyPtr reply = server.command("COMMAND", error);
  if (!reply) return error;
  if (reply->type == REDIS_REPLY_ERROR) return "COMMAND: " + std::string(reply->str, reply->len);
  fingerprint(reply.get(), signature);
  if (!table.loadFromCommandReply(reply.get(), error)) return "COMMAND: " + error;
  table.applyPolicy(policyOverrides(config_));
  return "";
}

void MirrorManager::watchServers() {
  const int64_t now = nowMs();
  watchPrimary(now);
  watchCanaries(now);
}

void MirrorManager::watchPrimary(int64_t now) {
  if (!primaryWatch_) {
    primaryWatch_ = std::make_unique<ServerWatch>(config_.primary, config_.primaryUsername,
                                                  readSecret("primary_password", config_.primaryPassword));
  }
  bool reconnected = false;
  std::string error = primaryWatch_->check(reconnected);
  if (!error.empty()) {
    if (primaryReachable_) spdlog::warn("cannot reach the primary {} for COMMAND: {}", config_.primary.str(), error);
    primaryReachable_ = false;
    return;
  }
  if (!primaryReachable_) spdlog::info("primary {} reachable again", config_.primary.str());
  primaryReachable_ = true;
  if (!reconnected && haveServerCommands() && now - commandsReadMs_ < kCommandsRefreshMs) return;
  auto table = std::make_shared<mirror::CommandTable>();
  std::string signature;
  error = readCommands(*primaryWatch_, *table, signature);
  if (!error.empty()) {
    spdlog::warn("cannot read COMMAND from the primary {}: {}", config_.primary.str(), error);
    return;
  }
  commandsReadMs_ = now;
  std::lock_guard<std::mutex> lock(mutex_);
  if (serverCommands_ && signature == commandsSignature_) return;
  commandsSignature_ = std::move(signature);
  serverCommands_ = true;
  commands_ = table;
  ++commandsGeneration_;
  spdlog::info("learned {} commands from the primary", table->size());
  publishLocked();
}

void MirrorManager::watchCanaries(int64_t now) {
  std::vector<mirror::CanarySettings> canaries;
  std::shared_ptr<const mirror::CommandTable> primary;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    canaries = canaries_;
    primary = serverCommands_ ? commands_ : nullptr;
    generation = commandsGeneration_;
  }
  std::erase_if(canaryWatches_, [&](const auto& entry) {
    return std::none_of(canaries.begin(), canaries.end(),
                        [&](const mirror::CanarySettings& canary) { return canary.id == entry.first; });
  });
  for (const mirror::CanarySettings& canary : canaries) {
    CanaryWatch& watch = canaryWatches_[canary.id];
    if (!watch.server) {
      watch.server = std::make_unique<ServerWatch>(canary.address, canary.username, canary.password);
    }
    bool reconnected = false;
    // Unreachable: the canary's links count and log that; compare when it is back.
    if (!watch.server->check(reconnected).empty() || primary == nullptr) continue;
    if (!reconnected && watch.diffedGeneration == generation && now - watch.diffedMs < kCommandsRefreshMs) continue;
    mirror::CommandTable table;
    std::string signature;
    if (!readCommands(*watch.server, table, signature).empty()) continue;
    std::vector<std::string> differences = primary->differences(table);
    if (!differences.empty()) {
      spdlog::warn("canary {} commands differ from the primary's: {} difference(s), first: {}", canary.name,
                   differences.size(), differences.front());
    }
    watch.diffedGeneration = generation;
    watch.diffedMs = now;
    std::lock_guard<std::mutex> lock(mutex_);
    commandDifferences_[canary.id] = std::move(differences);
  }
}

std::string MirrorManager::setPercent(const std::string& canary, uint32_t percentHundredths) {
  if (percentHundredths > 10000) return "percent must be between 0 and 100";
  std::lock_guard<std::mutex> lock(mutex_);
  for (mirror::CanarySettings& settings : canaries_) {
    if (settings.name == canary) {
      const std::string refused = journalLocked(percentJson(settings.name, settings.percentHundredths),
                                                percentJson(settings.name, percentHundredths));
      if (!refused.empty()) return refused;
      settings.percentHundredths = percentHundredths;
      publishLocked();
      return "";
    }
  }
  return "unknown canary '" + canary + "'";
}

std::string MirrorManager::addCanary(const std::string& name, const std::string& address) {
  if (!validCanaryName(name)) return "canary names use 1-64 of A-Z a-z 0-9 _ . -";
  std::string error;
  auto parsed = net::parseHostPort(address, error);
  if (!parsed) return error;
  if (parsed->host == config_.primary.host && parsed->port == config_.primary.port) {
    return "the primary itself cannot be a canary";
  }
  CanaryConfig canary;
  canary.name = name;
  canary.address = *parsed;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const mirror::CanarySettings& settings : canaries_) {
    if (settings.name == name) return "canary '" + name + "' exists";
  }
  const std::string refused = journalLocked(nullptr, canaryJson(name, canary.address, 0));
  if (!refused.empty()) return refused;
  canaries_.push_back(makeCanary(canary));
  publishLocked();
  return "";
}

std::string MirrorManager::removeCanary(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto removed = std::find_if(canaries_.begin(), canaries_.end(),
                                    [&](const mirror::CanarySettings& settings) { return settings.name == name; });
  if (removed == canaries_.end()) return "unknown canary '" + name + "'";
  const std::string refused =
      journalLocked(canaryJson(removed->name, removed->address, removed->percentHundredths), nullptr);
  if (!refused.empty()) return refused;
  const size_t before = canaries_.size();
  std::erase_if(canaries_, [&](const mirror::CanarySettings& settings) {
    if (settings.name != name) return false;
    windows_.erase(settings.id);
    commandDifferences_.erase(settings.id);
    return true;
  });
  if (canaries_.size() == before) return "unknown canary '" + name + "'";
  publishLocked();
  return "";
}

std::string MirrorManager::setPaused(bool paused) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string refused = journalLocked({{"paused", paused_}}, {{"paused", paused}});
  if (!refused.empty()) return refused;
  paused_ = paused;
  publishLocked();
  return "";
}

bool MirrorManager::paused() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return paused_;
}

std::vector<CanaryStatus> MirrorManager::canaries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CanaryStatus> result;
  for (const mirror::CanarySettings& settings : canaries_) {
    CanaryStatus status;
    status.name = settings.name;
    status.address = settings.address.str();
    status.percentHundredths = settings.percentHundredths;
    status.effectivePercentHundredths = mirror::effectiveHundredths(settings.percentHundredths, *settings.counters);
    status.queuedBytes = settings.counters->hub.held();
    status.linksTotal = 1;  // one link per canary, on its home worker (CanaryHub)
    status.dropped = droppedTotals(*settings.counters);
    for (const mirror::CanaryCounters& counters : settings.counters->perWorker) {
      auto read = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
      status.mirrored += read(counters.mirrored) + read(counters.effects_mirrored);
      status.compared += read(counters.compared);
      status.matched += read(counters.matched);
      status.diverged += read(counters.diverged);
      status.linkWrites += read(counters.link_writes);
      status.reconnects += read(counters.reconnects);
      status.protocolErrors += read(counters.protocol_errors);
      status.keysTainted += read(counters.keys_tainted);
      status.linkReads += read(counters.link_reads);
      status.authFailures += read(counters.auth_failures);
      const int64_t up = counters.links_up.load(std::memory_order_relaxed);
      status.linksUp += static_cast<uint32_t>(up > 0 ? up : 0);
    }
    result.push_back(std::move(status));
  }
  return result;
}

}  // namespace redmirror::control

namespace redmirror::control {

std::string MirrorManager::report(const std::string& canary, std::string& json) const {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  bool found = false;
  for (const mirror::CanarySettings& settings : canaries_) {
    if (!canary.empty() && settings.name != canary) continue;
    found = true;
    const diff::ReportData data = windowData(settings);
    const mirror::CanaryCounterSet& set = *settings.counters;
    const Window started = windowOf(settings.id);
    const double seconds = static_cast<double>(nowMs() - started.startedMs) / 1000.0;
    nlohmann::ordered_json one;
    // Command-table differences open the report: they explain many divergences.
    const auto differences = commandDifferences_.find(settings.id);
    one["command_table"] = differences == commandDifferences_.end()
                               ? nlohmann::ordered_json{{"checked", false}}
                               : nlohmann::ordered_json{{"checked", true}, {"differences", differences->second}};
    one.update(diff::reportJson(settings.name, settings.percentHundredths, seconds,
                                mirroredTotal(set) - std::min(mirroredTotal(set), started.mirroredBefore), data));
    // Keys (and databases) whose mirrored history has a gap: not judged until
    // repaired or overwritten; RESET does not clear them.
    const std::vector<uint32_t> dbs = set.tainted.taintedDbs();
    nlohmann::ordered_json databases = nlohmann::ordered_json::array();
    for (uint32_t db : dbs) {
      if (db < mirror::TaintedKeys::kMaxDbs) {
        databases.push_back(db);
      } else {
        databases.push_back(std::to_string(mirror::TaintedKeys::kMaxDbs) + "+");
      }
    }
    one["effective_percent"] = mirror::effectiveHundredths(settings.percentHundredths, set) / 100.0;
    one["taint"] = {{"keys", set.tainted.keys()}, {"databases", databases}, {"overflows", set.tainted.overflows()}};
    all.push_back(std::move(one));
  }
  if (!found) return "unknown canary '" + canary + "'";
  json = canary.empty() ? nlohmann::ordered_json{{"canaries", all}}.dump() : all.front().dump();
  return "";
}

MirrorManager::Window MirrorManager::windowOf(uint64_t canaryId) const {
  const auto window = windows_.find(canaryId);
  return window == windows_.end() ? Window{} : window->second;
}

diff::ReportData MirrorManager::windowData(const mirror::CanarySettings& settings) const {
  diff::ReportData data;
  for (const diff::CanaryReport& report : settings.counters->reports) {
    data.merge(report.snapshot(), diff::CanaryReport::kMaxSamples);
  }
  for (const auto& [reason, count] : skippedTotals(*settings.counters)) data.skipped[reason] += count;
  // Counters are cumulative (for metrics); the report covers the window.
  const Window started = windowOf(settings.id);
  for (auto& [reason, count] : data.skipped) {
    auto base = started.skippedBefore.find(reason);
    if (base != started.skippedBefore.end()) count -= std::min(count, base->second);
  }
  return data;
}

std::vector<CanaryReading> MirrorManager::readCanaries(bool withWindows) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CanaryReading> out;
  out.reserve(canaries_.size());
  for (const mirror::CanarySettings& settings : canaries_) {
    CanaryReading reading;
    reading.name = settings.name;
    reading.address = settings.address.str();
    reading.percentHundredths = settings.percentHundredths;
    reading.counters = settings.counters;
    const Window started = windowOf(settings.id);
    reading.windowStartedUnixMs = started.startedUnixMs;
    reading.windowSeconds = static_cast<double>(nowMs() - started.startedMs) / 1000.0;
    const uint64_t mirrored = mirroredTotal(*settings.counters);
    reading.windowMirrored = mirrored - std::min(mirrored, started.mirroredBefore);
    if (withWindows) reading.window = windowData(settings);
    if (const auto differences = commandDifferences_.find(settings.id); differences != commandDifferences_.end()) {
      reading.commandTableChecked = true;
      reading.commandDifferences = differences->second;
    }
    out.push_back(std::move(reading));
  }
  return out;
}

std::string MirrorManager::resetWindow(const std::string& canary) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Recorded as each window's age before and after (a new window is 0 s old).
  nlohmann::ordered_json before = nlohmann::ordered_json::object();
  nlohmann::ordered_json after = nlohmann::ordered_json::object();
  for (const mirror::CanarySettings& settings : canaries_) {
    if (!canary.empty() && settings.name != canary) continue;
    const auto window = windows_.find(settings.id);
    const int64_t started = window == windows_.end() ? nowMs() : window->second.startedMs;
    before[settings.name] = {{"window_seconds", static_cast<double>(nowMs() - started) / 1000.0}};
    after[settings.name] = {{"window_seconds", 0.0}};
  }
  if (before.empty()) return "unknown canary '" + canary + "'";
  const std::string refused = journalLocked(before, after);
  if (!refused.empty()) return refused;
  bool found = false;
  for (mirror::CanarySettings& settings : canaries_) {
    if (!canary.empty() && settings.name != canary) continue;
    found = true;
    mirror::CanaryCounterSet& set = *settings.counters;
    for (diff::CanaryReport& report : set.reports) report.reset();
    set.written.clear();
    windows_[settings.id] = Window{nowMs(), mirroredTotal(set), skippedTotals(set), unixNowMs()};
  }
  if (!found) return "unknown canary '" + canary + "'";
  return "";
}

}  // namespace redmirror::control
