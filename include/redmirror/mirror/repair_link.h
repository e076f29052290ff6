#pragma once
// Read repair for --warm-canary: on a cold miss (the canary lacks a key that
// predates mirroring), copy the key from the primary with DUMP and PTTL and
// RESTORE it on the canary, so a fresh canary warms up from live traffic.
// One connection to the primary per worker, opened on first use; rate-limited
// by the caller. Never on the client path: a repair that fails is only counted.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "redmirror/net/stream_window.h"
#include "redmirror/net/tcp_stream.h"
#include "redmirror/resp/reply_framer.h"

namespace redmirror::mirror {

class WorkerMirror;

class RepairLink final : private net::TcpStream::Events, private resp::ReplySink {
 public:
  explicit RepairLink(WorkerMirror& owner) : owner_(owner) {}
  ~RepairLink() override = default;
  RepairLink(const RepairLink&) = delete;
  RepairLink& operator=(const RepairLink&) = delete;

  // Asks the primary for `key` in `db`; false when too many repairs are pending.
  // `replace`: the canary has the key with a value to replace (a tainted key).
  bool request(uint64_t canaryId, uint32_t db, std::string key, bool replace = false);
  void sweep(uint64_t nowMs);
  void shutdown();
  bool fullyClosed() const { return stream_ == nullptr && closing_.empty(); }

 private:
  enum class Expect : uint8_t { kInternal, kDump, kPttl };
  struct Repair {
    uint64_t canaryId;
    uint32_t db;
    std::string key;
    std::string dump;
    bool found = false;
    bool replace = false;  // the canary holds a stale copy (a tainted key), not none
  };

  void onData(net::TcpStream& stream, net::Chunk* chunk, uint32_t offset, uint32_t length) override;
  void onEnd(net::TcpStream& stream, int status) override;
  void onDrained(net::TcpStream& /*stream*/) override {}
  void onConnected(net::TcpStream& stream, int status) override;
  void onClosed(net::TcpStream& /*stream*/) override {}
  void onReply(const resp::ReplyFrame& frame) override;

  void connect();
  void fail();
  void send(const Repair& repair);

  WorkerMirror& owner_;
  std::unique_ptr<net::TcpStream> stream_;
  std::vector<std::unique_ptr<net::TcpStream>> closing_;
  bool up_ = false;
  bool stopped_ = false;
  resp::ReplyFramer framer_;
  net::StreamWindow replies_;
  uint64_t readOffset_ = 0;
  uint64_t lastReplyEnd_ = 0;
  uint32_t db_ = 0;
  std::deque<Repair> waiting_;    // until the connection is up
  std::deque<Repair> inFlight_;   // DUMP and PTTL sent
  std::deque<Expect> expected_;
  uint64_t lastUseMs_ = 0;
};

}  // namespace redmirror::mirror
