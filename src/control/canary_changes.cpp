#include "redmirror/control/canary_changes.h"

#include <cstdio>

namespace redmirror::control {

namespace {

const CanaryConfig* find(const std::vector<CanaryConfig>& canaries, const std::string& name) {
  for (const CanaryConfig& canary : canaries) {
    if (canary.name == name) return &canary;
  }
  return nullptr;
}

std::string percentText(uint32_t hundredths) {
  char text[16];
  if (hundredths % 100 == 0) {
    std::snprintf(text, sizeof(text), "%u%%", hundredths / 100);
  } else {
    std::snprintf(text, sizeof(text), "%u.%02u%%", hundredths / 100, hundredths % 100);
  }
  return text;
}

void appendList(std::string& out, const char* verb, const std::vector<std::string>& items) {
  if (items.empty()) return;
  if (!out.empty()) out += "; ";
  out += verb;
  for (size_t i = 0; i < items.size(); ++i) out += (i == 0 ? " " : ", ") + items[i];
}

}  // namespace

bool sameConnection(const CanaryConfig& a, const CanaryConfig& b) {
  return a.address.host == b.address.host && a.address.port == b.address.port && a.username == b.username &&
         a.password.file == b.password.file && a.password.env == b.password.env &&
         a.queueBudgetBytes == b.queueBudgetBytes && a.replyTimeoutMs == b.replyTimeoutMs &&
         a.linksPerWorker == b.linksPerWorker;
}

CanaryChanges planCanaryChanges(const std::vector<CanaryConfig>& previous, const std::vector<CanaryConfig>& next) {
  CanaryChanges changes;
  for (const CanaryConfig& old : previous) {
    if (find(next, old.name) == nullptr) changes.removed.push_back(old.name);
  }
  for (const CanaryConfig& canary : next) {
    const CanaryConfig* old = find(previous, canary.name);
    if (old == nullptr) {
      changes.added.push_back(canary);
    } else if (!sameConnection(*old, canary)) {
      changes.replaced.push_back(canary);
    } else if (old->percentHundredths != canary.percentHundredths) {
      changes.reweighted.push_back(canary);
    }
  }
  return changes;
}

std::string CanaryChanges::summary(const std::vector<CanaryConfig>& previous) const {
  std::vector<std::string> addedNames;
  for (const CanaryConfig& canary : added) addedNames.push_back(canary.name + " (" + percentText(canary.percentHundredths) + ")");
  std::vector<std::string> replacedNames;
  for (const CanaryConfig& canary : replaced) replacedNames.push_back(canary.name);
  std::vector<std::string> reweightedNames;
  for (const CanaryConfig& canary : reweighted) {
    const CanaryConfig* old = find(previous, canary.name);
    reweightedNames.push_back(canary.name + " (" + percentText(old ? old->percentHundredths : 0) + " -> " +
                              percentText(canary.percentHundredths) + ")");
  }
  std::string out;
  appendList(out, "added", addedNames);
  appendList(out, "replaced", replacedNames);
  appendList(out, "re-weighted", reweightedNames);
  appendList(out, "removed", removed);
  return out.empty() ? "no canary changed" : out;
}

}  // namespace redmirror::control
