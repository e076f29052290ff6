#pragma once
// The control thread's view of mirroring: canaries, percentages, pause, the
// command table learned from the primary. Every change builds a new immutable
// snapshot and hands it to each worker.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redmirror/control/canary_readings.h"
#include "redmirror/control/canary_changes.h"
#include "redmirror/control/change_journal.h"
#include "redmirror/control/config.h"
#include "redmirror/control/mirror_control.h"
#include "redmirror/control/server_watch.h"
#include "redmirror/mirror/settings.h"

namespace redmirror::proxy {
class Worker;
}

namespace redmirror::control {

class MirrorManager final : public MirrorControl, public CanaryReadings {
 public:
  // Throws ConfigError when a canary's secret cannot be read.
  // `workers`: every worker's snapshot subscriber, by worker index.
  MirrorManager(const ProxyConfig& config, std::vector<mirror::SettingsSubscriber*> workers);

  // One round of the proxy's own connections to the primary and the canaries
  // (hiredis, blocking with short timeouts): at start-up, then every second on
  // libuv's thread pool, never two rounds at once. COMMAND is read from the
  // primary when its connection is new (start, restart, upgrade) and every
  // minute, and published when it changed; a canary's table is compared with
  // the primary's when the canary's connection is new, when the primary's table
  // changed, and every minute.
  void watchServers();
  bool haveServerCommands() const;

  // Every change is recorded in `journal` (when set) before it takes effect,
  // and refused when it cannot be recorded.
  void setJournal(ChangeJournal* journal) { journal_ = journal; }

  std::string setPercent(const std::string& canary, uint32_t percentHundredths) override;
  std::string addCanary(const std::string& name, const std::string& address) override;
  std::string removeCanary(const std::string& name) override;
  std::string setPaused(bool paused) override;
  bool paused() const override;
  std::vector<CanaryStatus> canaries() const override;
  std::string report(const std::string& canary, std::string& json) const override;
  std::string resetWindow(const std::string& canary) override;

  // A reload's canary changes, all at once (one journal record, one snapshot):
  // removed names go; added, replaced and re-weighted entries are applied by
  // name to the running canaries (a running canary that connects the same way
  // only takes the new percent; one that does not is replaced, with new links
  // and a new window; a missing one is added). "" or why nothing changed
  // (a secret that cannot be read names its field).
  std::string applyCanaryChanges(const CanaryChanges& changes);

  std::shared_ptr<const mirror::MirrorSettings> snapshot() const;

  std::vector<CanaryReading> readCanaries(bool withWindows) const override;
  bool primaryReachable() const override { return primaryReachable_.load(std::memory_order_relaxed); }

 private:
  void publishLocked();
  // COMMAND from one server into `table`; "" or why not.
  std::string readCommands(ServerWatch& server, mirror::CommandTable& table, std::string& signature);
  void watchPrimary(int64_t now);
  void watchCanaries(int64_t now);
  mirror::CanarySettings makeCanary(const CanaryConfig& canary);
  mirror::CanarySettings makeCanary(const CanaryConfig& canary, std::string password);
  // "" when the change may go ahead (recorded, or no journal), else the refusal.
  std::string journalLocked(const nlohmann::ordered_json& before, const nlohmann::ordered_json& after);

  const ProxyConfig& config_;
  std::vector<mirror::SettingsSubscriber*> workers_;
  ChangeJournal* journal_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<mirror::CanarySettings> canaries_;
  bool paused_ = false;
  bool serverCommands_ = false;
  std::shared_ptr<const mirror::CommandTable> commands_;
  std::shared_ptr<const mirror::SlotSampler> sampler_;
  std::shared_ptr<mirror::GuardOrder> guards_;  // one for the process, in every snapshot
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
    int64_t startedUnixMs = 0;  // the same moment on the wall clock (the verdict's "since")
  };
  // With mutex_ held: one canary's window merged over the workers (skipped
  // counts window-relative), and where its window began.
  diff::ReportData windowData(const mirror::CanarySettings& settings) const;
  Window windowOf(uint64_t canaryId) const;
  std::map<uint64_t, Window> windows_;
  // Per canary id: how its command table differs from the primary's (null: not read yet).
  std::map<uint64_t, std::vector<std::string>> commandDifferences_;
  uint64_t commandsGeneration_ = 0;  // bumped whenever the primary's table changes

  // Touched only by watchServers (one round at a time): no lock.
  struct CanaryWatch {
    std::unique_ptr<ServerWatch> server;
    uint64_t diffedGeneration = 0;  // the primary's table it was last compared with
    int64_t diffedMs = 0;
  };
  std::unique_ptr<ServerWatch> primaryWatch_;
  std::atomic<bool> primaryReachable_{true};  // read by /healthz, written by the watch round
  int64_t commandsReadMs_ = 0;
  std::map<uint64_t, CanaryWatch> canaryWatches_;
};

}  // namespace redmirror::control
