#pragma once
// A signal delivered to a libuv loop (uv_signal_t), owned RAII: the handle lives
// in a heap box freed by its close callback, so the owner may go first.
#include <uv.h>

#include <functional>
#include <string>

namespace redmirror::net {

class SignalWatch {
 public:
  SignalWatch() = default;
  ~SignalWatch() { close(); }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // Calls `onSignal` on the loop's thread each time `signum` arrives. "" or the error.
  std::string start(uv_loop_t* loop, int signum, std::function<void()> onSignal);
  // Idempotent; the loop frees the handle on its next turn.
  void close();
  bool active() const { return box_ != nullptr; }

 private:
  struct Box;
  Box* box_ = nullptr;
};

}  // namespace redmirror::net
