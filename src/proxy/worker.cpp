#include "redmirror/proxy/worker.h"

#include <spdlog/spdlog.h>

#include <cassert>

#include "redmirror/net/uv_util.h"
#include "redmirror/proxy/session.h"

namespace redmirror::proxy {

namespace {
constexpr uint64_t kSweepIntervalMs = 250;
}  // namespace

Worker::Worker(const WorkerConfig& config, unsigned index)
    : config_(config), index_(index), pool_(512), mirror_(&loop_, pool_, *this, index) {
  uv_loop_init(&loop_);
  uv_tcp_init(&loop_, &listener_);
  listener_.data = this;
  uv_async_init(&loop_, &stopSignal_, &Worker::onStopSignal);
  stopSignal_.data = this;
  uv_async_init(&loop_, &settingsSignal_, &Worker::onSettings);
  settingsSignal_.data = this;
  uv_check_init(&loop_, &flushCheck_);
  flushCheck_.data = this;
  uv_check_start(&flushCheck_, &Worker::onCheck);
  uv_timer_init(&loop_, &sweepTimer_);
  sweepTimer_.data = this;
  uv_timer_init(&loop_, &drainTimer_);
  drainTimer_.data = this;
  std::string error;
  net::toSockaddr(config_.primary, primaryAddress_, error);
}

Worker::~Worker() {
  join();
  if (!handlesClosed_) {
    // Never started: close the handles here so the loop can be closed.
    beginStop();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  const int rc = uv_loop_close(&loop_);
  assert(rc == 0 && "a libuv handle outlived its worker");
  (void)rc;
}

net::WriteLimits Worker::writeLimits() const {
  return net::WriteLimits{config_.highWaterBytes, config_.lowWaterBytes};
}

std::string Worker::listen() {
  sockaddr_storage address{};
  std::string error;
  if (!net::toSockaddr(config_.listen, address, error)) return error;
  const int rc = net::listenReusePort(&listener_, address, config_.backlog, &Worker::onConnection);
  if (rc != 0) return "cannot listen on " + config_.listen.str() + ": " + net::uvError(rc);
  return "";
}

void Worker::start() {
  uv_timer_start(&sweepTimer_, &Worker::onSweep, kSweepIntervalMs, kSweepIntervalMs);
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  spdlog::debug("worker {} stopped", index_);
}

void Worker::requestStop() { uv_async_send(&stopSignal_); }

void Worker::publish(std::shared_ptr<const mirror::MirrorSettings> settings) {
  {
    std::lock_guard<std::mutex> lock(settingsMutex_);
    incomingSettings_ = std::move(settings);
  }
  uv_async_send(&settingsSignal_);
}

void Worker::onSettings(uv_async_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  std::shared_ptr<const mirror::MirrorSettings> settings;
  {
    std::lock_guard<std::mutex> lock(self->settingsMutex_);
    settings = std::move(self->incomingSettings_);
  }
  if (!settings || self->stopping_) return;
  self->maxMirroredCommandBytes_ = settings->maxMirroredCommandBytes;
  self->mirror_.apply(std::move(settings));
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<Worker*>(server->data);
  if (status < 0) {
    spdlog::warn("accept failed: {}", net::uvError(status));
    return;
  }
  auto* session = new Session(*self);
  self->sessions_.insert(session);
  bump(self->stats_.sessions_active);
  session->start(server);
}

void Worker::scheduleFlush(net::TcpStream& stream) { flushQueue_.push_back(&stream); }

void Worker::retire(Session* session) {
  if (sessions_.erase(session) == 0) return;
  retired_.push_back(session);
  bump(stats_.connections_closed);
  stats_.sessions_active.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::onCheck(uv_check_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  // Before this turn's writes make its commands visible to clients.
  self->mirror_.sealTurn();
  // One gather write per stream per loop turn, after every read of the turn.
  while (!self->flushQueue_.empty()) {
    self->flushing_.swap(self->flushQueue_);
    for (net::TcpStream* stream : self->flushing_) stream->flush();
    self->flushing_.clear();
  }
  // Canary links after the primary path's writes, batched across turns.
  self->mirror_.onTurnEnd();
  // Sessions are freed here, at a point where no callback of theirs is running.
  for (Session* session : self->retired_) delete session;
  self->retired_.clear();
  self->stats_.chunk_bytes_live.store(self->pool_.liveBytes(), std::memory_order_relaxed);
  if (self->stopping_) self->finishStopIfIdle();
}

void Worker::onSweep(uv_timer_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  const uint64_t now = uv_now(&self->loop_);
  std::vector<Session*> sessions(self->sessions_.begin(), self->sessions_.end());
  for (Session* session : sessions) session->checkTimeouts(now);
  self->mirror_.sweep(now);
  if (self->stopping_) self->finishStopIfIdle();
}

void Worker::onStopSignal(uv_async_t* handle) { static_cast<Worker*>(handle->data)->beginStop(); }

void Worker::beginStop() {
  if (stopping_) return;
  stopping_ = true;
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&listener_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
  for (Session* session : sessions) session->beginDrain();
  mirror_.shutdown();
  uv_timer_start(&drainTimer_, &Worker::onDrainDeadline, config_.shutdownTimeoutMs, 0);
  finishStopIfIdle();
}

void Worker::onDrainDeadline(uv_timer_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  std::vector<Session*> sessions(self->sessions_.begin(), self->sessions_.end());
  for (Session* session : sessions) {
    bump(self->stats_.shutdown_forced_closes);
    session->closeNow();
  }
}

void Worker::finishStopIfIdle() {
  if (handlesClosed_ || !sessions_.empty() || !retired_.empty()) return;
  mirror_.shutdown();
  if (!mirror_.idle()) return;  // canary links still closing
  handlesClosed_ = true;
  auto closeHandle = [](auto* h) {
    auto* handle = reinterpret_cast<uv_handle_t*>(h);
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  };
  closeHandle(&stopSignal_);
  closeHandle(&settingsSignal_);
  closeHandle(&flushCheck_);
  closeHandle(&sweepTimer_);
  closeHandle(&drainTimer_);
}

}  // namespace redmirror::proxy
