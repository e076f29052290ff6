#pragma once
// Who may use the admin interface: the uids allowed on the Unix socket
// (checked with SO_PEERCRED, on top of the socket's mode 0600) and the token a
// TCP peer must present with AUTH before anything else is answered.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/control/admin_peer.h"

namespace redmirror::control {

// The credentials of the process connected to Unix socket `fd`; nullopt when
// the kernel does not tell (the peer is then refused whenever uids are listed).
std::optional<AdminPeer> unixPeer(int fd);
// The address of the TCP peer on `fd` ("?" when the kernel does not tell).
AdminPeer tcpPeer(int fd);

// "1000" or "0,1000,1001": numeric uids, comma-separated. Returns false with
// `error` set (naming the bad part) on anything else.
bool parseUidList(std::string_view text, std::vector<uint32_t>& uids, std::string& error);

// Empty: any process that can open the socket (its mode already limits that
// to its owner and root). Otherwise only the listed uids.
class UidAllowList {
 public:
  UidAllowList() = default;
  explicit UidAllowList(std::vector<uint32_t> uids) : uids_(std::move(uids)) {}
  bool empty() const { return uids_.empty(); }
  // Why `peer` is refused, or "" when it is allowed.
  std::string refusal(const AdminPeer& peer) const;

 private:
  std::vector<uint32_t> uids_;
};

// The shared secret of the TCP admin listener. Only its SHA-256 digest is kept,
// so the token itself is not in memory after start-up; a candidate is hashed and
// compared with CRYPTO_memcmp, so the time taken tells nothing about where (or
// whether in length) a wrong token differs.
class AdminToken {
 public:
  static constexpr size_t kMinLength = 16;
  // The first line of `path` (a trailing CR and surrounding blanks removed).
  // Throws ConfigError naming `field` when unreadable, empty or shorter than kMinLength.
  static AdminToken fromFile(const std::string& field, const std::string& path);
  static AdminToken fromSecret(std::string_view secret);
  bool matches(std::string_view candidate) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

}  // namespace redmirror::control
