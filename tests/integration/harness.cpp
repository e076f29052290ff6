#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef REDMIRROR_BINARY
#error "REDMIRROR_BINARY must name the proxy executable"
#endif

namespace it {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + (errno ? std::string(": ") + std::strerror(errno) : ""));
}

int remainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// fork/exec argv with stdout and stderr sent to the given files. The child dies with us.
pid_t spawn(const std::vector<std::string>& argv, const std::string& outPath,
            const std::string& errPath) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    const int out = open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    const int err = open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (out >= 0) dup2(out, 1);
    if (err >= 0) dup2(err, 2);
    // Close everything else the test process holds (sockets of other clients, etc.).
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    // Signals blocked/ignored by the test runner must not leak into the child.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  return pid;
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for pid to exit within timeout. Returns the decoded status or nullopt.
std::optional<int> waitExit(pid_t pid, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return decodeStatus(status);
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(Millis(5));
  }
}

// Number of IPv4 listening sockets on 127.0.0.1:port (from /proc/net/tcp).
int listenersOn(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  int count = 0;
  char want[32];
  std::snprintf(want, sizeof want, ":%04X", port);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state == "0A" && local.size() >= 5 && local.compare(local.size() - 5, 5, want) == 0) ++count;
  }
  return count;
}

}  // namespace

uint16_t freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind");
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) fail("getsockname");
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool directMode() {
  const char* v = std::getenv("REDMIRROR_IT_DIRECT");
  return v && *v && std::string(v) != "0";
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/redmirror-it-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) fail("mkdtemp");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---------------------------------------------------------------- RedisServer

RedisServer::RedisServer(std::vector<std::string> extraArgs)
    : extraArgs_(std::move(extraArgs)), port_(freePort()) {
  start();
}

RedisServer::~RedisServer() { stop(); }

void RedisServer::start() {
  if (pid_ > 0) return;
  std::vector<std::string> argv = {"/usr/bin/redis-server", "--port", std::to_string(port_),
                                   "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                   "--daemonize", "no", "--dir", dir_.path(),
                                   "--logfile", "", "--protected-mode", "no"};
  argv.insert(argv.end(), extraArgs_.begin(), extraArgs_.end());
  if (access(argv[0].c_str(), X_OK) != 0) argv[0] = "redis-server";
  pid_ = spawn(argv, dir_.file("redis.out"), dir_.file("redis.err"));
  const auto deadline = Clock::now() + Millis(10000);
  for (;;) {
    if (auto status = waitExit(pid_, Millis(0))) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited with " + std::to_string(*status) + ": " +
                               logText());
    }
    RawClient probe;
    if (probe.connect(port_, Millis(500)) && probe.sendAll("PING\r\n", Millis(500))) {
      auto reply = probe.readReply(Millis(1000));
      if (reply && !reply->empty() && (reply->front() == '+' || reply->front() == '-')) return;
    }
    if (Clock::now() >= deadline) {
      stop();
      throw std::runtime_error("redis-server did not answer PING on port " +
                               std::to_string(port_) + ": " + logText());
    }
    std::this_thread::sleep_for(Millis(10));
  }
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (!waitExit(pid_, Millis(10000))) {
    kill(pid_, SIGKILL);
    waitExit(pid_, Millis(10000));
  }
  pid_ = -1;
}

std::string RedisServer::logText() const {
  return readFile(dir_.file("redis.out")) + readFile(dir_.file("redis.err"));
}

// ---------------------------------------------------------------- Proxy

Proxy::Proxy(uint16_t primaryPort, std::vector<std::string> extraArgs, unsigned workers)
    : primaryPort_(primaryPort), port_(directMode() ? primaryPort : freePort()) {
  if (directMode()) return;
  std::vector<std::string> argv = {REDMIRROR_BINARY,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port_),
                                   "--primary",
                                   "127.0.0.1:" + std::to_string(primaryPort_),
                                   "--workers",
                                   std::to_string(workers)};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  pid_ = spawn(argv, dir_.file("proxy.out"), dir_.file("proxy.err"));
  const auto deadline = Clock::now() + Millis(10000);
  for (;;) {
    if (auto status = waitExit(pid_, Millis(0))) {
      pid_ = -1;
      exit_ = status;
      throw std::runtime_error("redmirror exited with " + std::to_string(*status) +
                               " before listening: " + stderrText());
    }
    if (listenersOn(port_) >= static_cast<int>(workers)) return;
    if (Clock::now() >= deadline) {
      if (listenersOn(port_) > 0) return;
      stop(Millis(2000));
      throw std::runtime_error("redmirror did not listen on port " + std::to_string(port_) +
                               ": " + stderrText());
    }
    std::this_thread::sleep_for(Millis(5));
  }
}

