#pragma once
// Observes a server's reply stream (RESP2 and RESP3) and reports each top-level
// value's boundaries, with a small by-value summary of it for the session's
// matching logic. Non-recursive: an explicit stack (grown on demand up to kMaxReplyDepth); no
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
#include <vector>

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
  // Scanner states; each value is a type byte, a line, and for '$' '!' '=' (and
  // streamed-string chunks) a payload followed by a verified CRLF:
  //
  //   $5\r\n hello \r\n        *2\r\n :1\r\n +OK\r\n
  //   kNumber kPayload kPayloadCr   kNumber (push Level) ... valueDone pops it
  enum class State : uint8_t {
    kType,       // expecting a type byte
    kNumber,     // reading a numeric line (: $ * % ~ > | ! = ; .), until '\r'
    kNumberLf,   // its '\r' seen
    kText,       // reading a text line (+ - , ( # _), until "\r\n"
    kTextCr,     // a text line's '\r' was the last byte of a span
    kPayload,    // skipping payload bytes
    kPayloadCr,  // expecting the '\r' after a payload
    kPayloadLf,  // expecting the '\n' after a payload
    kChunk,      // inside a streamed string: expecting ';'
  };
  struct Level {
    int64_t remaining = 0;  // elements still expected; -1 for streamed aggregates
    int64_t seen = 0;       // elements completed
    char type = 0;
    bool attribute = false;
  };

  bool fail(std::string reason);
  // Top-level + - : $ values lying whole in [p, end); returns the position after
  // the last one parsed (p itself when none).
  const char* fastTopLevel(const char* p, const char* end, uint64_t base, const char* origin,
                           ReplySink& sink);
  void startFrame(uint64_t begin);
  void setTopScalar(uint64_t begin, char type, int64_t integer);
  bool startValue(char type);
  // `after` is the stream offset just past the line's CRLF.
  bool finishNumber(const char* line, size_t length, uint64_t after, ReplySink& sink);
  bool finishText();
  void capture(const char* data, size_t n);
  // A value (scalar or aggregate) is complete: pops finished aggregates and
  // reports the frame when the top-level value is done.
  void valueDone(uint64_t end, ReplySink& sink);

  bool push(const Level& level);

  std::vector<Level> stack_ = std::vector<Level>(16);  // grows up to kMaxReplyDepth
  size_t depth_ = 0;
  bool failed_ = false;
  std::string error_;
  uint64_t offset_ = 0;
  ReplyFrame frame_;
  State state_ = State::kType;
  char type_ = 0;              // type byte of the value being read
  bool frameStarted_ = false;  // a top-level value (or its attribute) has begun
  bool headDirty_ = false;     // frame_.head holds entries of an earlier frame
  bool streamedString_ = false;
  char firstByte_ = 0;         // first byte of the current text line ('#' needs it)
  ReplyAtom* atom_ = nullptr;  // where the current value is summarised, if anywhere
  uint64_t textLength_ = 0;    // bytes of the current text line or streamed string
  int64_t payloadLeft_ = 0;
  std::array<char, kMaxNumberLength + 1> digits_{};
  size_t digitCount_ = 0;
};

}  // namespace redmirror::resp
