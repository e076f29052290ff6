// MirrorManager::applyCanaryChanges: a reload's canary changes, applied at once.
#include <algorithm>

#include "redmirror/control/mirror_manager.h"

namespace redmirror::control {

namespace {

struct Entry {
  std::string name;
  net::HostPort address;
  uint32_t percentHundredths = 0;
};

nlohmann::ordered_json canariesJson(const std::vector<Entry>& entries) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const Entry& entry : entries) {
    out[entry.name] = {{"address", entry.address.str()}, {"percent", entry.percentHundredths / 100.0}};
  }
  return nlohmann::ordered_json{{"canaries", std::move(out)}};
}

bool connectsAs(const mirror::CanarySettings& running, const CanaryConfig& canary, const std::string& password) {
  return running.address.host == canary.address.host && running.address.port == canary.address.port &&
         running.username == canary.username && running.password == password &&
         running.queueBudgetBytes == canary.queueBudgetBytes && running.replyTimeoutMs == canary.replyTimeoutMs &&
         running.linksPerWorker == canary.linksPerWorker;
}

}  // namespace

std::string MirrorManager::applyCanaryChanges(const CanaryChanges& changes) {
  if (changes.empty()) return "";
  struct Upsert {
    const CanaryConfig* canary;
    std::string password;
    enum class Action { kPercent, kReplace, kAdd } action = Action::kAdd;
  };
  std::vector<Upsert> upserts;
  try {
    // Every secret is read before anything changes: one that cannot be read rejects the whole reload.
    for (const auto* list : {&changes.added, &changes.replaced, &changes.reweighted}) {
      for (const CanaryConfig& canary : *list) {
        upserts.push_back({&canary, readSecret("canaries." + canary.name + ".password", canary.password)});
      }
    }
  } catch (const ConfigError& e) {
    return e.what();
  }
  for (const Upsert& upsert : upserts) {
    const net::HostPort& address = upsert.canary->address;
    if (address.host == config_.primary.host && address.port == config_.primary.port) {
      return "canaries." + upsert.canary->name + ".address: the primary itself cannot be a canary";
    }
  }

  std::lock_guard<std::mutex> lock(mutex_);
  auto running = [&](const std::string& name) {
    return std::find_if(canaries_.begin(), canaries_.end(),
                        [&](const mirror::CanarySettings& settings) { return settings.name == name; });
  };
  auto removed = [&](const std::string& name) {
    return std::find(changes.removed.begin(), changes.removed.end(), name) != changes.removed.end();
  };

  // The canaries before and after, for the record, before anything changes.
  std::vector<Entry> before;
  std::vector<Entry> after;
  for (const mirror::CanarySettings& settings : canaries_) {
    before.push_back({settings.name, settings.address, settings.percentHundredths});
    if (!removed(settings.name)) after.push_back(before.back());
  }
  for (Upsert& upsert : upserts) {
    const CanaryConfig& canary = *upsert.canary;
    const auto current = running(canary.name);
    auto entry = std::find_if(after.begin(), after.end(), [&](const Entry& e) { return e.name == canary.name; });
    if (current == canaries_.end() || entry == after.end()) {
      upsert.action = Upsert::Action::kAdd;
      after.push_back({canary.name, canary.address, canary.percentHundredths});
      continue;
    }
    upsert.action = connectsAs(*current, canary, upsert.password) ? Upsert::Action::kPercent
                                                                  : Upsert::Action::kReplace;
    *entry = {canary.name, canary.address, canary.percentHundredths};
  }
  const std::string refused = journalLocked(canariesJson(before), canariesJson(after));
  if (!refused.empty()) return refused;

  std::erase_if(canaries_, [&](const mirror::CanarySettings& settings) {
    if (!removed(settings.name)) return false;
    windows_.erase(settings.id);
    commandDifferences_.erase(settings.id);
    return true;
  });
  for (Upsert& upsert : upserts) {
    const CanaryConfig& canary = *upsert.canary;
    const auto current = running(canary.name);
    switch (upsert.action) {
      case Upsert::Action::kPercent:
        current->percentHundredths = canary.percentHundredths;
        break;
      case Upsert::Action::kReplace:
        // Another address or credentials: a new canary under the old name (new links, counters, window).
        windows_.erase(current->id);
        commandDifferences_.erase(current->id);
        *current = makeCanary(canary, std::move(upsert.password));
        break;
      case Upsert::Action::kAdd:
        canaries_.push_back(makeCanary(canary, std::move(upsert.password)));
        break;
    }
  }
  publishLocked();
  return "";
}

}  // namespace redmirror::control
