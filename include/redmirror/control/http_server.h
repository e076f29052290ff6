#pragma once
// The read-only HTTP endpoint (--http HOST:PORT), on threads of its own (never
// a worker's loop, nor the control loop): cpp-httplib with a pool of two
// threads, one request per connection, plus a thread that samples latencies
// for the status page every few seconds.
//
//   GET  /                          status page (HTML, self-contained)
//   GET  /metrics                   Prometheus text
//   GET  /report[?canary=C]         REPORT's JSON
//   GET  /verdict[?canary=C]        the verdict JSON, always 200 for a known canary
//   GET  /healthz                   200 when the primary answers, else 503
//   GET  /readyz                    200 when serving and the primary answers, else 503
//   POST /gate/promote?canary=C     200 only on pass, else 412 with a one-line reason
//   POST /gate/rollback?canary=C    200 only on fail, else 412
// An unknown canary is a 404 with {"error": ...}.
#include <memory>
#include <string>

#include "redmirror/control/mirror_control.h"
#include "redmirror/control/stats_snapshot.h"
#include "redmirror/net/uv_util.h"

namespace redmirror::control {

class HttpServer {
 public:
  // Both must outlive the server (stop() or destruction).
  HttpServer(const StatsSource& stats, const MirrorControl& reports);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `address` (an error message when it cannot) and serves until stop().
  std::string start(const net::HostPort& address);
  // /readyz: whether the proxy serves clients (false before the workers run
  // and once it drains).
  void setReady(bool ready);
  // Stops accepting, finishes the requests in progress, joins the threads. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace redmirror::control
