#pragma once
// What the admin socket may read and change about mirroring. Implemented by the
// control thread's mirror manager (which publishes snapshots to workers);
// faked in tests.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace redmirror::control {

struct CanaryStatus {
  std::string name;
  std::string address;          // HOST:PORT
  uint32_t percentHundredths = 0;  // 0..10000 (25.5% is 2550)
  uint32_t effectivePercentHundredths = 0;  // what is mirrored now: less when slots are shed
  uint64_t reconnects = 0;      // link connections opened (handshake answered), the first one included
  uint64_t protocolErrors = 0;  // links reset: a reply stream the link could not follow or a refusal of its own commands
  uint64_t keysTainted = 0;     // lost writes that tainted keys (or databases)
  uint64_t queuedBytes = 0;  // held for the canary now (outboxes, link, replies awaited), against its budget
  uint64_t mirrored = 0;        // commands written to the canary
  uint64_t compared = 0;
  uint64_t matched = 0;
  uint64_t diverged = 0;
  std::map<std::string, uint64_t> dropped;  // reason -> count
  uint32_t linksUp = 0;
  uint32_t linksTotal = 0;
  uint64_t linkWrites = 0;  // gather writes to the canary (system calls the mirror adds)
  uint64_t linkReads = 0;   // reads of its replies
  uint64_t authFailures = 0;    // link connections whose AUTH was refused
};

class MirrorControl {
 public:
  virtual ~MirrorControl() = default;
  // Each returns "" on success, else the reason (shown to the operator as -ERR);
  // a change that cannot be recorded in the audit log is refused.
  virtual std::string setPercent(const std::string& canary, uint32_t percentHundredths) = 0;
  virtual std::string addCanary(const std::string& name, const std::string& address) = 0;
  virtual std::string removeCanary(const std::string& name) = 0;
  virtual std::string setPaused(bool paused) = 0;
  virtual bool paused() const = 0;
  virtual std::vector<CanaryStatus> canaries() const = 0;
  // REPORT: the divergence report JSON of one canary, or of all ("" = all, as
  // {"canaries":[...]}); "" on success with the JSON in `json`, else the reason.
  virtual std::string report(const std::string& canary, std::string& json) const = 0;
  // RESET: a new comparison window for one canary or all ("").
  virtual std::string resetWindow(const std::string& canary) = 0;
};

}  // namespace redmirror::control