Proxy::~Proxy() {
  if (pid_ > 0) stop(Millis(10000));
}

void Proxy::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Proxy::wait(Millis timeout) {
  if (directMode()) return 0;
  if (pid_ <= 0) return exit_.value_or(-1);
  if (auto status = waitExit(pid_, timeout)) {
    exit_ = status;
    pid_ = -1;
    return *status;
  }
  kill(pid_, SIGKILL);
  waitExit(pid_, Millis(10000));
  pid_ = -1;
  exit_ = -1;
  return -1;
}

int Proxy::stop(Millis timeout) {
  if (directMode()) return 0;
  signal(SIGTERM);
  return wait(timeout);
}

bool Proxy::alive() {
  if (directMode()) return true;
  if (pid_ <= 0) return false;
  if (auto status = waitExit(pid_, Millis(0))) {
    exit_ = status;
    pid_ = -1;
    return false;
  }
  return true;
}

std::string Proxy::stderrText() const {
  return readFile(dir_.file("proxy.err")) + readFile(dir_.file("proxy.out"));
}

RunResult runProxyBinary(const std::vector<std::string>& args, Millis timeout) {
  TempDir dir;
  std::vector<std::string> argv = {REDMIRROR_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = spawn(argv, dir.file("out"), dir.file("err"));
  RunResult result;
  if (auto status = waitExit(pid, timeout)) {
    result.exitCode = *status;
  } else {
    kill(pid, SIGKILL);
    waitExit(pid, Millis(10000));
  }
  result.out = readFile(dir.file("out"));
  result.err = readFile(dir.file("err"));
  return result;
}

int countFds(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = opendir(path.c_str());
  if (!dir) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

long rssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// ---------------------------------------------------------------- RawClient

RawClient::~RawClient() { close(); }

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawClient::connect(uint16_t port, Millis timeout) {
  close();
  buf_.clear();
  closed_ = false;
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINPROGRESS) {
    close();
    return false;
  }
  pollfd p{fd_, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    close();
    return false;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    close();
    return false;
  }
  return true;
}

bool RawClient::sendAll(const std::string& data, Millis timeout) {
  if (fd_ < 0) return false;
  const auto deadline = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    // Blocked: drain replies meanwhile, so that a peer applying back-pressure cannot
    // deadlock us.
    pollfd p{fd_, POLLOUT | POLLIN, 0};
    const int wait = remainingMs(deadline);
    if (wait == 0) return false;
    if (poll(&p, 1, wait) < 0 && errno != EINTR) return false;
    if ((p.revents & POLLIN) && !closed_) {
      char tmp[65536];
      const ssize_t r = ::recv(fd_, tmp, sizeof tmp, 0);
      if (r > 0) buf_.append(tmp, static_cast<size_t>(r));
      if (r == 0) closed_ = true;
    }
    if (p.revents & (POLLERR | POLLHUP)) return false;
  }
  return true;
}

void RawClient::shutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool RawClient::fill(Clock::time_point deadline) {
  if (fd_ < 0 || closed_) return false;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int r = poll(&p, 1, remainingMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char tmp[262144];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    closed_ = true;  // EOF or reset
    return false;
  }
}

std::string RawClient::readSome(Millis timeout) {
  fill(Clock::now() + timeout);
  std::string out;
  out.swap(buf_);
  return out;
}

std::string RawClient::readExactly(size_t n, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (buf_.size() < n) {
    if (!fill(deadline)) break;
  }
  const size_t take = std::min(n, buf_.size());
  std::string out = buf_.substr(0, take);
  buf_.erase(0, take);
  return out;
}

std::string RawClient::readUntilClosed(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!closed_ && Clock::now() < deadline) fill(deadline);
  std::string out;
  out.swap(buf_);
  return out;
}

