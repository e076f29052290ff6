#pragma once
// Read repair for --warm-canary: on a cold miss (the canary lacks a key that
// predates mirroring), copy the key from the primary with DUMP and PTTL and
// RESTORE it on the canary, so a fresh canary warms up from live traffic.
// One connection to the primary per worker, opened on first use; rate-limited
// by the caller. Never on the client path: a repair that fails is only counted.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "redmirror/mirror/server_connection.h"

namespace redmirror::mirror {

class WorkerMirror;

class RepairLink final : private ServerConnection::Owner {
 public:
  explicit RepairLink(WorkerMirror& owner);
  ~RepairLink() override = default;
  RepairLink(const RepairLink&) = delete;
  RepairLink& operator=(const RepairLink&) = delete;

  // Asks the primary for `key` in `db`; false when too many repairs are pending.
  // `replace`: the canary has the key with a value to replace (a tainted key).
  bool request(uint64_t canaryId, uint32_t db, std::string key, bool replace = false);
  void sweep(uint64_t nowMs);
  void shutdown();
  bool fullyClosed() const { return connection_.fullyClosed(); }

 private:
  enum class Expect : uint8_t { kDump, kPttl };
  struct Repair {
    uint64_t canaryId;
    uint32_t db;
    std::string key;
    std::string dump;
    bool found = false;
    bool replace = false;  // the canary holds a stale copy (a tainted key), not none
  };

  // ServerConnection::Owner
  bool serverEndpoint(ServerConnection::Endpoint& endpoint) override;
  void onServerUp() override;
  void onServerReply(const resp::ReplyFrame& frame) override;
  void onServerDown(ServerConnection::Failure failure, std::string_view why, bool wasUp) override;

  void send(const Repair& repair);

  WorkerMirror& owner_;
  ServerConnection connection_;
  bool stopped_ = false;
  std::deque<Repair> waiting_;    // until the connection is up
  std::deque<Repair> inFlight_;   // DUMP and PTTL sent
  std::deque<Expect> expected_;
};

}  // namespace redmirror::mirror
