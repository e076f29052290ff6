#include "mirror_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace mirror_it {

using Clock = std::chrono::steady_clock;

std::vector<std::string> serverArgs() {
  return {"--enable-debug-command", "yes", "--save", "", "--appendonly", "no"};
}

uint16_t keySlot(const std::string& key) {
  std::string hashed = key;
  const size_t open = key.find('{');
  if (open != std::string::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string::npos && close != open + 1) hashed = key.substr(open + 1, close - open - 1);
  }
  // CRC16-CCITT (XModem), bit by bit, as in the Redis Cluster specification.
  uint16_t crc = 0;
  for (unsigned char byte : hashed) {
    crc ^= static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc & 16383;
}

// ------------------------------------------------------------------ Admin

Admin::Admin(std::string path) : path_(std::move(path)) {
  const auto deadline = Clock::now() + Millis(10000);
  for (;;) {
    connect();
    if (ctx_) return;
    if (Clock::now() >= deadline) throw std::runtime_error("admin socket " + path_ + " does not accept");
    std::this_thread::sleep_for(Millis(20));
  }
}

void Admin::connect() {
  ctx_.reset();
  timeval tv{5, 0};
  redisContext* c = redisConnectUnixWithTimeout(path_.c_str(), tv);
  if (c == nullptr) return;
  if (c->err) {
    redisFree(c);
    return;
  }
  redisSetTimeout(c, tv);
  ctx_.reset(c);
}

Reply Admin::run(const std::vector<std::string>& args) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ctx_) connect();
    if (!ctx_) continue;
    Reply r = it::commandArgv(ctx_.get(), args);
    if (r) return r;
    ctx_.reset();
  }
  return Reply(nullptr);
}

std::string Admin::text(const std::vector<std::string>& args) {
  Reply r = run(args);
  if (!r) return "NOREPLY";
  if (r->type == REDIS_REPLY_ERROR) return "ERR:" + std::string(r->str, r->len);
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) return std::string(r->str, r->len);
  return it::describe(r.get());
}

nlohmann::json Admin::canaryList() {
  const std::string body = text({"CANARY", "LIST"});
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_array()) {
    ADD_FAILURE() << "CANARY LIST is not a JSON array: " << body;
    return nlohmann::json::array();
  }
  return parsed;
}

nlohmann::json Admin::canary(const std::string& name) {
  for (const auto& item : canaryList()) {
    if (item.value("name", "") == name) return item;
  }
  return nlohmann::json();
}

uint64_t dropsOf(const nlohmann::json& canary) {
  uint64_t total = 0;
  if (!canary.is_object() || !canary.contains("dropped")) return 0;
  for (const auto& [reason, count] : canary["dropped"].items()) {
    if (reason != "session_closed") total += count.get<uint64_t>();
  }
  return total;
}

// ------------------------------------------------------------------ Rig

Rig::Rig() : Rig(Options{}) {}

Rig::Rig(const Options& options) {
  primary = std::make_unique<it::RedisServer>(serverArgs());
  std::vector<uint16_t> ports;
  for (int i = 0; i < options.canaries; ++i) {
    canaries.push_back(std::make_unique<it::RedisServer>(serverArgs()));
    ports.push_back(canaries.back()->port());
  }
  adminPath = dir.file("admin.sock");
  std::vector<std::string> args;
  if (options.yaml) {
    const std::string file = dir.file("redmirror.yaml");
    std::ofstream(file) << options.yaml(ports);
    args = {"--config", file};
  } else {
    for (int i = 0; i < options.canaries; ++i) {
      const std::string name = "c" + std::to_string(i + 1);
      args.push_back("--canary");
      args.push_back(name + "=127.0.0.1:" + std::to_string(ports[static_cast<size_t>(i)]));
      if (static_cast<size_t>(i) < options.percents.size()) {
        args.push_back("--mirror");
        args.push_back(name + "=" + options.percents[static_cast<size_t>(i)]);
      }
    }
  }
  args.push_back("--admin-socket");
  args.push_back(adminPath);
  args.insert(args.end(), options.extraArgs.begin(), options.extraArgs.end());
  proxy = std::make_unique<it::Proxy>(primary->port(), args, options.workers);
  admin = std::make_unique<Admin>(adminPath);
}

bool Rig::waitLinksUp(const std::string& name, Millis timeout) { return mirror_it::waitLinksUp(*admin, name, timeout); }

