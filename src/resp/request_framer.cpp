// RequestFramer: Redis 7 processInlineBuffer / processMultibulkBuffer, as a
// resumable state machine with a fast path for commands lying whole in one span.
//
// Where Redis waits for more bytes, we wait; where Redis answers "Protocol error",
// we fail with its words. Two places are stricter than Redis (both only stop
// observation, never forwarding): a header's '\r' must be followed by '\n'
// (Redis skips that byte unseen), and the length limits below are applied to
// the line length rather than to whatever Redis happened to have read, so that
// the outcome does not depend on how the stream was split.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "redmirror/resp/request_framer.h"
#include "string2ll.h"

namespace redmirror::resp {

namespace {

constexpr const char* kErrTooBigInline = "Protocol error: too big inline request";
constexpr const char* kErrTooBigCount = "Protocol error: too big mbulk count string";
constexpr const char* kErrTooBigBulkCount = "Protocol error: too big bulk count string";
constexpr const char* kErrMultibulkLength = "Protocol error: invalid multibulk length";
constexpr const char* kErrBulkLength = "Protocol error: invalid bulk length";
constexpr const char* kErrUnbalanced = "Protocol error: unbalanced quotes in request";
constexpr const char* kErrNoLf = "Protocol error: header line '\\r' not followed by '\\n'";

constexpr size_t kInitialArgRefs = 16;

// Fast-path number: a positive decimal with no leading zero (or "0" when
// allowZero), at most maxDigits digits, followed by "\r\n" inside the span.
// Anything else (including valid but unusual input) returns nullptr and is left
// to the exact slow path.
inline const char* fastNumber(const char* p, const char* end, int maxDigits, bool allowZero,
                              int64_t& value) {
  if (p >= end) return nullptr;
  unsigned d = static_cast<unsigned char>(*p) - '0';
  if (d > 9 || (d == 0 && !allowZero)) return nullptr;
  int64_t v = d;
  ++p;
  if (d != 0) {
    const char* limit = (end - p > maxDigits) ? p + maxDigits : end;
    while (p < limit && (d = static_cast<unsigned char>(*p) - '0') <= 9) {
      v = v * 10 + d;
      ++p;
    }
  }
  if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return nullptr;
  value = v;
  return p + 2;
}

inline void captureBytes(Capture& cap, const char* data, size_t n, bool lower) {
  char* dst = cap.bytes.data() + cap.size;
  if (lower) {
    for (size_t i = 0; i < n; ++i) dst[i] = detail::toLowerAscii(data[i]);
  } else {
    std::memcpy(dst, data, n);
  }
  cap.size = static_cast<uint8_t>(cap.size + n);
}

}  // namespace

RequestFramer::RequestFramer() { argRefs_.resize(kInitialArgRefs); }

bool RequestFramer::fail(std::string reason) {
  failed_ = true;
  error_ = std::move(reason);
  return false;
}

void RequestFramer::ensureArgRefs(size_t count) {
  if (count <= argRefs_.size()) return;
  argRefs_.resize(std::min(kMaxArgRefs, std::max(count, argRefs_.size() * 2)));
}

void RequestFramer::resetCaptures() {
  for (Capture& c : frame_.captured) {
    c.size = 0;
    c.complete = false;
  }
}

void RequestFramer::emit(uint64_t end, RequestSink& sink) {
  frame_.end = end;
  frame_.isInline = false;
  frame_.args = std::span<const ArgRef>(argRefs_.data(), std::min<size_t>(frame_.argc, kMaxArgRefs));
  frame_.argsTruncated = frame_.argc > kMaxArgRefs;
  frame_.inlineArgs = {};
  sink.onCommand(frame_);
  state_ = State::kStart;
}

const char* RequestFramer::tryWholeCommand(const char* p, const char* end, uint64_t base,
                                           const char* origin, RequestSink& sink) {
  // "*<count>\r\n": counts above kMaxArgRefs take the slow path.
  int64_t count = 0;
  const char* q = fastNumber(p + 1, end, 3, false, count);
  if (q == nullptr || count > static_cast<int64_t>(kMaxArgRefs)) return nullptr;
  ensureArgRefs(static_cast<size_t>(count));
  ArgRef* refs = argRefs_.data();
  Capture* caps = frame_.captured.data();
  for (int64_t i = 0; i < count; ++i) {
    if (q >= end || *q != '$') return nullptr;
    int64_t len = 0;
    // 9 digits cover kMaxBulkLength (536870912); longer lengths take the slow path.
    const char* payload = fastNumber(q + 1, end, 8, true, len);
    if (payload == nullptr || len > kMaxBulkLength || end - payload < len + 2) return nullptr;
    refs[i] = ArgRef{base + static_cast<uint64_t>(payload - origin), static_cast<uint64_t>(len)};
    if (i < static_cast<int64_t>(kCapturedArgs)) {
      Capture& cap = caps[i];
      const size_t n = std::min<size_t>(static_cast<size_t>(len), kCaptureBytes);
      if (i == 0) {
        for (size_t j = 0; j < n; ++j) cap.bytes[j] = detail::toLowerAscii(payload[j]);
      } else if (end - payload >= static_cast<ptrdiff_t>(kCaptureBytes)) {
        std::memcpy(cap.bytes.data(), payload, kCaptureBytes);  // fixed size: one wide copy
      } else {
        std::memcpy(cap.bytes.data(), payload, n);
      }
      cap.size = static_cast<uint8_t>(n);
      cap.complete = len <= static_cast<int64_t>(kCaptureBytes);
    }
    q = payload + len + 2;  // the two bytes after a payload are skipped unchecked, as Redis does
  }
  for (int64_t i = count; i < static_cast<int64_t>(kCapturedArgs); ++i) {
    caps[i].size = 0;
    caps[i].complete = false;
  }
  frame_.begin = base + static_cast<uint64_t>(p - origin);
  frame_.argc = static_cast<uint32_t>(count);
  emit(base + static_cast<uint64_t>(q - origin), sink);
  return q;
}

bool RequestFramer::appendHeader(const char* from, const char* to) {
  const size_t n = static_cast<size_t>(to - from);
  // Redis looks for the '\r' with strchr, which a NUL stops: such a header can
  // never complete, and Redis ends up refusing it as too big.
  if (std::memchr(from, '\0', n) != nullptr || headerLength_ + n > kMaxInlineLength) {
    return fail(headerIsCount_ ? kErrTooBigCount : kErrTooBigBulkCount);
  }
  if (headerLength_ < header_.size()) {
    std::memcpy(header_.data() + headerLength_, from, std::min(n, header_.size() - headerLength_));
  }
  headerLength_ += n;
  return true;
}

void RequestFramer::beginArg(uint64_t payloadOffset, int64_t length) {
  if (argIndex_ < kMaxArgRefs) {
    ensureArgRefs(argIndex_ + 1);
    argRefs_[argIndex_] = ArgRef{payloadOffset, static_cast<uint64_t>(length)};
  }
  if (argIndex_ < kCapturedArgs) {
    Capture& cap = frame_.captured[argIndex_];
    cap.size = 0;
    cap.complete = length <= static_cast<int64_t>(kCaptureBytes);
  }
  bulkLength_ = length;
  bulkLeft_ = length + 2;
  state_ = State::kBulk;
}

// The header line (type byte included, '\r' excluded) is complete and the byte
// after its '\r' was '\n'. `line` holds at least min(length, header_.size()) bytes.
bool RequestFramer::finishHeader(const char* line, size_t length, uint64_t payloadOffset) {
  int64_t value = 0;
  if (headerIsCount_) {
    if (!detail::string2ll(line + 1, length - 1, value) || value > kMaxMultibulkLength) {
      return fail(kErrMultibulkLength);
    }
    if (value <= 0) {  // "*0" and "*-1": Redis consumes them and runs nothing
      state_ = State::kStart;
      return true;
    }
    resetCaptures();
    frame_.argc = static_cast<uint32_t>(value);
    argsLeft_ = value;
    argIndex_ = 0;
    headerIsCount_ = false;
    headerLength_ = 0;
    state_ = State::kHeader;
    return true;
  }
  if (length == 0 || line[0] != '$') {
    // Redis prints the byte with %c and then maps '\r' and '\n' to spaces.
    char got = length == 0 ? '\r' : line[0];
    if (got == '\r' || got == '\n') got = ' ';
    return fail(std::string("Protocol error: expected '$', got '") + got + "'");
  }
  if (!detail::string2ll(line + 1, length - 1, value) || value < 0 || value > kMaxBulkLength) {
    return fail(kErrBulkLength);
  }
  beginArg(payloadOffset, value);
  return true;
}

bool RequestFramer::finishInline(std::string_view line, uint64_t end, RequestSink& sink) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!splitInlineArgs(line, inlineArgs_)) return fail(kErrUnbalanced);
  state_ = State::kStart;
  if (inlineArgs_.empty()) return true;  // empty line: Redis runs nothing
  resetCaptures();
  for (size_t i = 0; i < kCapturedArgs && i < inlineArgs_.size(); ++i) {
    const std::string& a = inlineArgs_[i];
    Capture& cap = frame_.captured[i];
    captureBytes(cap, a.data(), std::min(a.size(), kCaptureBytes), i == 0);
    cap.complete = a.size() <= kCaptureBytes;
  }
  frame_.end = end;
  frame_.argc = static_cast<uint32_t>(inlineArgs_.size());
  frame_.isInline = true;
  frame_.args = {};
  frame_.argsTruncated = false;
  frame_.inlineArgs = std::span<const std::string>(inlineArgs_.data(), inlineArgs_.size());
  sink.onCommand(frame_);
  return true;
}

