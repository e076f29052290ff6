#pragma once
// The admin socket: a Unix socket (mode 0600, set before it accepts anything)
// on the control thread's loop. It speaks RESP and inline commands, so both
// `redis-cli -s PATH MIRROR SET c1 25` and
// `echo 'MIRROR GET c1' | socat - UNIX-CONNECT:PATH` work.
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "redmirror/control/mirror_control.h"
#include "redmirror/control/stats_snapshot.h"

namespace redmirror::control {

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

 private:
  AdminReply statsCommand(const std::string& command, const std::vector<std::string>& args) const;

  MirrorControl& mirror_;
  const StatsSource* stats_ = nullptr;
};

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, AdminCommands& commands);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Creates the socket at `path` (replacing a stale one) with mode 0600.
  // Returns "" or an error message.
  std::string listen(const std::string& path);
  // Closes the listener and every connection (uv_close); call before the loop's last run.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace redmirror::control
