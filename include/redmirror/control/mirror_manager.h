#pragma once
// The control thread's view of mirroring: canaries, percentages, pause, the
// command table learned from the primary. Every change builds a new immutable
// snapshot and hands it to each worker.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redmirror/control/config.h"
#include "redmirror/control/mirror_control.h"
#include "redmirror/mirror/settings.h"

namespace redmirror::proxy {
class Worker;
}

namespace redmirror::control {

class MirrorManager final : public MirrorControl {
 public:
  // Throws ConfigError when a canary's secret cannot be read.
  MirrorManager(const ProxyConfig& config, std::vector<proxy::Worker*> workers);

  // Asks the primary for COMMAND (hiredis, bounded wait). Returns "" or why it
  // could not (the built-in table is used meanwhile). Publishes on success.
  std::string refreshCommands();
  bool haveServerCommands() const;
  // Whether every canary's command table has been compared with the primary's.
  bool allCanariesChecked() const;

  std::string setPercent(const std::string& canary, uint32_t percentHundredths) override;
  std::string addCanary(const std::string& name, const std::string& address) override;
  std::string removeCanary(const std::string& name) override;
  void setPaused(bool paused) override;
  bool paused() const override;
  std::vector<CanaryStatus> canaries() const override;
  std::string report(const std::string& canary, std::string& json) const override;
  std::string resetWindow(const std::string& canary) override;

  std::shared_ptr<const mirror::MirrorSettings> snapshot() const;

 private:
  void publishLocked();
  // COMMAND from one server into `table`; "" or why not.
  std::string fetchCommands(const net::HostPort& address, const std::string& username,
                            const std::string& password, mirror::CommandTable& table, std::string& signature);
  void diffCanaryCommands();
  mirror::CanarySettings makeCanary(const CanaryConfig& canary);

  const ProxyConfig& config_;
  std::vector<proxy::Worker*> workers_;
  mutable std::mutex mutex_;
  std::vector<mirror::CanarySettings> canaries_;
  bool paused_ = false;
  bool serverCommands_ = false;
  std::shared_ptr<const mirror::CommandTable> commands_;
  std::shared_ptr<const mirror::SlotSampler> sampler_;
  std::shared_ptr<const mirror::MirrorSettings> current_;
  uint64_t nextId_ = 1;
  std::string commandsSignature_;
  std::shared_ptr<const diff::Redaction> redaction_;
  sockaddr_storage primaryAddress_{};
  std::string primaryPassword_;
  // Per canary id: when its window started and its cumulative mirrored count then.
  struct Window {
    int64_t startedMs = 0;
    uint64_t mirroredBefore = 0;
    std::map<std::string, uint64_t> skippedBefore;
  };
  std::map<uint64_t, Window> windows_;
  // Per canary id: how its command table differs from the primary's (null: not read yet).
  std::map<uint64_t, std::vector<std::string>> commandDifferences_;
};

}  // namespace redmirror::control
