#include "redmirror/control/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "redmirror/control/admin_access.h"

namespace redmirror::control {

namespace {

const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

template <typename T>
T fieldAs(const YAML::Node& node, const std::string& field, const char* expected) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw ConfigError("field '" + field + "': expected " + expected);
  }
}

SecretSource secretFrom(const YAML::Node& node, const std::string& prefix, const std::string& field) {
  SecretSource source;
  if (node[prefix + "_file"]) source.file = fieldAs<std::string>(node[prefix + "_file"], field + "." + prefix + "_file", "a path");
  if (node[prefix + "_env"]) source.env = fieldAs<std::string>(node[prefix + "_env"], field + "." + prefix + "_env", "a variable name");
  if (!source.file.empty() && !source.env.empty()) {
    throw ConfigError("field '" + field + "': give " + prefix + "_file or " + prefix + "_env, not both");
  }
  return source;
}

uint32_t percentField(const YAML::Node& node, const std::string& field) {
  uint32_t hundredths = 0;
  if (!parsePercent(fieldAs<std::string>(node, field, "a percentage"), hundredths)) {
    throw ConfigError("field '" + field + "': expected a percentage 0-100 with at most 2 decimals");
  }
  return hundredths;
}

CanaryConfig canaryFrom(const YAML::Node& node, size_t index) {
  const std::string where = "canaries[" + std::to_string(index) + "]";
  if (!node.IsMap()) throw ConfigError("field '" + where + "': expected a mapping");
  static const std::set<std::string> known = {"name", "address", "percent", "username", "password_file",
                                              "password_env", "queue_budget_bytes", "reply_timeout_ms",
                                              "links_per_worker"};
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (known.count(key) == 0) throw ConfigError("field '" + where + "': unknown field '" + key + "'");
  }
  CanaryConfig canary;
  if (!node["name"]) throw ConfigError("field '" + where + ".name': required");
  canary.name = fieldAs<std::string>(node["name"], where + ".name", "a name");
  if (!validCanaryName(canary.name)) {
    throw ConfigError("field '" + where + ".name': use 1-64 of A-Z a-z 0-9 _ . -");
  }
  if (!node["address"]) throw ConfigError("field '" + where + ".address': required");
  canary.address = parseAddressField("field '" + where + ".address'",
                                     fieldAs<std::string>(node["address"], where + ".address", "HOST:PORT"));
  if (node["percent"]) canary.percentHundredths = percentField(node["percent"], where + ".percent");
  if (node["username"]) canary.username = fieldAs<std::string>(node["username"], where + ".username", "a name");
  canary.password = secretFrom(node, "password", where);
  if (node["queue_budget_bytes"]) {
    canary.queueBudgetBytes = fieldAs<size_t>(node["queue_budget_bytes"], where + ".queue_budget_bytes", "a byte count");
  }
  if (node["reply_timeout_ms"]) {
    canary.replyTimeoutMs = fieldAs<uint32_t>(node["reply_timeout_ms"], where + ".reply_timeout_ms", "milliseconds");
  }
  if (node["links_per_worker"]) {
    canary.linksPerWorker = fieldAs<uint32_t>(node["links_per_worker"], where + ".links_per_worker", "a count");
  }
  return canary;
}

// The admin access and audit fields.
void adminFieldFrom(const std::string& key, const YAML::Node& value, ProxyConfig& config) {
  if (key == "admin_allow_uids") {
    // A list of uids, or one "UID[,UID...]" string as --admin-allow-uid takes.
    std::string text;
    if (value.IsSequence()) {
      for (size_t i = 0; i < value.size(); ++i) {
        text += (i == 0 ? "" : ",") + fieldAs<std::string>(value[i], key + "[" + std::to_string(i) + "]", "a uid");
      }
    } else {
      text = fieldAs<std::string>(value, key, "a list of uids");
    }
    std::string error;
    if (!parseUidList(text, config.adminAllowUids, error)) throw ConfigError("field '" + key + "': " + error);
  } else if (key == "admin_listen") {
    config.adminListen = parseAddressField("field 'admin_listen'", fieldAs<std::string>(value, key, "HOST:PORT"));
  } else if (key == "admin_token_file") {
    config.adminTokenFile = fieldAs<std::string>(value, key, "a path");
  } else if (key == "audit_log") {
    config.auditLog = fieldAs<std::string>(value, key, "a path");
  }
}

}  // namespace

