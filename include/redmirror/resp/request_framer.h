#pragma once
// Observes a client's request stream and reports command boundaries.
//
// The framer never owns or copies the stream: bytes are fed as they are read, and
// each completed command is reported with absolute stream offsets (the count of
// bytes fed before it), so the caller, which keeps the read chunks alive, can
// find the frame's bytes without the framer holding them. Bulk payloads are
// skipped by length, never scanned; large arguments need not be complete before
// their bytes are forwarded.
//
// It follows Redis 7's networking.c exactly: '*' starts a multibulk request,
// anything else is an inline line split like sdssplitargs; "*0" / "*-1" and empty
// inline lines are no command (Redis sends no reply); after a bulk payload the
// two terminator bytes are skipped unchecked, as Redis does. Anything Redis would
// refuse with a protocol error makes the framer fail (sticky): the session stops
// observing and keeps forwarding, and Redis itself answers the client.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/resp/ascii.h"
#include "redmirror/resp/limits.h"

namespace redmirror::resp {

// The first kCaptureBytes bytes of a short token, copied so that dispatch
// decisions never need the (possibly split) stream bytes.
struct Capture {
  std::array<char, kCaptureBytes> bytes{};
  uint8_t size = 0;        // bytes captured (min(length, kCaptureBytes))
  bool complete = false;   // the whole token fit
  std::string_view view() const { return {bytes.data(), size}; }
  // ASCII case-insensitive equality with a lowercase literal; false when truncated.
  // Inline: the session asks it a dozen times per command.
  bool is(std::string_view lowercase) const {
    if (!complete || size != lowercase.size()) return false;
    for (size_t i = 0; i < lowercase.size(); ++i) {
      if (toLowerAscii(bytes[i]) != lowercase[i]) return false;
    }
    return true;
  }
};

// Position of one argument's payload in the stream.
struct ArgRef {
  uint64_t offset = 0;  // stream offset of the payload's first byte
  uint64_t length = 0;  // payload length in bytes
};

inline constexpr size_t kCapturedArgs = 3;

struct CommandFrame {
  uint64_t begin = 0;  // stream offset of the frame's first byte
  uint64_t end = 0;    // one past its last byte (includes the trailing CRLF)
  uint32_t argc = 0;
  bool isInline = false;
  // args[0] (the command name) is captured lowercased; args[1..2] as sent.
  std::array<Capture, kCapturedArgs> captured{};
  // Multibulk: every argument's payload position (first kMaxArgRefs of them).
  std::span<const ArgRef> args;
  bool argsTruncated = false;
  // Inline: the arguments after unquoting (inline lines are rare and short).
  std::span<const std::string> inlineArgs;

  std::string_view name() const { return captured[0].view(); }
};

class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // Called once per complete command, in stream order. The frame and the spans in
  // it are valid only during the call.
  virtual void onCommand(const CommandFrame& frame) = 0;
};

class RequestFramer {
 public:
  RequestFramer();
  // Scans the next bytes of the stream and reports each command completed by them.
  // Returns false once the stream cannot be followed (and for every later call).
  bool feed(std::span<const char> bytes, RequestSink& sink);

  bool failed() const { return failed_; }
  // Why it failed, in Redis's words where Redis has words for it.
  const std::string& error() const { return error_; }
  // Bytes fed so far.
  uint64_t offset() const { return offset_; }

 private:
  // Stream layout of one multibulk command and the state that reads each part:
  //
  //   *3\r\n  $3\r\n SET \r\n  $16\r\n key:...  \r\n  ...
  //   kHeader  kHeader kBulk------ kHeader kBulk------- ...
  //   (count)  (bulk length; kBulk skips payload + 2 bytes)
  enum class State : uint8_t {
    kStart,     // expecting the first byte of a request
    kInline,    // accumulating an inline line (until '\n')
    kHeader,    // accumulating a header line (until '\r'): count or bulk length
    kHeaderLf,  // the header's '\r' seen; the next byte completes it
    kBulk,      // skipping a payload and the 2 bytes after it
  };

  bool fail(std::string reason);
  // Parses one whole multibulk command lying inside [p, end); returns the
  // position after it, or nullptr to let the state machine take over from p.
  const char* tryWholeCommand(const char* p, const char* end, uint64_t base, const char* origin,
                              RequestSink& sink);
  bool appendHeader(const char* from, const char* to);
  bool finishHeader(const char* line, size_t length, uint64_t payloadOffset);
  void beginArg(uint64_t payloadOffset, int64_t length);
  bool finishInline(std::string_view line, uint64_t end, RequestSink& sink);
  void resetCaptures();
  void emit(uint64_t end, RequestSink& sink);
  void ensureArgRefs(size_t count);

  State state_ = State::kStart;
  bool failed_ = false;
  bool headerIsCount_ = false;
  std::string error_;
  uint64_t offset_ = 0;

  // Current frame.
  CommandFrame frame_;
  int64_t argsLeft_ = 0;
  int64_t bulkLeft_ = 0;   // payload bytes + 2 terminator bytes still to skip
  int64_t bulkLength_ = 0;
  uint32_t argIndex_ = 0;
  // The header line so far: its first bytes (type byte + kMaxNumberLength + 1, enough
  // to tell a valid number from an invalid one) and its full length.
  std::array<char, kMaxNumberLength + 2> header_{};
  size_t headerLength_ = 0;
  std::vector<ArgRef> argRefs_;  // grows up to kMaxArgRefs, never shrinks
  std::string inlineLine_;
  std::vector<std::string> inlineArgs_;
};

// Splits an inline request line exactly as Redis's sdssplitargs does. Returns
// false on unbalanced quotes (Redis: "Protocol error: unbalanced quotes in request").
bool splitInlineArgs(std::string_view line, std::vector<std::string>& out);

}  // namespace redmirror::resp
