#include "redmirror/control/config.h"

#include <yaml-cpp/yaml.h>

#include <set>
#include <thread>

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

}  // namespace

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
  if (config.listen.host == config.primary.host && config.listen.port == config.primary.port) {
    throw ConfigError("listen: the same address as primary would proxy to itself");
  }
}

unsigned effectiveWorkers(const ProxyConfig& config) {
  if (config.workers != 0) return config.workers;
  const unsigned cpus = std::thread::hardware_concurrency();
  return cpus == 0 ? 1 : cpus;
}

}  // namespace redmirror::control
