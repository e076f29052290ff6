// The admin socket: a libuv Unix socket server speaking RESP and inline commands.
//
// Memory ownership: the listener and every connection are heap objects freed only
// by their uv_close callbacks; every uv_write request owns the bytes it writes and
// is freed by its callback (which libuv runs, with UV_ECANCELED, before the close
// callback of a handle closed with writes pending). Callbacks that may run after
// AdminServer is gone (write and close callbacks) never touch the server.
#include "redmirror/control/admin_server.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "redmirror/net/uv_util.h"
#include "redmirror/resp/request_framer.h"

namespace redmirror::control {
namespace {

// Unparsed request bytes one connection may hold.
constexpr size_t kMaxBufferedBytes = 1024 * 1024;
// Queued reply bytes above which a connection stops reading until they drain.
constexpr size_t kMaxQueuedReplyBytes = 1024 * 1024;
constexpr size_t kMaxConnections = 128;
constexpr int kBacklog = 64;

struct Connection;

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

// Collects the commands completed by one read, with their arguments copied out of
// the connection's buffer (the frame's spans die with the callback).
class CommandCollector : public resp::RequestSink {
 public:
  CommandCollector(const std::string& buffer, uint64_t bufferOffset)
      : buffer_(buffer), bufferOffset_(bufferOffset) {}

  void onCommand(const resp::CommandFrame& frame) override {
    Command command;
    command.end = frame.end;
    if (frame.isInline) {
      command.args.assign(frame.inlineArgs.begin(), frame.inlineArgs.end());
    } else if (frame.argsTruncated) {
      command.tooManyArgs = true;
    } else {
      command.args.reserve(frame.args.size());
      for (const resp::ArgRef& arg : frame.args) {
        // Every byte of a completed frame is still buffered (see Connection::buffer).
        command.args.emplace_back(buffer_.data() + (arg.offset - bufferOffset_), arg.length);
      }
    }
    commands.push_back(std::move(command));
  }

  struct Command {
    std::vector<std::string> args;
    uint64_t end = 0;
    bool tooManyArgs = false;
  };
  std::vector<Command> commands;

 private:
  const std::string& buffer_;
  uint64_t bufferOffset_;
};

bool isQuit(const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0].size() != 4) return false;
  static constexpr char kQuit[] = "quit";
  for (size_t i = 0; i < 4; ++i) {
    char c = args[0][i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kQuit[i]) return false;
  }
  return true;
}

// Everything the server owns; AdminServer::Impl is this (it is private to
// AdminServer, and the connections need to name it).
struct ServerState {
  uv_loop_t* loop;
  AdminCommands& commands;
  uv_pipe_t* listener = nullptr;  // freed by its close callback
  std::string path;
  dev_t socketDev = 0;
  ino_t socketIno = 0;
  std::unordered_set<Connection*> connections;
  std::array<char, 64 * 1024> readBuffer;

  ServerState(uv_loop_t* l, AdminCommands& c) : loop(l), commands(c) {}

  void closeListener();
  void unlinkSocket();
  void onConnection();
};

struct Connection {
  uv_pipe_t handle;
  ServerState* owner = nullptr;  // valid while !closing
  resp::RequestFramer framer;
  // Request bytes from stream offset `bufferOffset` on: everything after the last
  // completed command, so a complete frame's argument payloads are all here.
  std::string buffer;
  uint64_t bufferOffset = 0;
  size_t pendingWrites = 0;
  bool closing = false;
  bool closeWhenFlushed = false;  // EOF, QUIT or a protocol error
  bool readPaused = false;

  void close();
  void startReading();
  void onRead(ssize_t nread, const uv_buf_t* buf);
  void send(std::string bytes);
  void onWritten(int status);
  void maybeFinish();
};

void onConnectionClosed(uv_handle_t* handle) { delete static_cast<Connection*>(handle->data); }

void onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* connection = static_cast<Connection*>(handle->data);
  auto& readBuffer = connection->owner->readBuffer;
  *buf = uv_buf_init(readBuffer.data(), static_cast<unsigned>(readBuffer.size()));
}

void onReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  static_cast<Connection*>(stream->data)->onRead(nread, buf);
}

void onWriteCb(uv_write_t* req, int status) {
  auto* write = static_cast<WriteRequest*>(req->data);
  auto* connection = static_cast<Connection*>(req->handle->data);
  delete write;
  connection->onWritten(status);
}

void Connection::close() {
  if (closing) return;
  closing = true;
  owner->connections.erase(this);
  owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle), onConnectionClosed);
}

void Connection::startReading() {
  const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&handle), onAlloc, onReadCb);
  if (rc != 0) close();
}

void Connection::send(std::string bytes) {
  if (closing || bytes.empty()) return;
  auto* write = new WriteRequest;
  write->data = std::move(bytes);
  write->req.data = write;
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  const int rc = uv_write(&write->req, reinterpret_cast<uv_stream_t*>(&handle), &buf, 1, onWriteCb);
  if (rc != 0) {
    delete write;
    close();
    return;
  }
  ++pendingWrites;
  if (!closeWhenFlushed && !readPaused && handle.write_queue_size > kMaxQueuedReplyBytes) {
    // The client sends faster than it reads its replies: stop reading until they drain.
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle));
    readPaused = true;
  }
}

