// Integration-test harness: real redis-server processes, the redmirror binary, raw TCP
// clients for byte-exact checks and hiredis helpers. Everything listens on 127.0.0.1 on
// ports picked by the kernel, and every process gets its own temporary directory, so
// tests can run in parallel (ctest -j).
//
// Setting REDMIRROR_IT_DIRECT=1 in the environment makes Proxy a stand-in that spawns
// nothing and hands out the primary's port: the tests then run against Redis directly,
// which validates the tests themselves.
#pragma once

// Under AddressSanitizer the proxy's RSS measures ASan's quarantine, not the
// proxy: memory-bound assertions are skipped in sanitized builds.
#if defined(__SANITIZE_ADDRESS__)
#define REDMIRROR_IT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REDMIRROR_IT_SANITIZED 1
#endif
#endif
#ifndef REDMIRROR_IT_SANITIZED
#define REDMIRROR_IT_SANITIZED 0
#endif
inline constexpr bool kSanitizedBuild = REDMIRROR_IT_SANITIZED != 0;

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace it {

using Millis = std::chrono::milliseconds;

// A port on 127.0.0.1 that was free a moment ago (bind port 0, read it back, close).
uint16_t freePort();

// True when the proxy is replaced by direct connections to Redis (REDMIRROR_IT_DIRECT=1).
bool directMode();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string readFile(const std::string& path);

// One redis-server child process.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extraArgs = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  void start();    // on the same port as before; waits until PING answers
  void stop();     // SIGTERM, waitpid (SIGKILL after 10 s)
  void restart() { stop(); start(); }
  // Arguments of the next start() (a restart with another configuration).
  void setExtraArgs(std::vector<std::string> extraArgs) { extraArgs_ = std::move(extraArgs); }
  std::string logText() const;

 private:
  std::vector<std::string> extraArgs_;
  TempDir dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

// One redmirror child process (--workers 1 unless told otherwise).
class Proxy {
 public:
  Proxy(uint16_t primaryPort, std::vector<std::string> extraArgs = {}, unsigned workers = 1);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // Sends SIGTERM and waits. Returns the exit code, 128+signal when killed by a signal,
  // or -1 when it did not exit within the timeout (it is then SIGKILLed).
  int stop(Millis timeout = Millis(15000));
  // Like stop() but only sends the signal; wait() collects the status.
  void signal(int sig);
  int wait(Millis timeout = Millis(15000));
  // Whether the process is still alive (reaps it if it exited; exitStatus() then tells).
  bool alive();
  std::optional<int> exitStatus() const { return exit_; }
  std::string stderrText() const;

 private:
  TempDir dir_;
  uint16_t primaryPort_;
  uint16_t port_;
  pid_t pid_ = -1;
  std::optional<int> exit_;
};

// Result of running the proxy binary to completion (config checks).
struct RunResult {
  int exitCode = -1;  // -1: timed out
  std::string out;    // stdout
  std::string err;    // stderr
};
RunResult runProxyBinary(const std::vector<std::string>& args, Millis timeout = Millis(10000));

// Number of entries in /proc/<pid>/fd (-1 on error).
int countFds(pid_t pid);

// Resident set size of a process in KiB, from /proc/<pid>/status (-1 on error).
long rssKib(pid_t pid);

// A blocking TCP client with timeouts, for byte-exact exchanges.
class RawClient {
 public:
  RawClient() = default;
  explicit RawClient(uint16_t port, Millis timeout = Millis(5000)) { connect(port, timeout); }
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connect(uint16_t port, Millis timeout = Millis(5000));
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool sendAll(const std::string& data, Millis timeout = Millis(30000));
  void shutdownWrite();
  void close();

  // Bytes received but not yet consumed.
  std::string& buffer() { return buf_; }
  // Whether the peer closed the connection (EOF or reset) during some read.
  bool peerClosed() const { return closed_; }

  // Reads whatever arrives within timeout (at least one read, returns possibly empty).
  std::string readSome(Millis timeout);
  // Reads until exactly n bytes are available (or timeout / close); returns and consumes them.
  std::string readExactly(size_t n, Millis timeout = Millis(10000));
  // Reads until the peer closes or the timeout passes; returns everything (buffer included).
  std::string readUntilClosed(Millis timeout = Millis(5000));
  // Reads until `needle` is in the buffer; returns the buffer through the needle and consumes it.
  std::optional<std::string> readUntil(const std::string& needle, Millis timeout = Millis(5000));
  // Reads one complete RESP2/RESP3 value (raw bytes, consumed) or nullopt on timeout/close.
  std::optional<std::string> readReply(Millis timeout = Millis(5000));
  // Waits up to timeout for any byte to arrive: true when nothing arrived and not closed.
  bool quietFor(Millis timeout);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string buf_;
  bool closed_ = false;
};

// Length of the complete RESP value at the start of `data`: 0 when incomplete, -1 when malformed.
long respFrameLength(const std::string& data, size_t offset = 0);

// RESP encoding of a command as a multibulk.
std::string cmd(const std::vector<std::string>& args);

// hiredis RAII.
struct RedisContextDeleter {
  void operator()(redisContext* c) const { if (c) redisFree(c); }
};
struct RedisReplyDeleter {
  void operator()(redisReply* r) const { if (r) freeReplyObject(r); }
};
using Ctx = std::unique_ptr<redisContext, RedisContextDeleter>;
using Reply = std::unique_ptr<redisReply, RedisReplyDeleter>;

// Connects with redisConnectWithTimeout and sets the read/write timeout; nullptr-safe: the
// returned context may carry an error (check ctx->err).
Ctx connectRedis(uint16_t port, Millis timeout = Millis(10000));
Reply command(redisContext* c, const char* format, ...);
Reply commandArgv(redisContext* c, const std::vector<std::string>& args);
Reply getReply(redisContext* c);

// Human-readable description of a reply (for assertion messages).
std::string describe(const redisReply* r);

}  // namespace it
