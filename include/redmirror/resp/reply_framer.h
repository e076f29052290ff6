#pragma once
// Observes a server's reply stream (RESP2 and RESP3) and reports each top-level
// value's boundaries, with a small by-value summary of it for the session's
// matching logic. Non-recursive: an explicit stack bounded by kMaxReplyDepth; no
// allocation is sized from the wire. Payloads are skipped by length.
//
// Types: + - : $ * _ , # ! = ( % ~ > and attributes '|' (an attribute map is
// folded into the value that follows it: it is not a reply of its own). Streamed
// strings ($? then ;len chunks, ;0 ends) and streamed aggregates (*? %? ~? >?,
// ended by ".\r\n") are followed too.
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "redmirror/resp/limits.h"
#include "redmirror/resp/request_framer.h"

namespace redmirror::resp {

// A scalar summarised by value: type byte, captured bytes, and its integer value
// when the type is ':' (or a length-prefixed type's length for '$' '!' '=').
struct ReplyAtom {
  char type = 0;         // RESP type byte, 0 when absent
  Capture text;          // '+' '-' '$' '!' '=' ',' '(' '#': the payload's first bytes
  int64_t integer = 0;   // ':' value; for aggregates their element count
  bool isNull = false;   // $-1, *-1, _
};

struct ReplyFrame {
  uint64_t begin = 0;  // stream offset of the first byte (of a leading attribute, if any)
  uint64_t end = 0;    // one past the last byte
  // The top-level value itself (type '*' '%' '~' '>' for aggregates, with
  // integer = element count, -1 for streamed).
  ReplyAtom top;
  // For aggregates: a summary of the first three elements when they are scalars
  // (pub/sub: kind, channel, count). Unused entries have type 0.
  std::array<ReplyAtom, 3> head{};

  bool isError() const { return top.type == '-' || top.type == '!'; }
  bool isPush() const { return top.type == '>'; }
};

class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // Called once per complete top-level value, in stream order; valid during the call.
  virtual void onReply(const ReplyFrame& frame) = 0;
};

class ReplyFramer {
 public:
  ReplyFramer();
  // Scans the next bytes of the stream. Returns false once it cannot follow it.
  bool feed(std::span<const char> bytes, ReplySink& sink);

  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  uint64_t offset() const { return offset_; }

 private:
  bool fail(std::string reason);
  // Implementation state (the helper that writes reply_framer.cpp may reshape this).
  struct Level {
    int64_t remaining = 0;  // elements still expected; -1 for streamed aggregates
    bool attribute = false;
  };
  std::array<Level, kMaxReplyDepth> stack_{};
  size_t depth_ = 0;
  bool failed_ = false;
  std::string error_;
  uint64_t offset_ = 0;
  ReplyFrame frame_;
  // Scanner state for the value being read.
  uint8_t state_ = 0;
  char type_ = 0;
  int64_t payloadLeft_ = 0;
  uint32_t terminatorLeft_ = 0;
  std::array<char, kMaxNumberLength + 1> digits_{};
  size_t digitCount_ = 0;
  bool frameStarted_ = false;
  int elementIndex_ = -1;
};

}  // namespace redmirror::resp
