// ReplyFramer: follows a server's RESP2/RESP3 stream without building values.
//
// The state machine below handles everything; fastTopLevel() handles the common
// top-level scalars (+ - : $) that lie whole inside one span without entering it.
// Nesting uses an explicit stack (stack_, up to kMaxReplyDepth levels); an element
// count from the wire is only ever a counter, never an allocation size.
#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <utility>

#include "redmirror/resp/reply_framer.h"
#include "string2ll.h"

namespace redmirror::resp {

namespace {

constexpr bool isAggregate(char c) { return c == '*' || c == '%' || c == '~' || c == '>'; }

inline void resetAtom(ReplyAtom& a) {
  a.type = 0;
  a.text.size = 0;
  a.text.complete = false;
  a.integer = 0;
  a.isNull = false;
}

inline void captureInto(Capture& cap, const char* data, size_t n, const char* end) {
  if (end - data >= static_cast<ptrdiff_t>(kCaptureBytes)) {
    std::memcpy(cap.bytes.data(), data, kCaptureBytes);  // fixed size: one wide copy
  } else {
    std::memcpy(cap.bytes.data(), data, std::min(n, kCaptureBytes));
  }
  cap.size = static_cast<uint8_t>(std::min(n, kCaptureBytes));
  cap.complete = n <= kCaptureBytes;
}

// memchr for '\r', with the first 8 bytes (all of "+OK\r\n") tested as one word:
// the lowest byte flagged by the zero-byte trick is exact.
inline const char* findCr(const char* p, const char* end) {
  if constexpr (std::endian::native == std::endian::little) {
    if (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      const uint64_t x = w ^ 0x0d0d0d0d0d0d0d0dULL;
      const uint64_t found = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
      if (found != 0) return p + (std::countr_zero(found) >> 3);
      p += 8;
    }
  }
  return static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
}

std::string describe(char c) {
  if (c >= 0x21 && c <= 0x7e) return std::string("'") + c + "'";
  static const char* hex = "0123456789abcdef";
  const auto u = static_cast<unsigned char>(c);
  return std::string("0x") + hex[u >> 4] + hex[u & 15];
}

}  // namespace

ReplyFramer::ReplyFramer() = default;

bool ReplyFramer::push(const Level& level) {
  if (depth_ == stack_.size()) {
    // Deep replies are rare (a Lua script returning nested tables): grow on demand.
    if (depth_ == kMaxReplyDepth) return false;
    stack_.resize(std::min(kMaxReplyDepth, stack_.size() * 2));
  }
  stack_[depth_++] = level;
  return true;
}

bool ReplyFramer::fail(std::string reason) {
  failed_ = true;
  error_ = std::move(reason);
  return false;
}

void ReplyFramer::startFrame(uint64_t begin) {
  frame_.begin = begin;
  resetAtom(frame_.top);
  if (headDirty_) {
    for (ReplyAtom& a : frame_.head) resetAtom(a);
    headDirty_ = false;
  }
  frameStarted_ = true;
}

void ReplyFramer::capture(const char* data, size_t n) {
  if (atom_ == nullptr) return;
  Capture& cap = atom_->text;
  if (cap.size >= kCaptureBytes) return;
  const size_t k = std::min(n, kCaptureBytes - cap.size);
  std::memcpy(cap.bytes.data() + cap.size, data, k);
  cap.size = static_cast<uint8_t>(cap.size + k);
}

bool ReplyFramer::startValue(char c) {
  atom_ = nullptr;
  if (c != '|' && c != '.') {
    if (depth_ == 0) {
      atom_ = &frame_.top;
    } else if (depth_ == 1 && !stack_[0].attribute && stack_[0].seen < 3 && !isAggregate(c)) {
      atom_ = &frame_.head[static_cast<size_t>(stack_[0].seen)];
      headDirty_ = true;
    }
  }
  if (atom_ != nullptr) atom_->type = c;
  type_ = c;
  textLength_ = 0;
  digitCount_ = 0;
  switch (c) {
    case '+': case '-': case ',': case '(': case '#': case '_':
      state_ = State::kText;
      return true;
    case ':': case '$': case '*': case '%': case '~': case '>': case '|': case '!': case '=':
      state_ = State::kNumber;
      return true;
    case '.':
      if (depth_ == 0 || stack_[depth_ - 1].remaining >= 0) {
        return fail("Protocol error: '.' outside a streamed aggregate");
      }
      state_ = State::kNumber;
      return true;
    default:
      return fail("Protocol error: unknown reply type byte " + describe(c));
  }
}

void ReplyFramer::valueDone(uint64_t end, ReplySink& sink) {
  state_ = State::kType;
  while (depth_ > 0) {
    Level& level = stack_[depth_ - 1];
    ++level.seen;
    if (level.remaining < 0 || --level.remaining > 0) return;
    --depth_;
    // A finished attribute is no value: the value it annotates follows.
    if (level.attribute) return;
  }
  frame_.end = end;
  frameStarted_ = false;
  sink.onReply(frame_);
}

bool ReplyFramer::finishText() {
  const bool complete = textLength_ <= kCaptureBytes;
  if (atom_ != nullptr) atom_->text.complete = complete;
  if (type_ == '_') {
    if (textLength_ != 0) return fail("Protocol error: null '_' with a payload");
    if (atom_ != nullptr) atom_->isNull = true;
  } else if (type_ == '#') {
    if (textLength_ != 1 || (firstByte_ != 't' && firstByte_ != 'f')) {
      return fail("Protocol error: boolean '#' is neither t nor f");
    }
    if (atom_ != nullptr) atom_->integer = firstByte_ == 't' ? 1 : 0;
  }
  return true;
}

// The numeric line (without its CRLF) is complete.
bool ReplyFramer::finishNumber(const char* line, size_t length, uint64_t after, ReplySink& sink) {
  const bool streamed = length == 1 && line[0] == '?';
  int64_t v = 0;
  switch (type_) {
    case ':':
      if (!detail::string2ll(line, length, v)) return fail("Protocol error: invalid integer reply");
      if (atom_ != nullptr) atom_->integer = v;
      valueDone(after, sink);
      return true;

    case '.': {
      if (length != 0) return fail("Protocol error: '.' with a payload");
      const Level& level = stack_[depth_ - 1];
      if (level.type == '%' && level.seen % 2 != 0) {
        return fail("Protocol error: streamed map ended after a key");
      }
      --depth_;
      valueDone(after, sink);
      return true;
    }

    case ';':
      if (!detail::string2ll(line, length, v) || v < 0 || v > kMaxBulkLength) {
        return fail("Protocol error: invalid streamed string chunk length");
      }
      if (v == 0) {
        streamedString_ = false;
        if (atom_ != nullptr) atom_->text.complete = textLength_ <= kCaptureBytes;
        valueDone(after, sink);
        return true;
      }
      textLength_ += static_cast<uint64_t>(v);
      payloadLeft_ = v;
      state_ = State::kPayload;
      return true;

    case '$': case '!': case '=':
      if (streamed && type_ == '$') {
        streamedString_ = true;
        if (atom_ != nullptr) atom_->integer = -1;
        state_ = State::kChunk;
        return true;
      }
      if (!detail::string2ll(line, length, v)) return fail("Protocol error: invalid bulk length");
      if (v == -1 && type_ == '$') {
        if (atom_ != nullptr) {
          atom_->integer = -1;
          atom_->isNull = true;
        }
        valueDone(after, sink);
        return true;
      }
      if (v < 0 || v > kMaxBulkLength) return fail("Protocol error: invalid bulk length");
      if (atom_ != nullptr) {
        atom_->integer = v;
        atom_->text.complete = v <= static_cast<int64_t>(kCaptureBytes);
      }
      payloadLeft_ = v;
      state_ = State::kPayload;
      return true;

    default: {  // aggregates and attributes
      if (streamed && type_ != '|') {
        if (!push(Level{-1, 0, type_, false})) return fail("Protocol error: reply nested too deep");
        if (atom_ != nullptr) atom_->integer = -1;
        state_ = State::kType;
        return true;
      }
      if (!detail::string2ll(line, length, v)) return fail("Protocol error: invalid aggregate length");
      if (v == -1 && type_ == '*') {
        if (atom_ != nullptr) {
          atom_->integer = -1;
          atom_->isNull = true;
        }
        valueDone(after, sink);
        return true;
      }
      if (v < 0 || v > kMaxAggregateLength) return fail("Protocol error: invalid aggregate length");
      if (atom_ != nullptr) atom_->integer = v;
      const int64_t elements = (type_ == '%' || type_ == '|') ? 2 * v : v;
      if (elements == 0) {
        if (type_ == '|') {
          state_ = State::kType;
        } else {
          valueDone(after, sink);
        }
        return true;
      }
      if (!push(Level{elements, 0, type_, type_ == '|'})) return fail("Protocol error: reply nested too deep");
      state_ = State::kType;
      return true;
    }
  }
}

// Fills the frame for a top-level scalar (the caller sets the text capture).
inline void ReplyFramer::setTopScalar(uint64_t begin, char type, int64_t integer) {
  frame_.begin = begin;
  frame_.top.type = type;
  frame_.top.integer = integer;
  frame_.top.isNull = false;
  if (headDirty_) {
    for (ReplyAtom& a : frame_.head) resetAtom(a);
    headDirty_ = false;
  }
}

const char* ReplyFramer::fastTopLevel(const char* p, const char* end, uint64_t base,
                                      const char* origin, ReplySink& sink) {
  auto at = [&](const char* q) { return base + static_cast<uint64_t>(q - origin); };
  while (p < end) {
    const char c = *p;
    if (c == '+' || c == '-') {
      const char* cr = findCr(p + 1, end);
      if (cr == nullptr || end - cr < 2 || cr[1] != '\n') break;
      setTopScalar(at(p), c, 0);
      captureInto(frame_.top.text, p + 1, static_cast<size_t>(cr - p - 1), end);
      p = cr + 2;
    } else if (c == '$') {
      // Lengths 0..999999999 with no leading zero; anything else takes the slow path.
      const char* q = p + 1;
      if (q >= end) break;
      if (end - q >= 4 && std::memcmp(q, "-1\r\n", 4) == 0) {
        // Null bulk (a GET that missed): common enough to skip the state machine.
        setTopScalar(at(p), '$', -1);
        frame_.top.isNull = true;
        frame_.top.text.size = 0;
        frame_.top.text.complete = false;
        p = q + 4;
        frame_.end = at(p);
        frameStarted_ = false;
        sink.onReply(frame_);
        continue;
      }
      unsigned d = static_cast<unsigned char>(*q) - '0';
      if (d > 9) break;
      int64_t len = d;
      ++q;
      if (d != 0) {
        const char* limit = end - q > 8 ? q + 8 : end;
        while (q < limit && (d = static_cast<unsigned char>(*q) - '0') <= 9) {
          len = len * 10 + d;
          ++q;
        }
      }
      if (end - q < 2 || q[0] != '\r' || q[1] != '\n' || len > kMaxBulkLength) break;
      const char* payload = q + 2;
      if (end - payload < len + 2 || payload[len] != '\r' || payload[len + 1] != '\n') break;
      setTopScalar(at(p), '$', len);
      captureInto(frame_.top.text, payload, static_cast<size_t>(len), end);
      p = payload + len + 2;
    } else if (c == ':') {
      const char* q = p + 1;
      const char* limit = end - q > static_cast<ptrdiff_t>(kMaxNumberLength) ? q + kMaxNumberLength : end;
      while (q < limit && *q != '\r') ++q;
      int64_t v = 0;
      if (end - q < 2 || q[0] != '\r' || q[1] != '\n' ||
          !detail::string2ll(p + 1, static_cast<size_t>(q - p - 1), v)) {
        break;
      }
      setTopScalar(at(p), ':', v);
      frame_.top.text.size = 0;
      frame_.top.text.complete = false;
      p = q + 2;
    } else {
      break;
    }
    frame_.end = at(p);
    frameStarted_ = false;
    sink.onReply(frame_);
  }
  return p;
}

bool ReplyFramer::feed(std::span<const char> bytes, ReplySink& sink) {
  if (failed_) {
    offset_ += bytes.size();
    return false;
  }
  const char* const origin = bytes.data();
  const char* p = origin;
  const char* const end = origin + bytes.size();
  const uint64_t base = offset_;
  offset_ += bytes.size();
  auto at = [&](const char* q) { return base + static_cast<uint64_t>(q - origin); };

  while (p < end) {
    switch (state_) {
      case State::kType:
        if (!frameStarted_) {
          p = fastTopLevel(p, end, base, origin, sink);
          if (p == end) return true;
          startFrame(at(p));
        }
        if (!startValue(*p++)) return false;
        break;

      case State::kNumber: {
        // Scan at most as far as a too-long number could reach.
        const size_t room = kMaxNumberLength + 1 - digitCount_;
        const char* limit = static_cast<size_t>(end - p) > room ? p + room : end;
        const char* q = p;
        while (q < limit && *q != '\r') ++q;
        const size_t n = static_cast<size_t>(q - p);
        if (digitCount_ + n > kMaxNumberLength) return fail("Protocol error: number line too long");
        const bool foundCr = q < end && *q == '\r';
        if (foundCr && digitCount_ == 0 && end - q >= 2) {
          if (q[1] != '\n') return fail("Protocol error: '\\r' not followed by '\\n'");
          const char* line = p;
          p = q + 2;
          if (!finishNumber(line, n, at(p), sink)) return false;
          break;
        }
        std::memcpy(digits_.data() + digitCount_, p, n);
        digitCount_ += n;
        p = q;
        if (foundCr) {
          ++p;
          state_ = State::kNumberLf;
        }
        break;
      }

      case State::kNumberLf:
        if (*p++ != '\n') return fail("Protocol error: '\\r' not followed by '\\n'");
        if (!finishNumber(digits_.data(), digitCount_, at(p), sink)) return false;
        break;

      case State::kText: {
        const auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
        const char* segEnd = cr != nullptr ? cr : end;
        const size_t n = static_cast<size_t>(segEnd - p);
        if (n > 0) {
          if (textLength_ == 0) firstByte_ = *p;
          capture(p, n);
          textLength_ += n;
        }
        if (cr == nullptr) {
          p = end;
        } else if (end - cr < 2) {
          p = end;
          state_ = State::kTextCr;
        } else if (cr[1] == '\n') {
          p = cr + 2;
          if (!finishText()) return false;
          valueDone(at(p), sink);
        } else {
          // A lone '\r' is content (a line ends at "\r\n", as hiredis reads it).
          if (textLength_ == 0) firstByte_ = '\r';
          capture(cr, 1);
          ++textLength_;
          p = cr + 1;
        }
        break;
      }

      case State::kTextCr:
        if (*p == '\n') {
          ++p;
          if (!finishText()) return false;
          valueDone(at(p), sink);
        } else {
          if (textLength_ == 0) firstByte_ = '\r';
          capture("\r", 1);
          ++textLength_;
          state_ = State::kText;
        }
        break;

      case State::kPayload: {
        const int64_t avail = end - p;
        if (avail >= payloadLeft_ + 2) {
          capture(p, static_cast<size_t>(payloadLeft_));
          const char* t = p + payloadLeft_;
          if (t[0] != '\r' || t[1] != '\n') return fail("Protocol error: bulk payload not followed by CRLF");
          p = t + 2;
          payloadLeft_ = 0;
          if (streamedString_) {
            state_ = State::kChunk;
          } else {
            valueDone(at(p), sink);
          }
          break;
        }
        const int64_t n = std::min(payloadLeft_, avail);
        capture(p, static_cast<size_t>(n));
        p += n;
        payloadLeft_ -= n;
        if (payloadLeft_ == 0) state_ = State::kPayloadCr;
        break;
      }

      case State::kPayloadCr:
        if (*p++ != '\r') return fail("Protocol error: bulk payload not followed by CRLF");
        state_ = State::kPayloadLf;
        break;

      case State::kPayloadLf:
        if (*p++ != '\n') return fail("Protocol error: bulk payload not followed by CRLF");
        if (streamedString_) {
          state_ = State::kChunk;
        } else {
          valueDone(at(p), sink);
        }
        break;

      case State::kChunk:
        if (*p++ != ';') return fail("Protocol error: expected ';' in a streamed string");
        type_ = ';';
        digitCount_ = 0;
        state_ = State::kNumber;
        break;
    }
  }
  return true;
}

}  // namespace redmirror::resp