bool parsePercent(std::string_view text, uint32_t& hundredths) {
  // Decimal digits only, so 12.34 is exactly 1234 hundredths (no binary floats).
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty()) return false;
  if (dot != std::string_view::npos && (fraction.empty() || fraction.size() > 2)) return false;
  uint64_t value = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > 100) return false;  // also bounds the arithmetic
  }
  value *= 100;
  uint64_t scale = 10;
  for (char c : fraction) {
    if (c < '0' || c > '9') return false;
    value += static_cast<uint64_t>(c - '0') * scale;
    scale /= 10;
  }
  if (value > 10000) return false;
  hundredths = static_cast<uint32_t>(value);
  return true;
}

std::pair<std::string, std::string> splitNameValue(const std::string& flag, const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    throw ConfigError(flag + ": expected NAME=VALUE, got '" + text + "'");
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

bool validCanaryName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string readSecret(const std::string& field, const SecretSource& source) {
  if (!source.env.empty()) {
    const char* value = std::getenv(source.env.c_str());
    if (value == nullptr) throw ConfigError(field + ": environment variable " + source.env + " is not set");
    return value;
  }
  if (!source.file.empty()) {
    std::ifstream in(source.file);
    if (!in) throw ConfigError(field + ": cannot read " + source.file);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  return "";
}

net::HostPort parseAddressField(const std::string& field, const std::string& value) {
  std::string error;
  auto parsed = net::parseHostPort(value, error);
  if (!parsed) throw ConfigError(field + ": " + error);
  return *parsed;
}

void loadConfigFile(const std::string& path, ProxyConfig& config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError("config file '" + path + "': cannot be read");
  } catch (const YAML::ParserException& e) {
    throw ConfigError("config file '" + path + "': " + e.what());
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) throw ConfigError("config file '" + path + "': expected a mapping at the top");

  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (key == "listen") {
      config.listen = parseAddressField("field 'listen'", fieldAs<std::string>(value, key, "HOST:PORT"));
    } else if (key == "primary") {
      config.primary = parseAddressField("field 'primary'", fieldAs<std::string>(value, key, "HOST:PORT"));
    } else if (key == "workers") {
      const int workers = fieldAs<int>(value, key, "an integer");
      if (workers < 0) throw ConfigError("field 'workers': must be 0 (one per CPU) or more");
      config.workers = static_cast<unsigned>(workers);
    } else if (key == "log_level") {
      config.logLevel = fieldAs<std::string>(value, key, "a log level");
    } else if (key == "observe") {
      config.observe = fieldAs<bool>(value, key, "true or false");
    } else if (key == "connect_timeout_ms") {
      config.connectTimeoutMs = fieldAs<uint32_t>(value, key, "milliseconds");
    } else if (key == "shutdown_timeout_ms") {
      config.shutdownTimeoutMs = fieldAs<uint32_t>(value, key, "milliseconds");
    } else if (key == "high_water_bytes") {
      config.highWaterBytes = fieldAs<size_t>(value, key, "a byte count");
    } else if (key == "low_water_bytes") {
      config.lowWaterBytes = fieldAs<size_t>(value, key, "a byte count");
    } else if (key == "backlog") {
      config.backlog = fieldAs<int>(value, key, "an integer");
    } else if (key == "canaries") {
      if (!value.IsSequence()) throw ConfigError("field 'canaries': expected a list");
      config.canaries.clear();
      for (size_t i = 0; i < value.size(); ++i) config.canaries.push_back(canaryFrom(value[i], i));
    } else if (key == "admin_socket") {
      config.adminSocket = fieldAs<std::string>(value, key, "a path");
    } else if (key == "http") {
      config.http = parseAddressField("field 'http'", fieldAs<std::string>(value, key, "HOST:PORT"));
    } else if (key == "admin_allow_uids" || key == "admin_listen" || key == "admin_token_file" ||
               key == "audit_log") {
      adminFieldFrom(key, value, config);
    } else if (key == "sampling_seed") {
      config.samplingSeed = fieldAs<uint64_t>(value, key, "an integer");
    } else if (key == "policy") {
      if (!value.IsMap()) throw ConfigError("field 'policy': expected a mapping of command: mirror|never|type_only");
      for (const auto& entry : value) {
        const std::string command = entry.first.as<std::string>();
        const std::string policy = fieldAs<std::string>(entry.second, "policy." + command, "mirror, never or type_only");
        if (policy != "mirror" && policy != "never" && policy != "type_only") {
          throw ConfigError("field 'policy." + command + "': expected mirror, never or type_only");
        }
        std::string lower = command;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        config.policy[lower] = policy;
      }
    } else if (key == "primary_username") {
      config.primaryUsername = fieldAs<std::string>(value, key, "a name");
    } else if (key == "primary_password_file") {
      config.primaryPassword.file = fieldAs<std::string>(value, key, "a path");
    } else if (key == "primary_password_env") {
      config.primaryPassword.env = fieldAs<std::string>(value, key, "a variable name");
    } else if (key == "report_keys") {
      const std::string mode = fieldAs<std::string>(value, key, "hashed or plain");
      if (mode != "hashed" && mode != "plain") throw ConfigError("field 'report_keys': expected hashed or plain");
      config.reportPlainKeys = mode == "plain";
    } else if (key == "report_values") {
      config.reportValues = fieldAs<bool>(value, key, "true or false");
    } else if (key == "report_key_hash_secret_file") {
      config.reportKeyHashSecret.file = fieldAs<std::string>(value, key, "a path");
    } else if (key == "report_key_hash_secret_env") {
      config.reportKeyHashSecret.env = fieldAs<std::string>(value, key, "a variable name");
    } else if (key == "written_keys_filter_bytes") {
      config.writtenKeysFilterBytes = fieldAs<size_t>(value, key, "a byte count");
    } else if (key == "tainted_keys_max") {
      config.taintedKeysMax = fieldAs<size_t>(value, key, "a key count");
    } else if (key == "warm_canary") {
      config.warmCanary = fieldAs<bool>(value, key, "true or false");
    } else if (key == "warm_rate_per_second") {
      config.warmRatePerSecond = fieldAs<uint32_t>(value, key, "a rate");
    } else if (key == "ttl_tolerance_ms") {
      config.ttlToleranceMs = fieldAs<int64_t>(value, key, "milliseconds");
    } else if (key == "link_batch_delay_us") {
      config.linkBatchDelayUs = fieldAs<uint32_t>(value, key, "microseconds");
    } else if (key == "link_batch_bytes") {
      config.linkBatchBytes = fieldAs<size_t>(value, key, "a byte count");
    } else if (key == "max_mirrored_command_bytes") {
      config.maxMirroredCommandBytes = fieldAs<size_t>(value, key, "a byte count");
    } else {
      throw ConfigError("config file '" + path + "': unknown field '" + key + "'");
    }
  }
}

