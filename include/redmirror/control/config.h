#pragma once
// Proxy settings: defaults, the YAML file, then flags on top. Every error names
// the flag or field at fault.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/net/uv_util.h"

namespace redmirror::control {

// Where a secret comes from: a file (first line) or an environment variable.
// The secret itself is read at start-up and never logged.
struct SecretSource {
  std::string file;
  std::string env;
  bool empty() const { return file.empty() && env.empty(); }
};

struct CanaryConfig {
  std::string name;
  net::HostPort address;
  uint32_t percentHundredths = 0;  // a new canary mirrors nothing until set
  std::string username;
  SecretSource password;
  size_t queueBudgetBytes = 16 * 1024 * 1024;
  uint32_t replyTimeoutMs = 2000;
  uint32_t linksPerWorker = 1;
};

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

  // Mirroring.
  std::vector<CanaryConfig> canaries;
  std::string adminSocket;
  std::optional<net::HostPort> http;  // --http: the read-only HTTP endpoint, off when unset
  // Admin access and audit (admin_access.h, audit_log.h).
  std::vector<uint32_t> adminAllowUids;       // empty: whoever can open the socket (mode 0600)
  std::optional<net::HostPort> adminListen;   // the TCP admin listener, with adminTokenFile
  std::string adminTokenFile;
  std::string auditLog;                       // JSON lines, fsync'd per record; empty: memory only
  uint64_t samplingSeed = 0x5eed;
  std::map<std::string, std::string> policy;  // command -> mirror | never | type_only
  std::string primaryUsername;
  SecretSource primaryPassword;
  size_t maxMirroredCommandBytes = 8 * 1024 * 1024;
  uint32_t linkBatchDelayUs = 2000;  // canary links: longest wait of a batch
  size_t linkBatchBytes = 16 * 1024;  // canary links: a batch this big goes at once

  // Diff and reports.
  bool reportPlainKeys = false;      // --report-keys plain
  bool reportValues = false;         // --report-values
  SecretSource reportKeyHashSecret;  // HMAC key for key hashes; random per start if unset
  size_t writtenKeysFilterBytes = 1 << 20;
  // Keys tainted per canary before whole databases stand in for them (16 bytes each).
  size_t taintedKeysMax = 65536;
  int64_t ttlToleranceMs = 2000;
  bool warmCanary = false;           // --warm-canary: read repair on cold misses
  uint32_t warmRatePerSecond = 100;  // per worker
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

// "25", "0.5", "12.34": a percentage 0..100 with at most two decimals, exactly.
bool parsePercent(std::string_view text, uint32_t& hundredths);

// "NAME=VALUE" as the repeatable --canary and --mirror flags take it.
std::pair<std::string, std::string> splitNameValue(const std::string& flag, const std::string& text);

// Canary names: [A-Za-z0-9_.-]{1,64}.
bool validCanaryName(std::string_view name);

// Reads a secret; throws ConfigError naming `field` when it cannot.
std::string readSecret(const std::string& field, const SecretSource& source);

// Resolves workers == 0 to the CPU count.
unsigned effectiveWorkers(const ProxyConfig& config);

}  // namespace redmirror::control