std::string oneCanaryYaml(uint16_t port, int percent, const std::string& extra) {
  return "canaries:\n"
         "  - name: c1\n"
         "    address: 127.0.0.1:" +
         std::to_string(port) + "\n    percent: " + std::to_string(percent) + "\n" + extra;
}

bool waitLinksUp(Admin& admin, const std::string& name, Millis timeout) {
  const std::string failure = eventually(
      [&]() -> std::string {
        const auto c = admin.canary(name);
        if (!c.is_object()) return "canary " + name + " not listed";
        const int up = c.value("links_up", -1);
        const int total = c.value("links_total", -2);
        if (total > 0 && up == total) return "";
        return "links_up " + std::to_string(up) + " of " + std::to_string(total);
      },
      timeout);
  return failure.empty();
}

// ------------------------------------------------------------------ clients

Ctx connectOrDie(uint16_t port) {
  Ctx c = it::connectRedis(port);
  if (!c || c->err) throw std::runtime_error("cannot connect to port " + std::to_string(port));
  return c;
}

Reply run(redisContext* c, const std::vector<std::string>& args, bool allowError) {
  Reply r = it::commandArgv(c, args);
  std::string line;
  for (const auto& a : args) line += a.substr(0, 40) + " ";
  if (!r) {
    ADD_FAILURE() << "no reply to " << line << (c->err ? c->errstr : "");
  } else if (!allowError && r->type == REDIS_REPLY_ERROR) {
    ADD_FAILURE() << "error reply to " << line << ": " << it::describe(r.get());
  }
  return r;
}

std::string str(const redisReply* r) {
  if (r == nullptr) return "(no reply)";
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR) {
    return std::string(r->str, r->len);
  }
  if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
  return it::describe(r);
}

void waitMirrorQuiet(Admin& admin, const std::string& name, Millis quiet, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  auto stableSince = Clock::now();
  while (Clock::now() < deadline) {
    const auto c = admin.canary(name);
    const std::string now = c.is_object() ? std::to_string(c.value("mirrored", 0ULL)) + "/" +
                                                std::to_string(dropsOf(c))
                                          : "absent";
    if (now != last) {
      last = now;
      stableSince = Clock::now();
    } else if (Clock::now() - stableSince >= quiet) {
      return;
    }
    std::this_thread::sleep_for(Millis(100));
  }
}

std::string eventually(const std::function<std::string()>& check, Millis timeout, Millis interval) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::string failure = check();
    if (failure.empty() || Clock::now() >= deadline) return failure;
    std::this_thread::sleep_for(interval);
  }
}

