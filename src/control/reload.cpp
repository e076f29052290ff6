#include "redmirror/control/reload.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <optional>

namespace redmirror::control {

namespace {

// Fields applied by a reload; every other field needs a restart.
constexpr const char* kReloadedField = "canaries";

}  // namespace

ConfigReloader::ConfigReloader(std::string path, Loader load, const ProxyConfig& loaded, MirrorManager& mirror,
                               AuditTrail* audit)
    : path_(std::move(path)),
      load_(std::move(load)),
      mirror_(mirror),
      audit_(audit),
      loadedCanaries_(loaded.canaries),
      loadedFields_(fileFields()) {}

std::map<std::string, std::string> ConfigReloader::fileFields() const {
  std::map<std::string, std::string> fields;
  if (path_.empty()) return fields;
  try {
    const YAML::Node root = YAML::LoadFile(path_);
    if (!root.IsMap()) return fields;
    for (const auto& entry : root) fields[entry.first.as<std::string>()] = YAML::Dump(entry.second);
  } catch (const YAML::Exception&) {
    // load_() has read this file already; if it changed since, the next reload compares again.
  }
  return fields;
}

std::string ConfigReloader::apply(std::string& summary) {
  if (path_.empty()) return "no configuration file to reload (start with --config FILE)";
  ProxyConfig next;
  try {
    next = load_();
  } catch (const ConfigError& e) {
    return e.what();
  }
  const CanaryChanges changes = planCanaryChanges(loadedCanaries_, next.canaries);
  if (std::string error = mirror_.applyCanaryChanges(changes); !error.empty()) return error;
  summary = changes.summary(loadedCanaries_);
  loadedCanaries_ = next.canaries;

  std::map<std::string, std::string> fields = fileFields();
  std::vector<std::string> keys;
  for (const auto& [key, value] : fields) keys.push_back(key);
  for (const auto& [key, value] : loadedFields_) {
    if (fields.count(key) == 0) keys.push_back(key);
  }
  for (const std::string& key : keys) {
    if (key == kReloadedField) continue;
    const auto old = loadedFields_.find(key);
    const auto now = fields.find(key);
    const bool same = old != loadedFields_.end() && now != fields.end() && old->second == now->second;
    if (!same) spdlog::warn("configuration reload: field '{}' changed; it takes effect only at restart", key);
  }
  loadedFields_ = std::move(fields);
  return "";
}

std::string ConfigReloader::reload(const AdminPeer& requester) {
  std::optional<AuditTrail::Scope> scope;
  if (audit_ != nullptr) scope.emplace(audit_->open(requester, {"RELOAD", path_}));
  std::string summary;
  const std::string error = apply(summary);
  if (!error.empty()) {
    spdlog::error("configuration reload ({}) rejected, the running configuration stays: {}", requester.describe(),
                  error);
    if (scope) scope->finish("rejected: " + error);
    return error;
  }
  spdlog::info("configuration reloaded from {} ({}): {}", path_, requester.describe(), summary);
  if (scope) scope->finish("ok: " + summary);
  return "";
}

}  // namespace redmirror::control
