#pragma once
// Inside the admin server: the state shared by its listeners and connections
// (admin_server.cpp) and one connection (admin_connection.cpp).
//
// Memory ownership: listeners, the access timer and every connection are heap
// objects freed only by their uv_close callbacks; every uv_write request owns
// the bytes it writes and is freed by its callback (which libuv runs, with
// UV_ECANCELED, before the close callback of a handle closed with writes
// pending). Callbacks that may run after AdminServer is gone (write and close
// callbacks) never touch the server.
#include <sys/types.h>
#include <uv.h>

#include <array>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "redmirror/control/admin_access.h"
#include "redmirror/control/admin_limits.h"
#include "redmirror/control/admin_server.h"
#include "redmirror/control/audit_trail.h"
#include "redmirror/resp/request_framer.h"

namespace redmirror::control::admin {

// Queued reply bytes above which a connection stops reading until they drain.
inline constexpr size_t kMaxQueuedReplyBytes = 1024 * 1024;

struct Connection;

// Everything the server owns; AdminServer::Impl is this.
struct ServerState {
  uv_loop_t* loop;
  AdminCommands& commands;
  AuditTrail* audit;
  AdminLimits limits;
  UidAllowList allowedUids;
  std::optional<AdminToken> token;  // set with the TCP listener
  uv_pipe_t* unixListener = nullptr;  // each freed by its close callback
  uv_tcp_t* tcpListener = nullptr;
  uv_timer_t* accessTimer = nullptr;
  std::string path;
  dev_t socketDev = 0;
  ino_t socketIno = 0;
  std::unordered_set<Connection*> connections;
  size_t unixConnections = 0;
  size_t tcpConnections = 0;
  std::array<char, 64 * 1024> readBuffer;

  ServerState(uv_loop_t* l, AdminCommands& c, AuditTrail* a) : loop(l), commands(c), audit(a) {}

  void onConnection(bool tcp);
  void closeAll();
  void unlinkSocket();
  // Runs one command for `peer`, inside an audit scope when it may change state.
  AdminReply dispatch(const AdminPeer& peer, const std::vector<std::string>& args);
  // Closes connections that stayed without access longer than the limit.
  void startAccessTimer();
  void sweepAccess();
};

// A command completed by one read, its arguments copied out of the
// connection's buffer (the frame's spans die with the callback).
struct ReceivedCommand {
  std::vector<std::string> args;
  uint64_t bytes = 0;  // as sent
  uint64_t end = 0;
  bool tooManyArgs = false;
};

struct Connection {
  enum class Access { kGranted, kNeedsAuth, kRefused };

  // Both begin with the uv_handle_t fields, data included.
  union Handle {
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } handle;
  bool tcp = false;
  ServerState* owner = nullptr;  // valid while !closing
  AdminPeer peer;
  Access access = Access::kGranted;
  std::string refusal;  // kRefused: the answer to whatever it sends
  uint64_t acceptedMs = 0;
  CommandRateLimiter rate;
  resp::RequestFramer framer;
  // Request bytes from stream offset `bufferOffset` on: everything after the last
  // completed command, so a complete frame's argument payloads are all here.
  std::string buffer;
  uint64_t bufferOffset = 0;
  size_t pendingWrites = 0;
  bool closing = false;
  bool closeWhenFlushed = false;  // EOF, QUIT, a protocol error or access refused
  bool readPaused = false;

  Connection(ServerState& server, bool isTcp);
  uv_handle_t* uvHandle() { return reinterpret_cast<uv_handle_t*>(&handle); }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }

  void close();
  void startReading();
  void onRead(ssize_t nread, const uv_buf_t* buf);
  void send(std::string bytes);
  void onWritten(int status);
  void maybeFinish();
  // Answers `text` (already RESP) and closes once it is written.
  void finishWith(std::string text);

 private:
  // The encoded reply to one command; sets `quit` when the connection must close after it.
  std::string answer(const ReceivedCommand& command, bool& quit);
  std::string authenticate(const std::vector<std::string>& args, bool& quit);
};

}  // namespace redmirror::control::admin