bool RequestFramer::feed(std::span<const char> bytes, RequestSink& sink) {
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
      case State::kStart: {
        while (*p == '*') {
          const char* next = tryWholeCommand(p, end, base, origin, sink);
          if (next == nullptr) break;
          p = next;
          if (p == end) return true;
        }
        frame_.begin = at(p);
        if (*p == '*') {
          headerIsCount_ = true;
          headerLength_ = 0;
          state_ = State::kHeader;
        } else {
          inlineLine_.clear();
          state_ = State::kInline;
        }
        break;
      }

      case State::kInline: {
        const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* segEnd = nl != nullptr ? nl : end;
        const size_t n = static_cast<size_t>(segEnd - p);
        // Redis finds the line end with strchr, which a NUL stops: the line can
        // never complete and Redis ends up refusing it as too big.
        if (std::memchr(p, '\0', n) != nullptr || inlineLine_.size() + n > kMaxInlineLength) {
          return fail(kErrTooBigInline);
        }
        if (nl == nullptr) {
          inlineLine_.append(p, n);
          p = end;
          break;
        }
        std::string_view line(p, n);
        if (!inlineLine_.empty()) {
          inlineLine_.append(p, n);
          line = inlineLine_;
        }
        p = nl + 1;
        if (!finishInline(line, at(p), sink)) return false;
        break;
      }

      case State::kHeader: {
        const auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
        if (cr == nullptr) {
          if (!appendHeader(p, end)) return false;
          p = end;
          break;
        }
        if (headerLength_ == 0 && end - cr >= 2) {
          // Whole line in this span: parse it in place.
          const size_t n = static_cast<size_t>(cr - p);
          if (std::memchr(p, '\0', n) != nullptr || n > kMaxInlineLength) {
            return fail(headerIsCount_ ? kErrTooBigCount : kErrTooBigBulkCount);
          }
          const char* line = p;
          p = cr + 2;
          if (!finishHeader(line, n, at(p))) return false;
          if (cr[1] != '\n') return fail(kErrNoLf);
          break;
        }
        if (!appendHeader(p, cr)) return false;
        p = cr + 1;
        state_ = State::kHeaderLf;
        break;
      }

      case State::kHeaderLf: {
        const char lf = *p++;
        if (!finishHeader(header_.data(), headerLength_, at(p))) return false;
        if (lf != '\n') return fail(kErrNoLf);
        break;
      }

      case State::kBulk: {
        const int64_t avail = end - p;
        const int64_t n = std::min(bulkLeft_, avail);
        if (argIndex_ < kCapturedArgs) {
          Capture& cap = frame_.captured[argIndex_];
          const int64_t want = std::min<int64_t>(bulkLength_, kCaptureBytes);
          if (cap.size < want) {
            captureBytes(cap, p, static_cast<size_t>(std::min<int64_t>(want - cap.size, n)), argIndex_ == 0);
          }
        }
        p += n;
        bulkLeft_ -= n;
        if (bulkLeft_ == 0) {
          ++argIndex_;
          if (--argsLeft_ == 0) {
            emit(at(p), sink);
          } else {
            headerLength_ = 0;
            state_ = State::kHeader;
          }
        }
        break;
      }
    }
  }
  return true;
}

}  // namespace redmirror::resp
