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

#include "redmirror/control/config.h"
#include "redmirror/proxy/worker.h"

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
  bool noObserve = false;
  bool checkConfig = false;
};

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
  redmirror::control::validateConfig(config);
  return config;
}

struct SignalContext {
  std::vector<std::unique_ptr<redmirror::proxy::Worker>>* workers;
  uv_signal_t sigint;
  uv_signal_t sigterm;
};

void onSignal(uv_signal_t* handle, int signum) {
  auto* context = static_cast<SignalContext*>(handle->data);
  spdlog::info("received signal {}: draining sessions and stopping", signum);
  for (auto& worker : *context->workers) worker->requestStop();
  uv_close(reinterpret_cast<uv_handle_t*>(&context->sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&context->sigterm), nullptr);
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

  const unsigned workerCount = redmirror::control::effectiveWorkers(config);
  std::vector<std::unique_ptr<redmirror::proxy::Worker>> workers;
  for (unsigned i = 0; i < workerCount; ++i) {
    workers.push_back(std::make_unique<redmirror::proxy::Worker>(config, i));
    const std::string error = workers.back()->listen();
    if (!error.empty()) {
      spdlog::critical("{}", error);
      return 1;
    }
  }

  uv_loop_t* loop = uv_default_loop();
  SignalContext signals{&workers, {}, {}};
  uv_signal_init(loop, &signals.sigint);
  uv_signal_init(loop, &signals.sigterm);
  signals.sigint.data = signals.sigterm.data = &signals;
  uv_signal_start(&signals.sigint, onSignal, SIGINT);
  uv_signal_start(&signals.sigterm, onSignal, SIGTERM);

  for (auto& worker : workers) worker->start();
  spdlog::info("redmirror listening on {}, primary {}, {} worker(s){}", config.listen.str(),
               config.primary.str(), workerCount, config.observe ? "" : ", not observing");

  uv_run(loop, UV_RUN_DEFAULT);
  for (auto& worker : workers) worker->join();
  workers.clear();
  uv_loop_close(loop);
  spdlog::info("redmirror stopped");
  return 0;
}
