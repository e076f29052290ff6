#include "redmirror/mirror/repair_link.h"

#include <spdlog/spdlog.h>

#include "redmirror/mirror/worker_mirror.h"
#include "redmirror/net/counter.h"
#include "redmirror/resp/value.h"

namespace redmirror::mirror {

namespace {
using net::bump;
constexpr size_t kMaxPendingRepairs = 1024;
constexpr net::WriteLimits kRepairLimits{SIZE_MAX / 2, SIZE_MAX / 4};
}  // namespace

bool RepairLink::request(uint64_t canaryId, uint32_t db, std::string key, bool replace) {
  if (stopped_ || waiting_.size() + inFlight_.size() >= kMaxPendingRepairs) return false;
  Repair repair{canaryId, db, std::move(key), {}, false, replace};
  if (up_) {
    send(repair);
    inFlight_.push_back(std::move(repair));
  } else {
    waiting_.push_back(std::move(repair));
    if (stream_ == nullptr) connect();
  }
  return true;
}

void RepairLink::connect() {
  const MirrorSettings* settings = owner_.settingsSnapshot();
  if (settings == nullptr || stopped_) return;
  net::TcpStream::Events& events = *this;
  stream_ = std::make_unique<net::TcpStream>(owner_.loop(), owner_.pool(), owner_.scheduler(), events,
                                             kRepairLimits);
  framer_ = resp::ReplyFramer();
  replies_.clear();
  readOffset_ = lastReplyEnd_ = 0;
  db_ = 0;
  expected_.clear();
  if (stream_->connect(reinterpret_cast<const sockaddr*>(&settings->primaryAddress)) != 0) fail();
}

void RepairLink::onConnected(net::TcpStream& stream, int status) {
  if (&stream != stream_.get()) return;
  if (status != 0) {
    fail();
    return;
  }
  const MirrorSettings* settings = owner_.settingsSnapshot();
  up_ = true;
  stream_->tune();
  stream_->startReading();
  if (settings != nullptr && !settings->primaryPassword.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!settings->primaryUsername.empty()) auth.push_back(settings->primaryUsername);
    auth.push_back(settings->primaryPassword);
    stream_->writeCopy(resp::encodeCommand(auth));
    expected_.push_back(Expect::kInternal);
  }
  while (!waiting_.empty()) {
    send(waiting_.front());
    inFlight_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void RepairLink::send(const Repair& repair) {
  if (repair.db != db_) {
    const std::string db = std::to_string(repair.db);
    stream_->writeCopy(resp::encodeCommand({"SELECT", db}));
    expected_.push_back(Expect::kInternal);
    db_ = repair.db;
  }
  stream_->writeCopy(resp::encodeCommand({"DUMP", repair.key}));
  stream_->writeCopy(resp::encodeCommand({"PTTL", repair.key}));
  expected_.push_back(Expect::kDump);
  expected_.push_back(Expect::kPttl);
}

void RepairLink::onData(net::TcpStream& stream, net::Chunk* chunk, uint32_t offset, uint32_t length) {
  if (&stream != stream_.get()) return;
  replies_.append(readOffset_, chunk, offset, length);
  readOffset_ += length;
  if (!framer_.feed(std::span<const char>(chunk->data() + offset, length), *this)) {
    fail();
    return;
  }
  replies_.dropBefore(lastReplyEnd_);
}

void RepairLink::onReply(const resp::ReplyFrame& frame) {
  lastReplyEnd_ = frame.end;
  if (expected_.empty()) {
    fail();
    return;
  }
  const Expect expect = expected_.front();
  expected_.pop_front();
  if (expect == Expect::kInternal) {
    if (frame.isError()) {
      spdlog::warn("warm-canary: the primary refused the repair connection's AUTH or SELECT");
      fail();
    }
    return;
  }
  if (inFlight_.empty()) return;
  Repair& repair = inFlight_.front();
  if (expect == Expect::kDump) {
    repair.found = frame.top.type == '$' && !frame.top.isNull;
    if (repair.found) {
      std::string bytes;
      resp::Value value;
      std::string error;
      repair.found = replies_.copy(frame.begin, frame.end, bytes) && resp::parseValue(bytes, value, error);
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

void RepairLink::onEnd(net::TcpStream& stream, int /*status*/) {
  if (&stream == stream_.get()) fail();
}

void RepairLink::fail() {
  up_ = false;
  inFlight_.clear();
  waiting_.clear();
  expected_.clear();
  if (stream_) {
    stream_->close();
    closing_.push_back(std::move(stream_));
  }
}

void RepairLink::sweep(uint64_t /*nowMs*/) {
  std::erase_if(closing_, [](const std::unique_ptr<net::TcpStream>& stream) { return stream->isClosed(); });
}

void RepairLink::shutdown() {
  stopped_ = true;
  fail();
}

}  // namespace redmirror::mirror
