#pragma once
// The audit log: one JSON line per state-changing admin command, reload or
// access refusal, appended to a file and fsync'd before the change it records
// takes effect, and the last records kept in memory for AUDIT [n].
//
// A line:
//   {"time":"2026-12-05T10:11:12.345Z",
//    "peer":{"transport":"unix","uid":1000,"gid":1000,"pid":4242},
//    "command":["MIRROR","SET","c1","25"],
//    "before":{"canary":"c1","percent":10.0},"after":{"canary":"c1","percent":25.0},
//    "result":"ok"}
// "peer" is {"transport":"tcp","address":"127.0.0.1:51234"} for the TCP
// listener and {"transport":"signal","signal":"SIGHUP"} for a reload.
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "redmirror/control/admin_peer.h"

namespace redmirror::control {

struct AuditRecord {
  std::chrono::system_clock::time_point time;
  AdminPeer peer;
  std::vector<std::string> command;  // as received: redacted when written
  nlohmann::ordered_json before;     // null when nothing changed
  nlohmann::ordered_json after;
  std::string result;  // "ok", or why the command was refused
};

// Arguments as they may be recorded: secrets replaced by "(redacted)" (every
// argument of AUTH; what follows AUTH in HELLO), each argument cut to
// kMaxRecordedArgBytes, at most kMaxRecordedArgs of them.
inline constexpr size_t kMaxRecordedArgBytes = 256;
inline constexpr size_t kMaxRecordedArgs = 16;
std::vector<std::string> redactCommand(const std::vector<std::string>& args);

// The record as one JSON line (no newline). Never throws: invalid UTF-8 is replaced.
std::string auditLine(const AuditRecord& record);

class AuditLog {
 public:
  static constexpr size_t kMaxRecords = 1000;          // kept in memory for AUDIT
  static constexpr size_t kMaxMemoryBytes = 1 << 20;  // and at most this many bytes of them
  static constexpr size_t kDefaultCount = 10;          // AUDIT without n

  // `path` empty: records are kept in memory only.
  explicit AuditLog(std::string path = "");
  const std::string& path() const { return path_; }

  // At start-up: "" when the file can be opened for appending (it is created
  // with mode 0600), else why not.
  std::string checkWritable() const;
  // Writes the record and fsyncs the file, then keeps it in memory. Returns ""
  // when the record is durable, else why not; the file is then cut back to
  // where it was, so it never holds a record of a change that was not made.
  std::string append(const AuditRecord& record);
  // The last `count` records (at most what is kept), oldest first, as a JSON array.
  std::string recentJson(size_t count) const;

 private:
  std::string writeLine(const std::string& line) const;

  std::string path_;
  mutable std::mutex mutex_;
  std::deque<std::string> recent_;
  size_t recentBytes_ = 0;
};

}  // namespace redmirror::control