void validateConfig(const ProxyConfig& config) {
  if (kLogLevels.count(config.logLevel) == 0) {
    throw ConfigError("log_level: '" + config.logLevel +
                      "' is not one of trace, debug, info, warn, error, critical, off");
  }
  if (config.workers > 256) throw ConfigError("workers: at most 256");
  if (config.lowWaterBytes >= config.highWaterBytes) {
    throw ConfigError("low_water_bytes: must be below high_water_bytes");
  }
  if (config.highWaterBytes < 16 * 1024) throw ConfigError("high_water_bytes: at least 16384");
  if (config.connectTimeoutMs == 0) throw ConfigError("connect_timeout_ms: must be above 0");
  if (config.backlog <= 0) throw ConfigError("backlog: must be above 0");
  std::set<std::string> names;
  for (const CanaryConfig& canary : config.canaries) {
    if (!names.insert(canary.name).second) throw ConfigError("canaries: name '" + canary.name + "' is used twice");
    if (canary.linksPerWorker == 0 || canary.linksPerWorker > 64) {
      throw ConfigError("canaries." + canary.name + ".links_per_worker: 1 to 64");
    }
    if (canary.replyTimeoutMs == 0) throw ConfigError("canaries." + canary.name + ".reply_timeout_ms: must be above 0");
    if (canary.address.host == config.primary.host && canary.address.port == config.primary.port) {
      throw ConfigError("canaries." + canary.name + ".address: the primary itself cannot be a canary");
    }
  }
  if (config.writtenKeysFilterBytes < 1024 || config.writtenKeysFilterBytes > (1u << 30)) {
    throw ConfigError("written_keys_filter_bytes: 1024 to 1073741824");
  }
  if (config.taintedKeysMax < 16 || config.taintedKeysMax > (size_t{1} << 26)) {
    throw ConfigError("tainted_keys_max: 16 to 67108864");
  }
  if (config.ttlToleranceMs < 0) throw ConfigError("ttl_tolerance_ms: must not be negative");
  if (config.linkBatchDelayUs > 100000) throw ConfigError("link_batch_delay_us: at most 100000 (100 ms)");
  if (config.adminListen && config.adminTokenFile.empty()) {
    throw ConfigError("admin_listen: needs admin_token_file (the token AUTH must present)");
  }
  if (config.listen.host == config.primary.host && config.listen.port == config.primary.port) {
    throw ConfigError("listen: the same address as primary would proxy to itself");
  }
  if (config.http && config.http->host == config.listen.host && config.http->port == config.listen.port) {
    throw ConfigError("http: the same address as listen");
  }
}

unsigned effectiveWorkers(const ProxyConfig& config) {
  if (config.workers != 0) return config.workers;
  const unsigned cpus = std::thread::hardware_concurrency();
  return cpus == 0 ? 1 : cpus;
}

}  // namespace redmirror::control
