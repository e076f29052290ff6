#pragma once
// Who asked for an admin command or a change: the process at the other end of
// the Unix socket (its credentials, from SO_PEERCRED), a TCP peer (its
// address), or the proxy itself (a signal such as SIGHUP).
#include <cstdint>
#include <string>

namespace redmirror::control {

struct AdminPeer {
  enum class Transport { kUnix, kTcp, kSignal };
  Transport transport = Transport::kUnix;
  bool hasCredentials = false;  // kUnix: SO_PEERCRED answered
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  std::string address;  // kTcp: HOST:PORT of the peer; kSignal: the signal's name

  static AdminPeer signal(std::string name) {
    AdminPeer peer;
    peer.transport = Transport::kSignal;
    peer.address = std::move(name);
    return peer;
  }
  // For log lines: "uid 1000 gid 1000 pid 42", "tcp 127.0.0.1:5000", "signal SIGHUP".
  std::string describe() const;
};

}  // namespace redmirror::control
