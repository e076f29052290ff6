// The admin server: its Unix and TCP listeners, accepting (limits, access), the
// access timer, and running commands inside audit scopes. One connection's
// protocol is in admin_connection.cpp.
#include "redmirror/control/admin_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "admin_server_internal.h"

namespace redmirror::control {
namespace admin {
namespace {

constexpr int kBacklog = 64;

void onPipeListenerClosed(uv_handle_t* handle) { delete reinterpret_cast<uv_pipe_t*>(handle); }
void onTcpListenerClosed(uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); }
void onTimerClosed(uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); }

void onUnixConnectionCb(uv_stream_t* server, int status) {
  if (status != 0) return;
  static_cast<ServerState*>(server->data)->onConnection(false);
}

void onTcpConnectionCb(uv_stream_t* server, int status) {
  if (status != 0) return;
  static_cast<ServerState*>(server->data)->onConnection(true);
}

std::string sysError(int err) { return net::uvError(uv_translate_sys_error(err)); }

// Probes the Unix socket at `path`: 0 when nobody listens on it (a stale file
// left by a dead process: connect() is refused), else why it must be kept
// (EISCONN when a process accepts connections, or the connect() error, such as
// EACCES for another user's socket; EAGAIN is a live listener with a full backlog).
int probeSocket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return errno;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const int err = errno;
  ::close(fd);
  if (rc == 0) return EISCONN;
  return err == ECONNREFUSED || err == ENOENT ? 0 : err;
}

}  // namespace

void ServerState::onConnection(bool tcp) {
  auto* connection = new Connection(*this, tcp);
  if (tcp) {
    uv_tcp_init(loop, &connection->handle.tcp);
  } else {
    uv_pipe_init(loop, &connection->handle.pipe, 0);
  }
  connection->uvHandle()->data = connection;
  connections.insert(connection);
  ++(tcp ? tcpConnections : unixConnections);
  uv_stream_t* listener = tcp ? reinterpret_cast<uv_stream_t*>(tcpListener) : reinterpret_cast<uv_stream_t*>(unixListener);
  uv_os_fd_t fd = -1;
  if (uv_accept(listener, connection->stream()) != 0 || uv_fileno(connection->uvHandle(), &fd) != 0) {
    connection->close();
    return;
  }
  if ((tcp ? tcpConnections : unixConnections) > (tcp ? limits.maxTcpConnections : limits.maxUnixConnections)) {
    connection->finishWith(AdminReply::error("too many admin connections").encode());
    return;
  }
  if (tcp) {
    connection->peer = tcpPeer(fd);
    connection->access = Connection::Access::kNeedsAuth;
  } else {
    AdminPeer unknown;
    connection->peer = unixPeer(fd).value_or(unknown);
    const std::string refusal = allowedUids.refusal(connection->peer);
    if (!refusal.empty()) {
      // Answered when it sends its first command (a client that writes first
      // would otherwise meet a closed socket, not the reason).
      connection->access = Connection::Access::kRefused;
      connection->refusal = AdminReply::error("NOPERM " + refusal).encode();
      spdlog::warn("admin socket: refused {}: {}", connection->peer.describe(), refusal);
      if (audit != nullptr) audit->recordEvent(connection->peer, {}, "refused: " + refusal);
    }
  }
  connection->startReading();
}

AdminReply ServerState::dispatch(const AdminPeer& peer, const std::vector<std::string>& args) {
  if (audit == nullptr || !isAuditedCommand(args)) return commands.execute(args);
  AuditTrail::Scope scope = audit->open(peer, args);
  AdminReply reply = commands.execute(args);
  scope.finish(reply.kind == AdminReply::Kind::kError ? "error: " + reply.text : "ok");
  return reply;
}

void ServerState::startAccessTimer() {
  if (accessTimer != nullptr) return;
  accessTimer = new uv_timer_t;
  uv_timer_init(loop, accessTimer);
  accessTimer->data = this;
  const uint64_t interval = std::max<uint64_t>(1, std::min<uint64_t>(limits.accessTimeoutMs / 4, 1000));
  uv_timer_start(
      accessTimer, [](uv_timer_t* timer) { static_cast<ServerState*>(timer->data)->sweepAccess(); }, interval,
      interval);
  // Not a reason to keep the loop running.
  uv_unref(reinterpret_cast<uv_handle_t*>(accessTimer));
}

void ServerState::sweepAccess() {
  const uint64_t now = uv_now(loop);
  std::vector<Connection*> expired;
  for (Connection* connection : connections) {
    if (connection->access == Connection::Access::kGranted || connection->closeWhenFlushed) continue;
    if (now - connection->acceptedMs >= limits.accessTimeoutMs) expired.push_back(connection);
  }
  for (Connection* connection : expired) {
    connection->finishWith(connection->access == Connection::Access::kRefused
                               ? connection->refusal
                               : AdminReply::error("NOAUTH Authentication required (timed out)").encode());
  }
}

