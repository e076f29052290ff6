#pragma once
// Proxy settings: defaults, the YAML file, then flags on top. Every error names
// the flag or field at fault.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "redmirror/net/uv_util.h"

namespace redmirror::control {

struct ProxyConfig {
  net::HostPort listen{"127.0.0.1", 6380};
  net::HostPort primary{"127.0.0.1", 6379};
  unsigned workers = 0;  // 0: one per CPU
  std::string logLevel = "info";
  bool observe = true;   // false: pure byte pipe (--no-observe)
  uint32_t connectTimeoutMs = 5000;
  uint32_t shutdownTimeoutMs = 5000;
  size_t highWaterBytes = 1024 * 1024;
  size_t lowWaterBytes = 256 * 1024;
  int backlog = 511;
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a YAML file into `config` (fields it does not name keep their value).
// Throws ConfigError naming the file and field.
void loadConfigFile(const std::string& path, ProxyConfig& config);

// Checks cross-field rules; throws ConfigError naming the field.
void validateConfig(const ProxyConfig& config);

// Applies a value given as "HOST:PORT"; throws ConfigError naming `field`.
net::HostPort parseAddressField(const std::string& field, const std::string& value);

// Resolves workers == 0 to the CPU count.
unsigned effectiveWorkers(const ProxyConfig& config);

}  // namespace redmirror::control
