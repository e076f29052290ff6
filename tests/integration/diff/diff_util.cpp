#include "diff_util.h"

#include <fstream>
#include <sstream>
#include <thread>

namespace diff_it {

using Clock = std::chrono::steady_clock;

DiffRig::DiffRig(const Options& options) {
  std::vector<std::string> primaryArgs = mirror_it::serverArgs();
  primaryArgs.insert(primaryArgs.end(), options.primaryArgs.begin(), options.primaryArgs.end());
  std::vector<std::string> canaryArgs = mirror_it::serverArgs();
  canaryArgs.insert(canaryArgs.end(), options.canaryArgs.begin(), options.canaryArgs.end());
  primary = std::make_unique<it::RedisServer>(primaryArgs);
  canary = std::make_unique<it::RedisServer>(canaryArgs);
  adminPath = dir.file("admin.sock");
  std::vector<std::string> args;
  if (options.yaml) {
    const std::string file = dir.file("redmirror.yaml");
    std::ofstream(file) << options.yaml(canary->port(), dir);
    args = {"--config", file};
  } else {
    args = {"--canary", "c1=127.0.0.1:" + std::to_string(canary->port()), "--mirror", "c1=100"};
  }
  args.push_back("--admin-socket");
  args.push_back(adminPath);
  args.insert(args.end(), options.proxyArgs.begin(), options.proxyArgs.end());
  proxy = std::make_unique<it::Proxy>(primary->port(), args, options.workers);
  admin = std::make_unique<mirror_it::Admin>(adminPath);
  // Commands sent before the links answered their first PING are not mirrored.
  if (!mirror_it::waitLinksUp(*admin, "c1")) ADD_FAILURE() << "the links to c1 did not come up";
}

json DiffRig::report(const std::string& canary) {
  const std::string body = admin->text({"REPORT", canary});
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    ADD_FAILURE() << "REPORT " << canary << " is not a JSON object: " << body.substr(0, 500);
    return json::object();
  }
  return parsed;
}

json DiffRig::settle(uint64_t minCompared, Millis quiet, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  json last = report();
  std::string lastKey;
  auto stableSince = Clock::now();
  for (;;) {
    const std::string key = std::to_string(last.value("mirrored", 0ULL)) + "/" +
                            std::to_string(last.value("compared", 0ULL));
    if (key != lastKey) {
      lastKey = key;
      stableSince = Clock::now();
    } else if (Clock::now() - stableSince >= quiet && last.value("compared", 0ULL) >= minCompared) {
      return last;
    }
    if (Clock::now() >= deadline) return last;
    std::this_thread::sleep_for(Millis(100));
    last = report();
  }
}

json DiffRig::waitCommandTableChecked(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    json r = report();
    if (r.contains("command_table") && r["command_table"].value("checked", false)) return r;
    if (Clock::now() >= deadline) return r;
    std::this_thread::sleep_for(Millis(200));
  }
}

uint64_t divergence(const json& report, const std::string& cls) {
  if (!report.contains("divergences") || !report["divergences"].contains(cls)) return 0;
  return report["divergences"][cls].get<uint64_t>();
}

uint64_t skipped(const json& report, const std::string& reason) {
  if (!report.contains("skipped") || !report["skipped"].contains(reason)) return 0;
  return report["skipped"][reason].get<uint64_t>();
}

std::string summary(const json& report) {
  json copy = report;
  if (copy.contains("samples") && copy["samples"].size() > 5) {
    json firstFew = json::array();
    for (size_t i = 0; i < 5; ++i) firstFew.push_back(copy["samples"][i]);
    copy["samples"] = firstFew;
  }
  copy.erase("latency_us");
  return copy.dump(1);
}

std::vector<Reply> pipeline(redisContext* c, const std::vector<std::vector<std::string>>& commands,
                            size_t batch) {
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t start = 0; start < commands.size(); start += batch) {
    const size_t end = std::min(commands.size(), start + batch);
    for (size_t i = start; i < end; ++i) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : commands[i]) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
    }
    for (size_t i = start; i < end; ++i) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
        ADD_FAILURE() << "no reply in pipeline at command " << i << ": " << (c->err ? c->errstr : "");
        return replies;
      }
      replies.emplace_back(static_cast<redisReply*>(raw));
    }
  }
  return replies;
}

}  // namespace diff_it
