#include "redmirror/net/signal_watch.h"

#include "redmirror/net/uv_util.h"

namespace redmirror::net {

struct SignalWatch::Box {
  uv_signal_t handle;
  std::function<void()> onSignal;
};

std::string SignalWatch::start(uv_loop_t* loop, int signum, std::function<void()> onSignal) {
  close();
  auto* box = new Box;
  box->onSignal = std::move(onSignal);
  int rc = uv_signal_init(loop, &box->handle);
  if (rc != 0) {
    delete box;
    return "cannot watch signal " + std::to_string(signum) + ": " + uvError(rc);
  }
  box->handle.data = box;
  rc = uv_signal_start(
      &box->handle, [](uv_signal_t* handle, int) { static_cast<Box*>(handle->data)->onSignal(); }, signum);
  box_ = box;
  if (rc != 0) {
    close();
    return "cannot watch signal " + std::to_string(signum) + ": " + uvError(rc);
  }
  return "";
}

void SignalWatch::close() {
  if (box_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&box_->handle),
           [](uv_handle_t* handle) { delete static_cast<Box*>(handle->data); });
  box_ = nullptr;
}

}  // namespace redmirror::net