void Connection::onWritten(int status) {
  --pendingWrites;
  if (closing) return;  // UV_ECANCELED after close(); nothing else to do
  if (status != 0) {
    close();
    return;
  }
  if (readPaused && !closeWhenFlushed && handle.write_queue_size <= kMaxQueuedReplyBytes / 2) {
    readPaused = false;
    startReading();
    if (closing) return;
  }
  maybeFinish();
}

void Connection::maybeFinish() {
  if (!closing && closeWhenFlushed && pendingWrites == 0) close();
}

void Connection::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (closing || closeWhenFlushed) return;
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {
    if (nread == UV_EOF) {
      // Half-close: answer what was asked, then close.
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle));
      closeWhenFlushed = true;
      maybeFinish();
    } else {
      close();
    }
    return;
  }

  const std::span<const char> bytes(buf->base, static_cast<size_t>(nread));
  buffer.append(bytes.data(), bytes.size());
  CommandCollector collector(buffer, bufferOffset);
  const bool ok = framer.feed(bytes, collector);

  std::string replies;
  bool quit = false;
  for (const CommandCollector::Command& command : collector.commands) {
    if (command.tooManyArgs) {
      replies += AdminReply::error("too many arguments").encode();
    } else if (isQuit(command.args)) {
      replies += AdminReply::ok().encode();
      quit = true;
      break;
    } else {
      replies += owner->commands.execute(command.args).encode();
    }
  }
  if (!collector.commands.empty()) {
    const uint64_t consumed = collector.commands.back().end;
    buffer.erase(0, static_cast<size_t>(consumed - bufferOffset));
    bufferOffset = consumed;
  }
  if (!quit && !ok) {
    // The framer words it as Redis does ("Protocol error: invalid bulk length").
    const std::string& reason = framer.error();
    replies += AdminReply::error(reason.starts_with("Protocol error") ? reason
                                                                      : "Protocol error: " + reason)
                   .encode();
    quit = true;
  } else if (!quit && buffer.size() > kMaxBufferedBytes) {
    replies += AdminReply::error("Protocol error: request larger than 1 MiB").encode();
    quit = true;
  }
  if (quit) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle));
    closeWhenFlushed = true;
    readPaused = false;
    buffer.clear();
    buffer.shrink_to_fit();
  } else if (buffer.empty() && buffer.capacity() > 64 * 1024) {
    buffer.shrink_to_fit();
  }
  send(std::move(replies));
  maybeFinish();
}

void onListenerClosed(uv_handle_t* handle) { delete reinterpret_cast<uv_pipe_t*>(handle); }

void onConnectionCb(uv_stream_t* server, int status) {
  if (status != 0) return;
  static_cast<ServerState*>(server->data)->onConnection();
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

void ServerState::onConnection() {
  auto* connection = new Connection;
  connection->owner = this;
  connection->handle.data = connection;
  uv_pipe_init(loop, &connection->handle, 0);
  connections.insert(connection);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener),
                reinterpret_cast<uv_stream_t*>(&connection->handle)) != 0) {
    connection->close();
    return;
  }
  if (connections.size() > kMaxConnections) {
    connection->send(AdminReply::error("too many admin connections").encode());
    connection->closeWhenFlushed = true;
    connection->maybeFinish();
    return;
  }
  connection->startReading();
}

void ServerState::closeListener() {
  if (listener == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(listener), onListenerClosed);
  listener = nullptr;
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

}  // namespace

struct AdminServer::Impl : ServerState {
  using ServerState::ServerState;
};

AdminServer::AdminServer(uv_loop_t* loop, AdminCommands& commands)
    : impl_(std::make_unique<Impl>(loop, commands)) {}

AdminServer::~AdminServer() { close(); }

std::string AdminServer::listen(const std::string& path) {
  Impl& impl = *impl_;
  if (impl.listener != nullptr) return "admin socket already listening on " + impl.path;
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
    const int probe = probeSocket(path);
    if (probe == EISCONN || probe == EAGAIN) {
      return "admin socket '" + path + "' is in use by another process";
    }
    if (probe != 0) {
      return "cannot tell whether admin socket '" + path +
             "' is stale, not replacing it: " + sysError(probe);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return "cannot remove stale admin socket '" + path + "': " + sysError(errno);
    }
  }

  auto* pipe = new uv_pipe_t;
  int rc = uv_pipe_init(impl.loop, pipe, 0);
  if (rc != 0) {
    delete pipe;
    return "cannot create admin socket: " + net::uvError(rc);
  }
  pipe->data = static_cast<ServerState*>(&impl);
  auto fail = [&](std::string message) {
    uv_close(reinterpret_cast<uv_handle_t*>(pipe), onListenerClosed);
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
    return fail("cannot set mode 0600 on admin socket '" + path + "': " + sysError(err));
  }
  impl.socketDev = st.st_dev;
  impl.socketIno = st.st_ino;
  impl.path = path;

  rc = uv_listen(reinterpret_cast<uv_stream_t*>(pipe), kBacklog, onConnectionCb);
  if (rc != 0) {
    impl.unlinkSocket();
    return fail("cannot listen on admin socket '" + path + "': " + net::uvError(rc));
  }
  impl.listener = pipe;
  return "";
}

void AdminServer::close() {
  Impl& impl = *impl_;
  impl.closeListener();
  impl.unlinkSocket();
  // Connection::close() erases from the set.
  while (!impl.connections.empty()) (*impl.connections.begin())->close();
}

}  // namespace redmirror::control
