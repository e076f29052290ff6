#pragma once
// Small libuv helpers: addresses, listening sockets, error text.
#include <uv.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace redmirror::net {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
};

// Parses "HOST:PORT" ("[::1]:6379" for IPv6). Returns nullopt with `error` set.
std::optional<HostPort> parseHostPort(std::string_view text, std::string& error);

// Resolves a numeric host (IPv4 or IPv6 literal, or "localhost") into a sockaddr.
bool toSockaddr(const HostPort& address, sockaddr_storage& out, std::string& error);

// Opens a listening TCP socket with SO_REUSEPORT (one per worker, the kernel
// spreads connections) and wraps it in `handle`. Returns a libuv error code.
int listenReusePort(uv_tcp_t* handle, const sockaddr_storage& address, int backlog,
                    uv_connection_cb onConnection);

std::string uvError(int code);

}  // namespace redmirror::net