void ServerState::closeAll() {
  if (unixListener != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(unixListener), onPipeListenerClosed);
    unixListener = nullptr;
  }
  if (tcpListener != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcpListener), onTcpListenerClosed);
    tcpListener = nullptr;
  }
  if (accessTimer != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(accessTimer), onTimerClosed);
    accessTimer = nullptr;
  }
  unlinkSocket();
  // Connection::close() erases from the set.
  while (!connections.empty()) (*connections.begin())->close();
}

void ServerState::unlinkSocket() {
  if (path.empty()) return;
  // Only the socket we created: another process may have replaced it since.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == socketDev &&
      st.st_ino == socketIno) {
    ::unlink(path.c_str());
  }
  path.clear();
}

}  // namespace admin

struct AdminServer::Impl : admin::ServerState {
  using ServerState::ServerState;
};

AdminServer::AdminServer(uv_loop_t* loop, AdminCommands& commands, AuditTrail* audit)
    : impl_(std::make_unique<Impl>(loop, commands, audit)) {}

AdminServer::~AdminServer() { close(); }

void AdminServer::setLimits(const AdminLimits& limits) { impl_->limits = limits; }

void AdminServer::setAllowedUids(UidAllowList uids) {
  impl_->allowedUids = std::move(uids);
  if (!impl_->allowedUids.empty() && impl_->unixListener != nullptr) impl_->startAccessTimer();
}

std::string AdminServer::listen(const std::string& path) {
  Impl& impl = *impl_;
  if (impl.unixListener != nullptr) return "admin socket already listening on " + impl.path;
  if (path.empty()) return "admin socket path is empty";
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return "admin socket path '" + path + "' is too long (at most " +
           std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes)";
  }
  if (path.find('\0') != std::string::npos) return "admin socket path contains a NUL byte";

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return "admin socket path '" + path + "' exists and is not a socket";
    }
    const int probe = admin::probeSocket(path);
    if (probe == EISCONN || probe == EAGAIN) {
      return "admin socket '" + path + "' is in use by another process";
    }
    if (probe != 0) {
      return "cannot tell whether admin socket '" + path + "' is stale, not replacing it: " + admin::sysError(probe);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return "cannot remove stale admin socket '" + path + "': " + admin::sysError(errno);
    }
  }

  auto* pipe = new uv_pipe_t;
  int rc = uv_pipe_init(impl.loop, pipe, 0);
  if (rc != 0) {
    delete pipe;
    return "cannot create admin socket: " + net::uvError(rc);
  }
  pipe->data = static_cast<admin::ServerState*>(&impl);
  auto fail = [&](std::string message) {
    uv_close(reinterpret_cast<uv_handle_t*>(pipe), admin::onPipeListenerClosed);
    return message;
  };

  // umask closes the window between bind() and chmod() in which the socket would
  // have the default mode; chmod() makes 0600 certain whatever the umask did.
  const mode_t previousMask = ::umask(0177);
  rc = uv_pipe_bind(pipe, path.c_str());
  ::umask(previousMask);
  if (rc != 0) return fail("cannot bind admin socket '" + path + "': " + net::uvError(rc));

  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return fail("cannot set mode 0600 on admin socket '" + path + "': " + admin::sysError(err));
  }
  impl.socketDev = st.st_dev;
  impl.socketIno = st.st_ino;
  impl.path = path;

  rc = uv_listen(reinterpret_cast<uv_stream_t*>(pipe), admin::kBacklog, admin::onUnixConnectionCb);
  if (rc != 0) {
    impl.unlinkSocket();
    return fail("cannot listen on admin socket '" + path + "': " + net::uvError(rc));
  }
  impl.unixListener = pipe;
  if (!impl.allowedUids.empty()) impl.startAccessTimer();
  return "";
}

std::string AdminServer::listenTcp(const net::HostPort& address, const AdminToken& token) {
  Impl& impl = *impl_;
  if (impl.tcpListener != nullptr) return "admin TCP listener already open";
  sockaddr_storage storage{};
  std::string error;
  if (!net::toSockaddr(address, storage, error)) return "admin listener " + address.str() + ": " + error;
  auto* tcp = new uv_tcp_t;
  int rc = uv_tcp_init(impl.loop, tcp);
  if (rc != 0) {
    delete tcp;
    return "cannot create admin listener: " + net::uvError(rc);
  }
  tcp->data = static_cast<admin::ServerState*>(&impl);
  rc = uv_tcp_bind(tcp, reinterpret_cast<const sockaddr*>(&storage), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), admin::kBacklog, admin::onTcpConnectionCb);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), admin::onTcpListenerClosed);
    return "cannot listen on admin address " + address.str() + ": " + net::uvError(rc);
  }
  impl.token = token;
  impl.tcpListener = tcp;
  impl.startAccessTimer();
  return "";
}

uint16_t AdminServer::tcpPort() const {
  if (impl_->tcpListener == nullptr) return 0;
  sockaddr_storage address{};
  int length = sizeof(address);
  if (uv_tcp_getsockname(impl_->tcpListener, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
}

void AdminServer::close() { impl_->closeAll(); }

}  // namespace redmirror::control