std::vector<std::string> keysOf(redisContext* c, int db) {
  std::vector<std::string> keys;
  Reply sel = it::commandArgv(c, {"SELECT", std::to_string(db)});
  std::string cursor = "0";
  do {
    Reply r = it::commandArgv(c, {"SCAN", cursor, "COUNT", "1000"});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      ADD_FAILURE() << "SCAN failed: " << it::describe(r.get());
      break;
    }
    cursor = std::string(r->element[0]->str, r->element[0]->len);
    const redisReply* list = r->element[1];
    for (size_t i = 0; i < list->elements; ++i) {
      keys.emplace_back(list->element[i]->str, list->element[i]->len);
    }
  } while (cursor != "0");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::string compareDb(uint16_t primaryPort, uint16_t canaryPort, int db, long ttlSlackMs) {
  Ctx p = connectOrDie(primaryPort);
  Ctx c = connectOrDie(canaryPort);
  const std::vector<std::string> pk = keysOf(p.get(), db);
  const std::vector<std::string> ck = keysOf(c.get(), db);
  std::ostringstream out;
  int problems = 0;
  auto note = [&](const std::string& what) {
    if (problems++ < 10) out << "  db" << db << ": " << what << "\n";
  };
  std::vector<std::string> onlyPrimary, onlyCanary, both;
  std::set_difference(pk.begin(), pk.end(), ck.begin(), ck.end(), std::back_inserter(onlyPrimary));
  std::set_difference(ck.begin(), ck.end(), pk.begin(), pk.end(), std::back_inserter(onlyCanary));
  std::set_intersection(pk.begin(), pk.end(), ck.begin(), ck.end(), std::back_inserter(both));
  for (const auto& k : onlyPrimary) note("key '" + k + "' only on the primary");
  for (const auto& k : onlyCanary) note("key '" + k + "' only on the canary");
  for (const auto& k : both) {
    Reply pt = it::commandArgv(p.get(), {"TYPE", k});
    Reply ct = it::commandArgv(c.get(), {"TYPE", k});
    if (str(pt.get()) != str(ct.get())) {
      note("key '" + k + "': type " + str(pt.get()) + " vs " + str(ct.get()));
      continue;
    }
    Reply pd = it::commandArgv(p.get(), {"DEBUG", "DIGEST-VALUE", k});
    Reply cd = it::commandArgv(c.get(), {"DEBUG", "DIGEST-VALUE", k});
    if (it::describe(pd.get()) != it::describe(cd.get())) {
      std::string detail;
      const std::string type = str(pt.get());
      std::vector<std::string> show;
      if (type == "string") show = {"GET", k};
      if (type == "stream") show = {"XRANGE", k, "-", "+"};
      if (type == "list") show = {"LRANGE", k, "0", "-1"};
      if (type == "zset") show = {"ZRANGE", k, "0", "-1", "WITHSCORES"};
      if (type == "set") show = {"SMEMBERS", k};
      if (type == "hash") show = {"HGETALL", k};
      if (!show.empty()) {
        Reply pv = it::commandArgv(p.get(), show);
        Reply cv = it::commandArgv(c.get(), show);
        detail = " (" + it::describe(pv.get()) + " vs " + it::describe(cv.get()) + ")";
      }
      note("key '" + k + "' (" + str(pt.get()) + "): value differs" + detail);
      continue;
    }
    Reply pttlP = it::commandArgv(p.get(), {"PTTL", k});
    Reply pttlC = it::commandArgv(c.get(), {"PTTL", k});
    const long long a = pttlP ? pttlP->integer : -3;
    const long long b = pttlC ? pttlC->integer : -3;
    const bool ok = (a < 0 && b < 0 && a == b) || (a >= 0 && b >= 0 && std::llabs(a - b) <= ttlSlackMs);
    if (!ok) note("key '" + k + "': PTTL " + std::to_string(a) + " vs " + std::to_string(b));
  }
  if (problems > 10) out << "  db" << db << ": ... " << problems - 10 << " more\n";
  return out.str();
}

void persistAll(uint16_t port, int maxDb) {
  Ctx c = connectOrDie(port);
  for (int db = 0; db <= maxDb; ++db) {
    for (const auto& k : keysOf(c.get(), db)) Reply r = it::commandArgv(c.get(), {"PERSIST", k});
  }
}

std::string digest(uint16_t port) {
  Ctx c = connectOrDie(port);
  Reply r = it::commandArgv(c.get(), {"DEBUG", "DIGEST"});
  return it::describe(r.get());
}

long long dbsize(uint16_t port, int db) {
  Ctx c = connectOrDie(port);
  Reply sel = it::commandArgv(c.get(), {"SELECT", std::to_string(db)});
  Reply r = it::commandArgv(c.get(), {"DBSIZE"});
  return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

bool waitBlocked(uint16_t primaryPort, int n, Millis timeout) {
  Ctx c = connectOrDie(primaryPort);
  const std::string want = "blocked_clients:" + std::to_string(n) + "\r\n";
  return eventually(
             [&]() -> std::string {
               Reply r = it::commandArgv(c.get(), {"INFO", "clients"});
               const std::string info = str(r.get());
               return info.find(want) != std::string::npos ? "" : "not yet";
             },
             timeout, Millis(5))
      .empty();
}

long rssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::string shell(const std::string& command, int* status) {
  std::string out;
  FILE* f = popen(command.c_str(), "r");
  if (f == nullptr) {
    if (status) *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int rc = pclose(f);
  if (status) *status = rc;
  return out;
}

bool haveProgram(const std::string& name) {
  int status = 0;
  shell("command -v " + name + " >/dev/null 2>&1", &status);
  return status == 0;
}

nlohmann::json reportOf(Admin& admin, const std::string& canary) {
  nlohmann::json report = nlohmann::json::parse(admin.text({"REPORT", canary}), nullptr, false);
  EXPECT_FALSE(report.is_discarded());
  return report;
}

long long skippedOf(const nlohmann::json& report, const std::string& reason) {
  const auto skipped = report.find("skipped");
  if (skipped == report.end() || !skipped->is_object()) return 0;
  return skipped->value(reason, 0LL);
}

}  // namespace mirror_it
