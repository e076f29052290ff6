#include "redmirror/control/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "redmirror/control/metrics_text.h"
#include "redmirror/control/stats_history.h"
#include "redmirror/control/stats_json.h"
#include "redmirror/control/status_page.h"

namespace redmirror::control {

namespace {

using Json = nlohmann::ordered_json;

// Two cores are shared with the workers: two request threads are plenty for
// scrapes, probes and a status page.
constexpr size_t kRequestThreads = 2;
constexpr std::chrono::seconds kHistoryInterval{kHistoryIntervalSeconds};
constexpr time_t kReadTimeoutSeconds = 2;
constexpr size_t kMaxRequestBodyBytes = 64 * 1024;  // Flagger posts a small JSON payload

std::string dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

void sendJson(httplib::Response& response, int status, const Json& body) {
  response.status = status;
  response.set_content(dump(body) + "\n", "application/json");
}

void sendError(httplib::Response& response, int status, const std::string& message) {
  sendJson(response, status, Json{{"error", message}});
}

void sendText(httplib::Response& response, int status, const std::string& line) {
  response.status = status;
  response.set_content(line + "\n", "text/plain; charset=utf-8");
}

// The canary a request names ("" when it names none).
std::string canaryOf(const httplib::Request& request) {
  return request.has_param("canary") ? request.get_param_value("canary") : std::string();
}

std::string reasonsOf(const verdict::Verdict& verdict) {
  std::string out;
  for (const std::string& reason : verdict.reasons) {
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out.empty() ? std::string() : ": " + out;
}

}  // namespace

struct HttpServer::Impl {
  Impl(const StatsSource& stats, const MirrorControl& reports) : stats(stats), reports(reports) {}

  void routes();
  void gate(const httplib::Request& request, httplib::Response& response, verdict::Decision wanted);
  void tick();

  const StatsSource& stats;
  const MirrorControl& reports;
  httplib::Server server;
  StatsHistory history;
  std::atomic<bool> ready{false};
  std::thread listener;
  std::thread ticker;
  std::mutex tickMutex;
  std::condition_variable tickWake;
  bool stopping = false;
};

void HttpServer::Impl::routes() {
  server.Get("/", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(renderStatusPage(stats.snapshot(true), history), "text/html; charset=utf-8");
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(renderMetrics(stats.snapshot(true)), std::string(kMetricsContentType).c_str());
  });
  server.Get("/report", [this](const httplib::Request& request, httplib::Response& response) {
    std::string json;
    const std::string error = reports.report(canaryOf(request), json);
    if (!error.empty()) return sendError(response, 404, error);
    response.set_content(json + "\n", "application/json");
  });
  server.Get("/verdict", [this](const httplib::Request& request, httplib::Response& response) {
    Json json;
    const std::string error = verdictJson(stats.snapshot(true), canaryOf(request), json);
    if (!error.empty()) return sendError(response, 404, error);
    sendJson(response, 200, json);
  });
  server.Get("/healthz", [this](const httplib::Request&, httplib::Response& response) {
    if (stats.primaryReachable()) return sendJson(response, 200, Json{{"status", "ok"}, {"primary", "reachable"}});
    sendJson(response, 503, Json{{"status", "unhealthy"}, {"primary", "unreachable"}});
  });
  server.Get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
    if (!ready.load()) return sendJson(response, 503, Json{{"status", "not ready"}, {"reason", "not serving clients"}});
    if (!stats.primaryReachable()) {
      return sendJson(response, 503, Json{{"status", "not ready"}, {"reason", "primary unreachable"}});
    }
    sendJson(response, 200, Json{{"status", "ready"}});
  });
  server.Post("/gate/promote", [this](const httplib::Request& request, httplib::Response& response) {
    gate(request, response, verdict::Decision::kPass);
  });
  server.Post("/gate/rollback", [this](const httplib::Request& request, httplib::Response& response) {
    gate(request, response, verdict::Decision::kFail);
  });
  // httplib refuses a POST without a body length (400) before routing; a gate
  // needs no body (`curl -X POST URL`), so such a request is answered here.
  server.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (request.method != "POST" || request.has_header("Content-Length") || request.has_header("Transfer-Encoding")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (request.path == "/gate/promote") {
      gate(request, response, verdict::Decision::kPass);
    } else if (request.path == "/gate/rollback") {
      gate(request, response, verdict::Decision::kFail);
    } else {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
    std::string what = "internal error";
    try {
      if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    sendError(response, 500, what);
  });
}

// Flagger's webhook contract: 200 lets the rollout go on, any other code holds it.
void HttpServer::Impl::gate(const httplib::Request& request, httplib::Response& response, verdict::Decision wanted) {
  const std::string canary = canaryOf(request);
  if (canary.empty()) return sendError(response, 400, "name the canary: ?canary=NAME");
  const StatsSnapshot snapshot = stats.snapshot(true);
  const CanarySnapshot* found = snapshot.canary(canary);
  if (found == nullptr) return sendError(response, 404, "unknown canary '" + canary + "'");
  const verdict::Verdict& verdict = *found->verdict;
  const std::string line = std::string("verdict ") + verdict::toString(verdict.decision) + reasonsOf(verdict);
  sendText(response, verdict.decision == wanted ? 200 : 412, line);
}

void HttpServer::Impl::tick() {
  std::unique_lock<std::mutex> lock(tickMutex);
  while (!stopping) {
    lock.unlock();
    history.record(stats.snapshot(false));
    lock.lock();
    tickWake.wait_for(lock, kHistoryInterval, [this] { return stopping; });
  }
}

HttpServer::HttpServer(const StatsSource& stats, const MirrorControl& reports)
    : impl_(std::make_unique<Impl>(stats, reports)) {
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(kRequestThreads); };
  // One request per connection: an idle keep-alive connection would hold one
  // of the two request threads.
  impl_->server.set_keep_alive_max_count(1);
  // A client that connects and says nothing holds a thread this long (and
  // delays shutdown by as much).
  impl_->server.set_keep_alive_timeout(kReadTimeoutSeconds);
  impl_->server.set_read_timeout(kReadTimeoutSeconds);
  impl_->server.set_payload_max_length(kMaxRequestBodyBytes);
  // httplib's default adds SO_REUSEPORT: a second proxy on the same port would
  // then silently share the scrapes instead of failing to start.
  impl_->server.set_socket_options([](socket_t socket) {
    const int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl_->routes();
}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::start(const net::HostPort& address) {
  if (!impl_->server.bind_to_port(address.host, address.port)) {
    const int error = errno;
    return "cannot listen on " + address.str() + ": " + (error != 0 ? std::strerror(error) : "bind failed");
  }
  impl_->listener = std::thread([this] { impl_->server.listen_after_bind(); });
  // stop() only reaches a server that is running: wait until it is.
  for (int i = 0; i < 5000 && !impl_->server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->ticker = std::thread([this] { impl_->tick(); });
  spdlog::info("HTTP on {} (/, /metrics, /verdict, /report, /healthz, /readyz, /gate/promote, /gate/rollback)",
               address.str());
  return "";
}

void HttpServer::setReady(bool ready) { impl_->ready.store(ready); }

void HttpServer::stop() {
  if (impl_->listener.joinable()) {
    impl_->server.stop();
    impl_->listener.join();
  }
  {
    std::lock_guard<std::mutex> lock(impl_->tickMutex);
    impl_->stopping = true;
  }
  impl_->tickWake.notify_all();
  if (impl_->ticker.joinable()) impl_->ticker.join();
}

}  // namespace redmirror::control
