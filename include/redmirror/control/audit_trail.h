#pragma once
// Binds each change to who asked for it. An admin command that may change state,
// or a reload, opens a Scope with its peer and command; the change MirrorManager
// is about to make (recordChange) is written as that scope's record, with the
// state before and after. A scope that changed nothing (a refused or failed
// command) is recorded with its result when it finishes. Access refusals and
// AUTH attempts are recorded as events. All of it runs on the control thread.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "redmirror/control/admin_peer.h"
#include "redmirror/control/audit_log.h"
#include "redmirror/control/change_journal.h"

namespace redmirror::control {

// Admin commands that change state, and so are audited: MIRROR SET / PAUSE /
// RESUME, CANARY ADD / REMOVE, RESET.
bool isAuditedCommand(const std::vector<std::string>& args);

class AuditTrail final : public ChangeJournal {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  explicit AuditTrail(AuditLog& log, Clock clock = [] { return std::chrono::system_clock::now(); });
  AuditTrail(const AuditTrail&) = delete;
  AuditTrail& operator=(const AuditTrail&) = delete;

  class Scope {
   public:
    Scope(Scope&& other) noexcept;
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;
    // Without finish(), a scope that recorded no change is recorded as "abandoned".
    ~Scope();
    // `result` is "ok" or the error the requester got. Records the command when
    // no change was recorded in the scope (a failed write is logged).
    void finish(const std::string& result);

   private:
    friend class AuditTrail;
    explicit Scope(AuditTrail* trail) : trail_(trail) {}
    AuditTrail* trail_;
  };

  // One scope at a time (the control thread runs one command at a time).
  Scope open(AdminPeer peer, std::vector<std::string> command);
  // A record with no change (an access refusal, an AUTH); a failed write is logged.
  void recordEvent(const AdminPeer& peer, std::vector<std::string> command, const std::string& result);

  std::string recordChange(const nlohmann::ordered_json& before, const nlohmann::ordered_json& after) override;

  const AuditLog& log() const { return log_; }

 private:
  void close(const std::string& result);

  AuditLog& log_;
  Clock clock_;
  bool open_ = false;
  bool changed_ = false;
  AdminPeer peer_;
  std::vector<std::string> command_;
};

}  // namespace redmirror::control
