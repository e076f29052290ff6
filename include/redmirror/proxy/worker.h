#pragma once
// One libuv loop on its own thread with its own SO_REUSEPORT listener, sessions,
// chunk pool and counters: nothing on the data path is shared between workers.
#include <uv.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "redmirror/mirror/worker_mirror.h"
#include "redmirror/net/chunk_pool.h"
#include "redmirror/net/tcp_stream.h"
#include "redmirror/proxy/stats.h"

namespace redmirror::proxy {

class Session;

// What a worker needs of the configuration (the composition root fills it).
struct WorkerConfig {
  net::HostPort listen{"127.0.0.1", 6380};
  net::HostPort primary{"127.0.0.1", 6379};
  bool observe = true;   // false: pure byte pipe (--no-observe)
  uint32_t connectTimeoutMs = 5000;
  uint32_t shutdownTimeoutMs = 5000;
  size_t highWaterBytes = 1024 * 1024;
  size_t lowWaterBytes = 256 * 1024;
  int backlog = 511;
};

class Worker final : public net::FlushScheduler, public mirror::SettingsSubscriber {
 public:
  Worker(const WorkerConfig& config, unsigned index);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds the listener (call before start); returns an error message or "".
  std::string listen();
  void start();
  // Thread-safe: stop accepting, drain sessions (bounded), end the loop.
  void requestStop();
  void join();
  // Thread-safe: hands a new mirroring snapshot to the worker's loop.
  void publish(std::shared_ptr<const mirror::MirrorSettings> settings) override;

  // Loop-thread API used by sessions.
  void scheduleFlush(net::TcpStream& stream) override;
  void retire(Session* session);
  uv_loop_t* loop() { return &loop_; }
  net::ChunkPool& pool() { return pool_; }
  WorkerStats& stats() { return stats_; }
  const WorkerStats& stats() const { return stats_; }
  const WorkerConfig& config() const { return config_; }
  const sockaddr_storage& primaryAddress() const { return primaryAddress_; }
  net::WriteLimits writeLimits() const;
  mirror::WorkerMirror& mirror() { return mirror_; }
  size_t maxMirroredCommandBytes() const { return maxMirroredCommandBytes_; }

 private:
  static void onConnection(uv_stream_t* server, int status);
  static void onStopSignal(uv_async_t* handle);
  static void onSettings(uv_async_t* handle);
  static void onCheck(uv_check_t* handle);
  static void onSweep(uv_timer_t* handle);
  static void onDrainDeadline(uv_timer_t* handle);

  void run();
  void beginStop();
  void finishStopIfIdle();

  const WorkerConfig config_;
  unsigned index_;
  uv_loop_t loop_{};
  uv_tcp_t listener_{};
  uv_async_t stopSignal_{};
  uv_async_t settingsSignal_{};
  uv_check_t flushCheck_{};
  uv_timer_t sweepTimer_{};
  uv_timer_t drainTimer_{};
  sockaddr_storage primaryAddress_{};
  net::ChunkPool pool_;
  WorkerStats stats_;
  mirror::WorkerMirror mirror_;
  size_t maxMirroredCommandBytes_ = 8 * 1024 * 1024;
  std::mutex settingsMutex_;
  std::shared_ptr<const mirror::MirrorSettings> incomingSettings_;
  std::vector<net::TcpStream*> flushQueue_;
  std::vector<net::TcpStream*> flushing_;
  std::unordered_set<Session*> sessions_;
  std::vector<Session*> retired_;
  bool stopping_ = false;
  bool handlesClosed_ = false;
  std::thread thread_;
};

}  // namespace redmirror::proxy
