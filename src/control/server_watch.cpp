#include "redmirror/control/server_watch.h"

#include <utility>

namespace redmirror::control {

namespace {
constexpr timeval kConnectTimeout{1, 0};
// COMMAND's reply is ~200 KB: generous for loopback, short enough that a stopped
// server only delays the next round.
constexpr timeval kCommandTimeout{2, 0};
}  // namespace

const char* const kClientName = "redmirror-control";

ServerWatch::ServerWatch(net::HostPort address, std::string username, std::string password)
    : address_(std::move(address)), username_(std::move(username)), password_(std::move(password)) {}

std::string ServerWatch::open() {
  context_.reset(redisConnectWithTimeout(address_.host.c_str(), address_.port, kConnectTimeout));
  if (!context_) return "out of memory";
  if (context_->err != 0) {
    std::string error = context_->errstr;
    context_.reset();
    return error;
  }
  redisSetTimeout(context_.get(), kCommandTimeout);
  if (!password_.empty()) {
    std::string error;
    ReplyPtr auth(static_cast<redisReply*>(
        username_.empty() ? redisCommand(context_.get(), "AUTH %s", password_.c_str())
                          : redisCommand(context_.get(), "AUTH %s %s", username_.c_str(), password_.c_str())));
    if (!auth) {
      error = context_->errstr;
    } else if (auth->type == REDIS_REPLY_ERROR) {
      error = "AUTH refused";
    }
    if (!error.empty()) {
      context_.reset();
      return error;
    }
  }
  // Named, so that operators (and CLIENT KILL) can tell it from client traffic.
  ReplyPtr named(static_cast<redisReply*>(redisCommand(context_.get(), "CLIENT SETNAME %s", kClientName)));
  if (!named) {
    std::string error = context_->errstr;
    context_.reset();
    return error;
  }
  return "";
}

std::string ServerWatch::check(bool& reconnected) {
  reconnected = false;
  if (!context_) {
    if (std::string error = open(); !error.empty()) return error;
    reconnected = true;
  }
  std::string error;
  ReplyPtr pong = command("PING", error);
  if (!pong) return error;
  // LOADING and friends: the server is there but not serving yet.
  if (pong->type == REDIS_REPLY_ERROR) return std::string(pong->str, pong->len);
  return "";
}

ReplyPtr ServerWatch::command(const char* format, std::string& error) {
  if (!context_) {
    error = "not connected";
    return nullptr;
  }
  ReplyPtr reply(static_cast<redisReply*>(redisCommand(context_.get(), format)));
  if (!reply) {
    error = context_->errstr;
    context_.reset();  // a broken hiredis context cannot be used again
  }
  return reply;
}

}  // namespace redmirror::control
