#include "redmirror/control/admin_access.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <charconv>
#include <fstream>

#include "redmirror/control/config.h"

namespace redmirror::control {

namespace {

std::array<unsigned char, 32> sha256(std::string_view bytes) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::string AdminPeer::describe() const {
  switch (transport) {
    case Transport::kUnix:
      if (!hasCredentials) return "unix peer (credentials unknown)";
      return "uid " + std::to_string(uid) + " gid " + std::to_string(gid) + " pid " + std::to_string(pid);
    case Transport::kTcp:
      return "tcp " + address;
    case Transport::kSignal:
      return "signal " + address;
  }
  return "?";
}

std::optional<AdminPeer> unixPeer(int fd) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0 || length != sizeof(credentials)) {
    return std::nullopt;
  }
  AdminPeer peer;
  peer.transport = AdminPeer::Transport::kUnix;
  peer.hasCredentials = true;
  peer.uid = credentials.uid;
  peer.gid = credentials.gid;
  peer.pid = credentials.pid;
  return peer;
}

AdminPeer tcpPeer(int fd) {
  AdminPeer peer;
  peer.transport = AdminPeer::Transport::kTcp;
  peer.address = "?";
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return peer;
  char host[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    peer.address = std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    peer.address = "[" + std::string(host) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  return peer;
}

bool parseUidList(std::string_view text, std::vector<uint32_t>& uids, std::string& error) {
  std::vector<uint32_t> parsed;
  if (text.empty()) {
    error = "expected UID[,UID...], got nothing";
    return false;
  }
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string_view part = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    uint32_t uid = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), uid);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) {
      error = "expected numeric uids separated by commas, got '" + std::string(part) + "' in '" +
              std::string(text) + "'";
      return false;
    }
    parsed.push_back(uid);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  uids = std::move(parsed);
  return true;
}

std::string UidAllowList::refusal(const AdminPeer& peer) const {
  if (uids_.empty()) return "";
  if (!peer.hasCredentials) return "the peer's uid is unknown (SO_PEERCRED failed) and only listed uids may connect";
  for (uint32_t uid : uids_) {
    if (uid == peer.uid) return "";
  }
  return "uid " + std::to_string(peer.uid) + " is not allowed on the admin socket (--admin-allow-uid)";
}

AdminToken AdminToken::fromFile(const std::string& field, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(field + ": cannot read " + path);
  std::string line;
  std::getline(in, line);
  const std::string_view token = trimmed(line);
  if (token.empty()) throw ConfigError(field + ": " + path + " holds no token on its first line");
  if (token.size() < kMinLength) {
    throw ConfigError(field + ": the token in " + path + " is shorter than " + std::to_string(kMinLength) +
                      " characters");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("{}: {} can be read by other users (mode {:o}); 0600 is advised", field, path, st.st_mode & 0777);
  }
  AdminToken result = fromSecret(token);
  OPENSSL_cleanse(line.data(), line.size());
  return result;
}

AdminToken AdminToken::fromSecret(std::string_view secret) {
  AdminToken token;
  token.digest_ = sha256(secret);
  return token;
}

bool AdminToken::matches(std::string_view candidate) const {
  const std::array<unsigned char, 32> digest = sha256(candidate);
  return CRYPTO_memcmp(digest.data(), digest_.data(), digest.size()) == 0;
}

}  // namespace redmirror::control