std::optional<std::string> RawClient::readUntil(const std::string& needle, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const size_t at = buf_.find(needle);
    if (at != std::string::npos) {
      std::string out = buf_.substr(0, at + needle.size());
      buf_.erase(0, at + needle.size());
      return out;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<std::string> RawClient::readReply(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const long len = respFrameLength(buf_);
    if (len < 0) return std::nullopt;
    if (len > 0) {
      std::string out = buf_.substr(0, static_cast<size_t>(len));
      buf_.erase(0, static_cast<size_t>(len));
      return out;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

bool RawClient::quietFor(Millis timeout) {
  const size_t before = buf_.size();
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline && !closed_) fill(deadline);
  return buf_.size() == before && !closed_;
}

// ---------------------------------------------------------------- RESP helpers

namespace {

// Parses one line starting at `at` (after the type byte). Returns the offset just past CRLF,
// 0 when incomplete.
size_t lineEnd(const std::string& d, size_t at) {
  const size_t crlf = d.find("\r\n", at);
  return crlf == std::string::npos ? 0 : crlf + 2;
}

bool parseInt(const std::string& d, size_t from, size_t to, long long& out) {
  if (from >= to) return false;
  char* end = nullptr;
  const std::string s = d.substr(from, to - from);
  errno = 0;
  out = std::strtoll(s.c_str(), &end, 10);
  return errno == 0 && end && *end == '\0';
}

// Returns the offset past the value starting at `at`; 0 when incomplete; npos when malformed.
size_t frameEnd(const std::string& d, size_t at, int depth) {
  constexpr size_t kBad = std::string::npos;
  if (depth > 64) return kBad;
  if (at >= d.size()) return 0;
  const char type = d[at];
  const size_t end = lineEnd(d, at + 1);
  if (end == 0) return 0;
  switch (type) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
      return end;
    case '$': case '!': case '=': {
      long long len = 0;
      if (!parseInt(d, at + 1, end - 2, len)) return kBad;
      if (len < 0) return end;
      const size_t stop = end + static_cast<size_t>(len) + 2;
      return d.size() >= stop ? stop : 0;
    }
    case '*': case '~': case '>': case '%': case '|': {
      long long n = 0;
      if (!parseInt(d, at + 1, end - 2, n)) return kBad;
      if (n < 0) return end;
      if (type == '%' || type == '|') n *= 2;
      size_t pos = end;
      for (long long i = 0; i < n; ++i) {
        pos = frameEnd(d, pos, depth + 1);
        if (pos == 0 || pos == kBad) return pos;
      }
      if (type == '|') return frameEnd(d, pos, depth + 1);  // attribute precedes a value
      return pos;
    }
    default:
      return kBad;
  }
}

}  // namespace

long respFrameLength(const std::string& data, size_t offset) {
  const size_t end = frameEnd(data, offset, 0);
  if (end == std::string::npos) return -1;
  if (end == 0) return 0;
  return static_cast<long>(end - offset);
}

std::string cmd(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

// ---------------------------------------------------------------- hiredis

Ctx connectRedis(uint16_t port, Millis timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  Ctx c(redisConnectWithTimeout("127.0.0.1", port, tv));
  if (c && !c->err) redisSetTimeout(c.get(), tv);
  return c;
}

Reply command(redisContext* c, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  void* r = redisvCommand(c, format, ap);
  va_end(ap);
  return Reply(static_cast<redisReply*>(r));
}

Reply commandArgv(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
}

Reply getReply(redisContext* c) {
  void* r = nullptr;
  if (redisGetReply(c, &r) != REDIS_OK) return Reply(nullptr);
  return Reply(static_cast<redisReply*>(r));
}

std::string describe(const redisReply* r) {
  if (!r) return "(no reply)";
  switch (r->type) {
    case REDIS_REPLY_STRING: return "\"" + std::string(r->str, r->len).substr(0, 200) + "\"";
    case REDIS_REPLY_STATUS: return "+" + std::string(r->str, r->len);
    case REDIS_REPLY_ERROR: return "-" + std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER: return ":" + std::to_string(r->integer);
    case REDIS_REPLY_NIL: return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < r->elements; ++i) {
        if (i) s += ", ";
        s += describe(r->element[i]);
      }
      return s + "]";
    }
    default: return "(type " + std::to_string(r->type) + ")";
  }
}

}  // namespace it
