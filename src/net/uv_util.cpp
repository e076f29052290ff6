#include "redmirror/net/uv_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

namespace redmirror::net {

std::optional<HostPort> parseHostPort(std::string_view text, std::string& error) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "expected [IPV6]:PORT, got '" + std::string(text) + "'";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      error = "expected HOST:PORT, got '" + std::string(text) + "'";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    error = "invalid port '" + std::string(port) + "' in '" + std::string(text) + "'";
    return std::nullopt;
  }
  HostPort result{std::string(host), static_cast<uint16_t>(value)};
  sockaddr_storage probe{};
  if (!toSockaddr(result, probe, error)) return std::nullopt;
  return result;
}

bool toSockaddr(const HostPort& address, sockaddr_storage& out, std::string& error) {
  std::memset(&out, 0, sizeof(out));
  const std::string host = address.host == "localhost" ? "127.0.0.1" : address.host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (uv_ip4_addr(host.c_str(), address.port, v4) == 0) return true;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (uv_ip6_addr(host.c_str(), address.port, v6) == 0) return true;
  error = "invalid address '" + address.host + "' (a numeric IPv4/IPv6 address or localhost)";
  return false;
}

int listenReusePort(uv_tcp_t* handle, const sockaddr_storage& address, int backlog,
                    uv_connection_cb onConnection) {
  const int family = address.ss_family;
  // libuv 1.44 has no UV_TCP_REUSEPORT, so the socket is made here and adopted.
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return uv_translate_sys_error(errno);
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    const int err = errno;
    ::close(fd);
    return uv_translate_sys_error(err);
  }
  const socklen_t length = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    const int err = errno;
    ::close(fd);
    return uv_translate_sys_error(err);
  }
  int rc = uv_tcp_open(handle, fd);
  if (rc != 0) {
    ::close(fd);
    return rc;
  }
  return uv_listen(reinterpret_cast<uv_stream_t*>(handle), backlog, onConnection);
}

std::string uvError(int code) { return uv_strerror(code); }

}  // namespace redmirror::net
