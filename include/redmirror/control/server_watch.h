#pragma once
// The proxy's own connection to one Redis server (the primary or a canary),
// through hiredis: kept open, checked with PING, reopened (and authenticated)
// when it breaks. Whoever reads the server's command table asks it whether the
// connection is new, so COMMAND is read again on every reconnect: the server may
// have been restarted or upgraded meanwhile.
//
// Blocking calls with short timeouts: use it off the event loops (the control
// loop runs it on libuv's thread pool).
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "redmirror/net/uv_util.h"

namespace redmirror::control {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// CLIENT SETNAME of these connections, as CLIENT LIST shows them.
extern const char* const kClientName;

class ServerWatch {
 public:
  ServerWatch(net::HostPort address, std::string username, std::string password);

  // Opens the connection if needed and PINGs. Returns "" when the server
  // answered; `reconnected` tells whether this call had to open the connection.
  std::string check(bool& reconnected);
  // Sends one command on the open connection (check() first). Returns null and
  // sets `error` when the connection failed; it is then reopened next time.
  ReplyPtr command(const char* format, std::string& error);
  bool connected() const { return context_ != nullptr; }
  const net::HostPort& address() const { return address_; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const { redisFree(context); }
  };
  std::string open();

  net::HostPort address_;
  std::string username_;
  std::string password_;  // never logged
  std::unique_ptr<redisContext, ContextDeleter> context_;
};

}  // namespace redmirror::control
