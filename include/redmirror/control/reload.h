#pragma once
// Reloading the configuration file (SIGHUP): the file is read and validated as
// at start-up (then the flags on top); a file that fails is rejected, the error
// naming the field is logged, and the running configuration stays. Otherwise
// the canaries it adds, removes, re-weights or reconnects differently (against
// the file loaded before) are applied at once, without touching any client
// connection. Other fields only take effect at restart: a change to one is
// logged as such. Every reload is audited.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "redmirror/control/audit_trail.h"
#include "redmirror/control/config.h"
#include "redmirror/control/mirror_manager.h"

namespace redmirror::control {

class ConfigReloader {
 public:
  // Builds the configuration as at start-up (file, then flags); throws ConfigError.
  using Loader = std::function<ProxyConfig()>;

  // `loaded`: the configuration the proxy started with. `audit` may be null.
  ConfigReloader(std::string path, Loader load, const ProxyConfig& loaded, MirrorManager& mirror,
                 AuditTrail* audit);

  // Rereads the file; "" when it was applied, else why it was rejected.
  std::string reload(const AdminPeer& requester = AdminPeer::signal("SIGHUP"));

 private:
  std::string apply(std::string& summary);
  // The file's top-level fields as YAML text, to tell which ones changed.
  std::map<std::string, std::string> fileFields() const;

  std::string path_;
  Loader load_;
  MirrorManager& mirror_;
  AuditTrail* audit_;
  std::vector<CanaryConfig> loadedCanaries_;
  std::map<std::string, std::string> loadedFields_;
};

}  // namespace redmirror::control
