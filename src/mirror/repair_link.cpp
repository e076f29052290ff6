#include "redmirror/mirror/repair_link.h"

#include <spdlog/spdlog.h>

#include "redmirror/mirror/worker_mirror.h"
#include "redmirror/resp/value.h"

namespace redmirror::mirror {

namespace {
constexpr size_t kMaxPendingRepairs = 1024;
constexpr uint64_t kConnectTimeoutMs = 2000;
}  // namespace

RepairLink::RepairLink(WorkerMirror& owner)
    : owner_(owner), connection_(owner.loop(), owner.pool(), owner.scheduler(), *this, owner.randomNumber()) {}

bool RepairLink::request(uint64_t canaryId, uint32_t db, std::string key, bool replace) {
  if (stopped_ || waiting_.size() + inFlight_.size() >= kMaxPendingRepairs) return false;
  Repair repair{canaryId, db, std::move(key), {}, false, replace};
  if (connection_.up()) {
    send(repair);
    inFlight_.push_back(std::move(repair));
  } else {
    waiting_.push_back(std::move(repair));
    connection_.start();
  }
  return true;
}

bool RepairLink::serverEndpoint(ServerConnection::Endpoint& endpoint) {
  const MirrorSettings* settings = owner_.settingsSnapshot();
  if (settings == nullptr || stopped_) return false;
  endpoint.address = settings->primaryAddress;
  endpoint.username = settings->primaryUsername;
  endpoint.password = settings->primaryPassword;
  endpoint.connectTimeoutMs = kConnectTimeoutMs;
  return true;
}

void RepairLink::onServerUp() {
  while (!waiting_.empty()) {
    send(waiting_.front());
    inFlight_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void RepairLink::send(const Repair& repair) {
  connection_.use(repair.db);
  connection_.write(resp::encodeCommand({"DUMP", repair.key}), 1);
  connection_.write(resp::encodeCommand({"PTTL", repair.key}), 1);
  expected_.push_back(Expect::kDump);
  expected_.push_back(Expect::kPttl);
}

void RepairLink::onServerReply(const resp::ReplyFrame& frame) {
  if (expected_.empty() || inFlight_.empty()) return;
  const Expect expect = expected_.front();
  expected_.pop_front();
  Repair& repair = inFlight_.front();
  if (expect == Expect::kDump) {
    repair.found = frame.top.type == '$' && !frame.top.isNull;
    if (repair.found) {
      std::string bytes;
      resp::Value value;
      std::string error;
      repair.found = connection_.replies().copy(frame.begin, frame.end, bytes) &&
                     resp::parseValue(bytes, value, error);
      if (repair.found) repair.dump = std::move(value.text);
    }
    return;
  }
  // PTTL: -2 the key vanished meanwhile, -1 no expiry, else milliseconds left.
  const int64_t pttl = frame.top.type == ':' ? frame.top.integer : -2;
  if (repair.found && pttl != -2) {
    const std::string ttl = std::to_string(pttl > 0 ? pttl : 0);
    std::vector<std::string_view> restore{"RESTORE", repair.key, ttl, repair.dump};
    if (repair.replace) restore.push_back("REPLACE");
    owner_.restoreOnCanary(repair.canaryId, repair.db, repair.key, resp::encodeCommand(restore));
  }
  inFlight_.pop_front();
}

void RepairLink::onServerDown(ServerConnection::Failure failure, std::string_view why, bool /*wasUp*/) {
  if (failure == ServerConnection::Failure::kAuthRefused || failure == ServerConnection::Failure::kProtocol) {
    spdlog::warn("warm-canary: the repair connection to the primary failed: {}", why);
  }
  // Repairs are best effort: the keys stay cold (or tainted) and are asked for again on their next miss.
  inFlight_.clear();
  waiting_.clear();
  expected_.clear();
}

void RepairLink::sweep(uint64_t nowMs) { connection_.sweep(nowMs); }

void RepairLink::shutdown() {
  stopped_ = true;
  inFlight_.clear();
  waiting_.clear();
  expected_.clear();
  connection_.close();
}

}  // namespace redmirror::mirror
