// redmirror: composition root. Reads flags and the YAML file, starts one worker
// per CPU (each with its own loop and SO_REUSEPORT listener) and waits for
// SIGINT/SIGTERM on the main thread's loop.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "redmirror/control/admin_server.h"
#include "redmirror/control/audit_trail.h"
#include "redmirror/control/config.h"
#include "redmirror/control/http_server.h"
#include "redmirror/control/mirror_manager.h"
#include "redmirror/control/stats_collector.h"
#include "redmirror/control/reload.h"
#include "redmirror/net/signal_watch.h"
#include "redmirror/proxy/worker.h"
#include "redmirror/verdict/verdict.h"

using redmirror::control::ConfigError;
using redmirror::control::ProxyConfig;

namespace {

struct Flags {
  std::optional<std::string> configFile;
  std::optional<std::string> listen;
  std::optional<std::string> primary;
  std::optional<int> workers;
  std::optional<std::string> logLevel;
  std::optional<uint32_t> connectTimeoutMs;
  std::optional<uint32_t> shutdownTimeoutMs;
  std::vector<std::string> canaries;  // NAME=HOST:PORT
  std::vector<std::string> mirrors;   // NAME=PERCENT
  std::optional<std::string> adminSocket;
  std::optional<std::string> http;
  std::optional<std::string> adminAllowUids;  // UID[,UID...]
  std::optional<std::string> adminListen;
  std::optional<std::string> adminTokenFile;
  std::optional<std::string> auditLog;
  std::optional<std::string> reportKeys;
  bool reportValues = false;
  bool warmCanary = false;
  std::optional<uint32_t> linkBatchDelayUs;
  bool noObserve = false;
  bool checkConfig = false;
};

redmirror::control::CanaryConfig* findCanary(ProxyConfig& config, const std::string& name) {
  for (auto& canary : config.canaries) {
    if (canary.name == name) return &canary;
  }
  return nullptr;
}

void applyAdminFlags(const Flags& flags, ProxyConfig& config) {
  if (flags.adminAllowUids) {
    std::string error;
    if (!redmirror::control::parseUidList(*flags.adminAllowUids, config.adminAllowUids, error)) {
      throw ConfigError("--admin-allow-uid: " + error);
    }
  }
  if (flags.adminListen) config.adminListen = redmirror::control::parseAddressField("--admin-listen", *flags.adminListen);
  if (flags.adminTokenFile) config.adminTokenFile = *flags.adminTokenFile;
  if (flags.auditLog) config.auditLog = *flags.auditLog;
}

// The admin socket and the TCP admin listener; "" or why they cannot be opened.
std::string openAdmin(redmirror::control::AdminServer& admin, const ProxyConfig& config) {
  admin.setAllowedUids(redmirror::control::UidAllowList(config.adminAllowUids));
  // TCP first: whoever waits for the Unix socket to appear (a supervisor, a
  // test) may then rely on both listening.
  if (config.adminListen) {
    try {
      const auto token = redmirror::control::AdminToken::fromFile("admin_token_file", config.adminTokenFile);
      if (std::string error = admin.listenTcp(*config.adminListen, token); !error.empty()) return error;
    } catch (const ConfigError& e) {
      return e.what();
    }
  }
  if (!config.adminSocket.empty()) return admin.listen(config.adminSocket);
  return "";
}

ProxyConfig buildConfig(const Flags& flags) {
  ProxyConfig config;
  if (flags.configFile) redmirror::control::loadConfigFile(*flags.configFile, config);
  using redmirror::control::parseAddressField;
  if (flags.listen) config.listen = parseAddressField("--listen", *flags.listen);
  if (flags.primary) config.primary = parseAddressField("--primary", *flags.primary);
  if (flags.workers) {
    if (*flags.workers < 0) throw ConfigError("--workers: must be 0 (one per CPU) or more");
    config.workers = static_cast<unsigned>(*flags.workers);
  }
  if (flags.logLevel) config.logLevel = *flags.logLevel;
  if (flags.connectTimeoutMs) config.connectTimeoutMs = *flags.connectTimeoutMs;
  if (flags.shutdownTimeoutMs) config.shutdownTimeoutMs = *flags.shutdownTimeoutMs;
  if (flags.noObserve) config.observe = false;
  if (flags.adminSocket) config.adminSocket = *flags.adminSocket;
  if (flags.http) config.http = parseAddressField("--http", *flags.http);
  applyAdminFlags(flags, config);
  if (flags.reportKeys) {
    if (*flags.reportKeys != "plain" && *flags.reportKeys != "hashed") {
      throw ConfigError("--report-keys: expected hashed or plain, got '" + *flags.reportKeys + "'");
    }
    config.reportPlainKeys = *flags.reportKeys == "plain";
  }
  if (flags.reportValues) config.reportValues = true;
  if (flags.warmCanary) config.warmCanary = true;
  if (flags.linkBatchDelayUs) config.linkBatchDelayUs = *flags.linkBatchDelayUs;
  using redmirror::control::splitNameValue;
  for (const std::string& text : flags.canaries) {
    auto [name, address] = splitNameValue("--canary", text);
    if (!redmirror::control::validCanaryName(name)) {
      throw ConfigError("--canary: '" + name + "' is not a valid name (1-64 of A-Z a-z 0-9 _ . -)");
    }
    redmirror::control::CanaryConfig* canary = findCanary(config, name);
    if (canary == nullptr) {
      config.canaries.emplace_back();
      canary = &config.canaries.back();
      canary->name = name;
    }
    canary->address = parseAddressField("--canary " + name, address);
  }
  for (const std::string& text : flags.mirrors) {
    auto [name, percent] = splitNameValue("--mirror", text);
    redmirror::control::CanaryConfig* canary = findCanary(config, name);
    if (canary == nullptr) throw ConfigError("--mirror: no canary named '" + name + "' (add it with --canary)");
    if (!redmirror::control::parsePercent(percent, canary->percentHundredths)) {
      throw ConfigError("--mirror " + name + ": expected a percentage 0-100 with at most 2 decimals, got '" +
                        percent + "'");
    }
  }
  redmirror::control::validateConfig(config);
  return config;
}

// The control thread's loop: signals, the admin socket, and a round of the
// proxy's own connections to the primary and canaries every second (on libuv's
// thread pool: a server that does not answer must not stall the admin socket).
struct ControlContext {
  std::vector<std::unique_ptr<redmirror::proxy::Worker>>* workers;
  redmirror::control::MirrorManager* mirror;
  redmirror::control::AdminServer* admin;
  redmirror::net::SignalWatch* sighup;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  uv_timer_t watch;
  uv_work_t watchWork;
  bool watching = false;
};

constexpr uint64_t kWatchIntervalMs = 1000;

void onWatch(uv_timer_t* handle) {
  auto* context = static_cast<ControlContext*>(handle->data);
  if (context->watching) return;  // the previous round is still waiting on a server
  context->watching = true;
  context->watchWork.data = context;
  uv_queue_work(
      handle->loop, &context->watchWork,
      [](uv_work_t* work) { static_cast<ControlContext*>(work->data)->mirror->watchServers(); },
      [](uv_work_t* work, int /*status*/) { static_cast<ControlContext*>(work->data)->watching = false; });
}

void onSignal(uv_signal_t* handle, int signum) {
  auto* context = static_cast<ControlContext*>(handle->data);
  spdlog::info("received signal {}: draining sessions and stopping", signum);
  for (auto& worker : *context->workers) worker->requestStop();
  if (context->admin != nullptr) context->admin->close();
  context->sighup->close();
  uv_close(reinterpret_cast<uv_handle_t*>(&context->sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&context->sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&context->watch), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"redmirror: a transparent Redis proxy that mirrors traffic to canary servers"};
  app.set_version_flag("--version", std::string("redmirror ") + "0.1.0");
  Flags flags;
  app.add_option("--config", flags.configFile, "YAML configuration file (flags override it)");
  app.add_option("--listen", flags.listen, "address to accept clients on, HOST:PORT");
  app.add_option("--primary", flags.primary, "the production Redis, HOST:PORT");
  app.add_option("--workers", flags.workers, "worker threads (default: one per CPU)");
  app.add_option("--log-level", flags.logLevel, "trace, debug, info, warn, error, critical, off");
  app.add_option("--connect-timeout-ms", flags.connectTimeoutMs, "primary connect timeout");
  app.add_option("--shutdown-timeout-ms", flags.shutdownTimeoutMs,
                 "how long SIGTERM waits for replies in flight");
  app.add_flag("--no-observe", flags.noObserve, "pure byte pipe: no framing (performance floor)");
  app.add_option("--canary", flags.canaries, "a canary server, NAME=HOST:PORT (repeatable)");
  app.add_option("--mirror", flags.mirrors, "mirror share of a canary, NAME=PERCENT (repeatable; default 0)");
  app.add_option("--admin-socket", flags.adminSocket, "path of the admin Unix socket (mode 0600)");
  app.add_option("--http", flags.http, "read-only HTTP endpoint, HOST:PORT (/metrics, /verdict, /healthz, status page)");
  app.add_option("--admin-allow-uid", flags.adminAllowUids,
                 "only these uids may use the admin socket, UID[,UID...] (checked with SO_PEERCRED)");
  app.add_option("--admin-listen", flags.adminListen,
                 "also accept admin commands over TCP, HOST:PORT (after AUTH with --admin-token-file)");
  app.add_option("--admin-token-file", flags.adminTokenFile, "file holding the token of --admin-listen");
  app.add_option("--audit-log", flags.auditLog, "append state-changing admin commands and reloads here (JSON lines)");
  app.add_option("--report-keys", flags.reportKeys, "keys in reports: hashed (default) or plain");
  app.add_flag("--report-values", flags.reportValues, "show whole values in reports (default: 128 bytes)");
  app.add_flag("--warm-canary", flags.warmCanary, "copy cold-missed and tainted keys from the primary to the canary (DUMP/RESTORE, rate-limited)");
  app.add_option("--link-batch-delay-us", flags.linkBatchDelayUs,
                 "let canary links batch commands up to this long (default 2000; 0: one write per loop turn)");
  app.add_flag("--check-config", flags.checkConfig, "validate the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  ProxyConfig config;
  try {
    config = buildConfig(flags);
  } catch (const ConfigError& e) {
    std::cerr << "redmirror: configuration error: " << e.what() << "\n";
    return 2;
  }
  if (flags.checkConfig) {
    std::cout << "configuration OK: listen " << config.listen.str() << ", primary "
              << config.primary.str() << ", workers " << redmirror::control::effectiveWorkers(config)
              << "\n";
    return 0;
  }

  spdlog::set_level(spdlog::level::from_str(config.logLevel));
  std::signal(SIGPIPE, SIG_IGN);
  redmirror::control::AuditLog auditLog(config.auditLog);
  if (const std::string error = auditLog.checkWritable(); !error.empty()) {
    spdlog::critical("--audit-log: {}", error);
    return 2;
  }

  const unsigned workerCount = redmirror::control::effectiveWorkers(config);
  redmirror::proxy::WorkerConfig workerConfig;
  workerConfig.listen = config.listen;
  workerConfig.primary = config.primary;
  workerConfig.observe = config.observe;
  workerConfig.connectTimeoutMs = config.connectTimeoutMs;
  workerConfig.shutdownTimeoutMs = config.shutdownTimeoutMs;
  workerConfig.highWaterBytes = config.highWaterBytes;
  workerConfig.lowWaterBytes = config.lowWaterBytes;
  workerConfig.backlog = config.backlog;
  std::vector<std::unique_ptr<redmirror::proxy::Worker>> workers;
  for (unsigned i = 0; i < workerCount; ++i) {
    workers.push_back(std::make_unique<redmirror::proxy::Worker>(workerConfig, i));
    const std::string error = workers.back()->listen();
    if (!error.empty()) {
      spdlog::critical("{}", error);
      return 1;
    }
  }

  std::vector<redmirror::mirror::SettingsSubscriber*> workerPointers;
  for (auto& worker : workers) workerPointers.push_back(worker.get());
  std::unique_ptr<redmirror::control::MirrorManager> mirror;
  try {
    mirror = std::make_unique<redmirror::control::MirrorManager>(config, workerPointers);
  } catch (const ConfigError& e) {
    spdlog::critical("configuration error: {}", e.what());
    return 2;
  }
  mirror->watchServers();
  if (!mirror->haveServerCommands()) {
    spdlog::warn("using the built-in command table until the primary answers COMMAND");
  }

  redmirror::control::AuditTrail audit(auditLog);
  mirror->setJournal(&audit);  // every change to the running configuration is recorded before it is made

  uv_loop_t* loop = uv_default_loop();
  // Before the admin socket accepts: whoever can reach it may rely on SIGHUP reloading.
  redmirror::control::ConfigReloader reloader(
      flags.configFile.value_or(""), [&flags] { return buildConfig(flags); }, config, *mirror, &audit);
  redmirror::net::SignalWatch sighup;
  if (const std::string error = sighup.start(loop, SIGHUP, [&reloader] { reloader.reload(); }); !error.empty()) {
    spdlog::warn("SIGHUP will not reload the configuration: {}", error);
  }
  redmirror::control::AdminCommands adminCommands(*mirror);
  // Statistics for STATS, VERDICT and HTTP: the workers' counters are read
  // here, where both sides are known (control does not include proxy).
  const redmirror::verdict::PendingJudge judge;
  redmirror::control::StatsCollector stats(
      *mirror,
      [&workers] {
        std::vector<std::vector<redmirror::net::CounterReading>> all;
        for (const auto& worker : workers) all.push_back(redmirror::proxy::readCounters(worker->stats()));
        return all;
      },
      judge);
  adminCommands.setStats(stats);
  std::unique_ptr<redmirror::control::HttpServer> http;
  if (config.http) {
    http = std::make_unique<redmirror::control::HttpServer>(stats, *mirror);
    if (const std::string error = http->start(*config.http); !error.empty()) {
      spdlog::critical("--http: {}", error);
      sighup.close();
      uv_run(loop, UV_RUN_DEFAULT);
      return 1;
    }
  }
  adminCommands.setAuditLog(&auditLog);
  std::unique_ptr<redmirror::control::AdminServer> admin;
  if (!config.adminSocket.empty() || config.adminListen) {
    admin = std::make_unique<redmirror::control::AdminServer>(loop, adminCommands, &audit);
    if (const std::string error = openAdmin(*admin, config); !error.empty()) {
      spdlog::critical("admin: {}", error);
      admin->close();
      sighup.close();
      uv_run(loop, UV_RUN_DEFAULT);
      return 1;
    }
  }
  ControlContext control{&workers, mirror.get(), admin.get(), &sighup, {}, {}, {}, {}, false};
  uv_signal_init(loop, &control.sigint);
  uv_signal_init(loop, &control.sigterm);
  uv_timer_init(loop, &control.watch);
  control.sigint.data = control.sigterm.data = control.watch.data = &control;
  uv_signal_start(&control.sigint, onSignal, SIGINT);
  uv_signal_start(&control.sigterm, onSignal, SIGTERM);
  uv_timer_start(&control.watch, onWatch, kWatchIntervalMs, kWatchIntervalMs);

  for (auto& worker : workers) worker->start();
  spdlog::info("redmirror listening on {}, primary {}, {} worker(s){}", config.listen.str(),
               config.primary.str(), workerCount, config.observe ? "" : ", not observing");

  if (http) http->setReady(true);

  uv_run(loop, UV_RUN_DEFAULT);
  if (http) http->setReady(false);  // draining: /readyz says so while /metrics still answers
  for (auto& worker : workers) worker->join();
  http.reset();
  admin.reset();
  mirror.reset();
  workers.clear();
  uv_loop_close(loop);
  spdlog::info("redmirror stopped");
  return 0;
}
