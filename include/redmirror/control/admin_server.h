#pragma once
// The admin interface: a Unix socket (mode 0600, set before it accepts anything)
// and optionally a TCP listener, on the control thread's loop. It speaks RESP and
// inline commands, so both `redis-cli -s PATH MIRROR SET c1 25` and
// `echo 'MIRROR GET c1' | socat - UNIX-CONNECT:PATH` work.
//
// Access: on the Unix socket, the peer's uid (SO_PEERCRED) must be listed when
// uids are listed; a TCP peer gets nothing but -NOAUTH until `AUTH <token>`
// matches (a wrong token is answered, audited, and the connection closed).
// Limits (AdminLimits): a command's size, a rate of commands per connection,
// connections per transport, and how long a connection may stay without access.
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "redmirror/control/admin_access.h"
#include "redmirror/control/admin_limits.h"
#include "redmirror/control/mirror_control.h"
#include "redmirror/control/stats_snapshot.h"
#include "redmirror/net/uv_util.h"

namespace redmirror::control {

class AuditLog;
class AuditTrail;

// One reply, encoded as RESP by the server.
struct AdminReply {
  enum class Kind { kStatus, kError, kBulk, kInteger };
  Kind kind = Kind::kStatus;
  std::string text;  // status/error text (without +/-), or bulk payload (JSON)
  long long integer = 0;

  static AdminReply ok() { return {Kind::kStatus, "OK", 0}; }
  static AdminReply error(std::string message) { return {Kind::kError, std::move(message), 0}; }
  static AdminReply bulk(std::string payload) { return {Kind::kBulk, std::move(payload), 0}; }
  std::string encode() const;
};

// Executes admin commands: MIRROR SET/GET/PAUSE/RESUME, CANARY ADD/REMOVE/LIST,
// REPORT, RESET, STATS, VERDICT, HELP. Case-insensitive command words; errors name the problem
// ("-ERR percent must be between 0 and 100", "-ERR unknown canary 'x'").
class AdminCommands {
 public:
  explicit AdminCommands(MirrorControl& mirror) : mirror_(mirror) {}
  AdminReply execute(const std::vector<std::string>& args);
  // Where STATS and VERDICT read; without one they answer an error.
  void setStats(const StatsSource& stats) { stats_ = &stats; }
  // AUDIT [n] answers from this log's memory (without one, AUDIT is unavailable).
  void setAuditLog(const AuditLog* audit) { audit_ = audit; }

 private:
  AdminReply statsCommand(const std::string& command, const std::vector<std::string>& args) const;

  MirrorControl& mirror_;
  const StatsSource* stats_ = nullptr;
  const AuditLog* audit_ = nullptr;
};

class AdminServer {
 public:
  // `audit` (may be null) records state-changing commands with their peer,
  // access refusals and AUTH attempts.
  AdminServer(uv_loop_t* loop, AdminCommands& commands, AuditTrail* audit = nullptr);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Both apply to connections accepted afterwards.
  void setLimits(const AdminLimits& limits);
  void setAllowedUids(UidAllowList uids);

  // Creates the socket at `path` (replacing a stale one) with mode 0600.
  // Returns "" or an error message.
  std::string listen(const std::string& path);
  // The TCP listener (for remote coordinators); port 0 picks a free one.
  // Returns "" or an error message.
  std::string listenTcp(const net::HostPort& address, const AdminToken& token);
  uint16_t tcpPort() const;  // 0 when not listening on TCP
  // Closes the listener and every connection (uv_close); call before the loop's last run.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace redmirror::control
