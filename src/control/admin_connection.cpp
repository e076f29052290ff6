// One admin connection: framing, limits, access (uid refusal, AUTH), replies.
#include <spdlog/spdlog.h>

#include <span>

#include "admin_server_internal.h"

namespace redmirror::control::admin {

namespace {

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

// Collects the commands completed by one read.
class CommandCollector : public resp::RequestSink {
 public:
  CommandCollector(const std::string& buffer, uint64_t bufferOffset)
      : buffer_(buffer), bufferOffset_(bufferOffset) {}

  void onCommand(const resp::CommandFrame& frame) override {
    ReceivedCommand command;
    command.end = frame.end;
    command.bytes = frame.end - frame.begin;
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

  std::vector<ReceivedCommand> commands;

 private:
  const std::string& buffer_;
  uint64_t bufferOffset_;
};

bool isWord(const std::vector<std::string>& args, const char* lowerWord) {
  if (args.empty()) return false;
  const std::string_view word(lowerWord);
  if (args[0].size() != word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = args[0][i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != word[i]) return false;
  }
  return true;
}

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

std::string bytesText(size_t bytes) {
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

Connection::Connection(ServerState& server, bool isTcp)
    : tcp(isTcp),
      owner(&server),
      acceptedMs(uv_now(server.loop)),
      rate(server.limits.commandsPerSecond, server.limits.commandBurst, uv_now(server.loop)) {}

void Connection::close() {
  if (closing) return;
  closing = true;
  owner->connections.erase(this);
  --(tcp ? owner->tcpConnections : owner->unixConnections);
  owner = nullptr;
  uv_close(uvHandle(), onConnectionClosed);
}

void Connection::startReading() {
  if (uv_read_start(stream(), onAlloc, onReadCb) != 0) close();
}

void Connection::send(std::string bytes) {
  if (closing || bytes.empty()) return;
  auto* write = new WriteRequest;
  write->data = std::move(bytes);
  write->req.data = write;
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  if (uv_write(&write->req, stream(), &buf, 1, onWriteCb) != 0) {
    delete write;
    close();
    return;
  }
  ++pendingWrites;
  if (!closeWhenFlushed && !readPaused && stream()->write_queue_size > kMaxQueuedReplyBytes) {
    // The client sends faster than it reads its replies: stop reading until they drain.
    uv_read_stop(stream());
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
  if (readPaused && !closeWhenFlushed && stream()->write_queue_size <= kMaxQueuedReplyBytes / 2) {
    readPaused = false;
    startReading();
    if (closing) return;
  }
  maybeFinish();
}

void Connection::maybeFinish() {
  if (!closing && closeWhenFlushed && pendingWrites == 0) close();
}

void Connection::finishWith(std::string text) {
  if (closing || closeWhenFlushed) return;
  uv_read_stop(stream());
  closeWhenFlushed = true;
  readPaused = false;
  buffer.clear();
  buffer.shrink_to_fit();
  send(std::move(text));
  maybeFinish();
}

std::string Connection::authenticate(const std::vector<std::string>& args, bool& quit) {
  if (args.size() != 2) return AdminReply::error("wrong number of arguments for 'auth' (AUTH <token>)").encode();
  ServerState& server = *owner;
  const bool matches = server.token && server.token->matches(args[1]);
  if (server.audit != nullptr) server.audit->recordEvent(peer, args, matches ? "ok" : "refused: wrong token");
  if (!matches) {
    spdlog::warn("admin: wrong AUTH token from {}", peer.describe());
    quit = true;
    return AdminReply::error("WRONGPASS wrong admin token").encode();
  }
  access = Access::kGranted;
  return AdminReply::ok().encode();
}

std::string Connection::answer(const ReceivedCommand& command, bool& quit) {
  ServerState& server = *owner;
  if (access == Access::kRefused) {
    quit = true;
    return refusal;
  }
  if (command.tooManyArgs) return AdminReply::error("too many arguments").encode();
  if (command.bytes > server.limits.maxCommandBytes) {
    return AdminReply::error("command larger than " + bytesText(server.limits.maxCommandBytes) +
                             ", not run (the admin limit)")
        .encode();
  }
  if (!rate.allow(uv_now(server.loop))) {
    return AdminReply::error("too many admin commands, not run: at most " +
                             std::to_string(server.limits.commandsPerSecond) + " a second (" +
                             std::to_string(server.limits.commandBurst) + " at once) per connection")
        .encode();
  }
  const std::vector<std::string>& args = command.args;
  if (access == Access::kNeedsAuth) {
    if (isWord(args, "auth")) return authenticate(args, quit);
    return AdminReply::error("NOAUTH Authentication required.").encode();
  }
  if (isWord(args, "quit") && args.size() == 1) {
    quit = true;
    return AdminReply::ok().encode();
  }
  if (isWord(args, "auth")) {
    if (tcp) return authenticate(args, quit);
    return AdminReply::error("the admin Unix socket does not use AUTH: access is by uid").encode();
  }
  return server.dispatch(peer, args).encode();
}

void Connection::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (closing || closeWhenFlushed) return;
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {
    if (nread == UV_EOF) {
      // Half-close: answer what was asked, then close.
      uv_read_stop(stream());
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
  for (const ReceivedCommand& command : collector.commands) {
    replies += answer(command, quit);
    if (quit || closing) break;
  }
  if (!collector.commands.empty()) {
    const uint64_t consumed = collector.commands.back().end;
    buffer.erase(0, static_cast<size_t>(consumed - bufferOffset));
    bufferOffset = consumed;
  }
  if (!quit && access == Access::kRefused) {
    // Bytes that are not a command yet: the refusal is the answer all the same.
    replies += refusal;
    quit = true;
  } else if (!quit && !ok) {
    // The framer words it as Redis does ("Protocol error: invalid bulk length").
    const std::string& reason = framer.error();
    replies += AdminReply::error(reason.starts_with("Protocol error") ? reason : "Protocol error: " + reason)
                   .encode();
    quit = true;
  } else if (!quit && buffer.size() > owner->limits.maxCommandBytes) {
    replies += AdminReply::error("Protocol error: command larger than " + bytesText(owner->limits.maxCommandBytes))
                   .encode();
    quit = true;
  }
  if (quit) {
    finishWith(std::move(replies));
    return;
  }
  if (buffer.empty() && buffer.capacity() > 64 * 1024) buffer.shrink_to_fit();
  send(std::move(replies));
  maybeFinish();
}

}  // namespace redmirror::control::admin
