#pragma once
// Helpers shared by the framer tests: sinks that record frames by value, and
// runners that feed an input whole, split at every byte boundary, and one byte
// at a time, so that every test checks split-independence for free.
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/resp/reply_framer.h"
#include "redmirror/resp/request_framer.h"

namespace redmirror::resp::testing {

struct RecordedCapture {
  std::string bytes;
  bool complete = false;
  bool operator==(const RecordedCapture&) const = default;
};

inline RecordedCapture record(const Capture& c) { return {std::string(c.view()), c.complete}; }

inline std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

struct RecordedCommand {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint32_t argc = 0;
  bool isInline = false;
  std::vector<RecordedCapture> captured;
  std::vector<std::pair<uint64_t, uint64_t>> args;
  bool argsTruncated = false;
  std::vector<std::string> inlineArgs;
  bool operator==(const RecordedCommand&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const RecordedCommand& c) {
  os << "{[" << c.begin << "," << c.end << ") argc=" << c.argc << (c.isInline ? " inline" : "")
     << " captured=";
  for (const auto& cap : c.captured) os << "'" << printable(cap.bytes) << "'" << (cap.complete ? "" : "~") << " ";
  os << "args=" << c.args.size() << (c.argsTruncated ? "+" : "") << "}";
  return os;
}

class RequestRecorder : public RequestSink {
 public:
  void onCommand(const CommandFrame& f) override {
    RecordedCommand c;
    c.begin = f.begin;
    c.end = f.end;
    c.argc = f.argc;
    c.isInline = f.isInline;
    for (const Capture& cap : f.captured) c.captured.push_back(record(cap));
    for (const ArgRef& a : f.args) c.args.emplace_back(a.offset, a.length);
    c.argsTruncated = f.argsTruncated;
    c.inlineArgs.assign(f.inlineArgs.begin(), f.inlineArgs.end());
    frames.push_back(std::move(c));
  }
  std::vector<RecordedCommand> frames;
};

struct RecordedAtom {
  char type = 0;
  RecordedCapture text;
  int64_t integer = 0;
  bool isNull = false;
  bool operator==(const RecordedAtom&) const = default;
};

inline RecordedAtom record(const ReplyAtom& a) { return {a.type, record(a.text), a.integer, a.isNull}; }

struct RecordedReply {
  uint64_t begin = 0;
  uint64_t end = 0;
  RecordedAtom top;
  std::vector<RecordedAtom> head;
  bool operator==(const RecordedReply&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const RecordedAtom& a) {
  if (a.type == 0) return os << "-";
  return os << a.type << "'" << printable(a.text.bytes) << "'" << (a.text.complete ? "" : "~") << "#"
            << a.integer << (a.isNull ? "null" : "");
}

inline std::ostream& operator<<(std::ostream& os, const RecordedReply& r) {
  os << "{[" << r.begin << "," << r.end << ") " << r.top << " head=";
  for (const auto& h : r.head) os << h << " ";
  return os << "}";
}

class ReplyRecorder : public ReplySink {
 public:
  void onReply(const ReplyFrame& f) override {
    RecordedReply r;
    r.begin = f.begin;
    r.end = f.end;
    r.top = record(f.top);
    for (const ReplyAtom& h : f.head) r.head.push_back(record(h));
    frames.push_back(std::move(r));
  }
  std::vector<RecordedReply> frames;
};

template <typename Frame>
struct Run {
  std::vector<Frame> frames;
  bool ok = true;
  std::string error;
  uint64_t offset = 0;
  bool operator==(const Run&) const = default;
};

template <typename Frame>
inline std::ostream& operator<<(std::ostream& os, const Run<Frame>& r) {
  os << (r.ok ? "ok" : "FAILED: " + r.error) << " offset=" << r.offset << " frames=" << r.frames.size();
  for (const auto& f : r.frames) os << "\n  " << f;
  return os;
}

using RequestRun = Run<RecordedCommand>;
using ReplyRun = Run<RecordedReply>;

// Feeds `input` cut at the given ascending positions. Each piece is copied into
// its own exact-size heap buffer so that AddressSanitizer catches a read past
// the end of a span.
template <typename Framer, typename Recorder, typename Frame>
Run<Frame> runPieces(std::string_view input, const std::vector<size_t>& cuts) {
  Framer framer;
  Recorder recorder;
  Run<Frame> run;
  size_t prev = 0;
  bool everFailed = false;
  auto feedPiece = [&](size_t to) {
    std::vector<char> piece(input.begin() + static_cast<ptrdiff_t>(prev), input.begin() + static_cast<ptrdiff_t>(to));
    const bool ok = framer.feed(std::span<const char>(piece.data(), piece.size()), recorder);
    EXPECT_FALSE(everFailed && ok) << "feed succeeded after a failure";
    EXPECT_EQ(ok, !framer.failed());
    everFailed = everFailed || !ok;
    prev = to;
  };
  for (size_t c : cuts) feedPiece(c);
  feedPiece(input.size());
  run.frames = std::move(recorder.frames);
  run.ok = !framer.failed();
  run.error = framer.error();
  run.offset = framer.offset();
  EXPECT_EQ(run.offset, input.size());
  return run;
}

// Feeds `input` whole, then at every 2-way split (sampled for long inputs), then
// one byte at a time; every run must agree. Returns the whole-input run.
template <typename Framer, typename Recorder, typename Frame>
Run<Frame> runAllWays(std::string_view input) {
  const Run<Frame> whole = runPieces<Framer, Recorder, Frame>(input, {});
  const size_t n = input.size();
  std::vector<size_t> splitPoints;
  if (n <= 4096) {
    for (size_t i = 0; i <= n; ++i) splitPoints.push_back(i);
  } else {
    for (size_t i = 0; i <= 64; ++i) {
      splitPoints.push_back(i);
      splitPoints.push_back(n - i);
    }
    for (size_t i = 0; i < 256; ++i) splitPoints.push_back(n * i / 256);
  }
  for (size_t at : splitPoints) {
    const Run<Frame> split = runPieces<Framer, Recorder, Frame>(input, {at});
    EXPECT_EQ(split, whole) << "split at " << at;
    if (split != whole) break;  // one report is enough
  }
  std::vector<size_t> bytewise;
  for (size_t i = 1; i < n; ++i) bytewise.push_back(i);
  EXPECT_EQ((runPieces<Framer, Recorder, Frame>(input, bytewise)), whole) << "one byte at a time";
  return whole;
}

inline RequestRun requestAllWays(std::string_view input) {
  return runAllWays<RequestFramer, RequestRecorder, RecordedCommand>(input);
}
inline ReplyRun replyAllWays(std::string_view input) {
  return runAllWays<ReplyFramer, ReplyRecorder, RecordedReply>(input);
}
inline RequestRun requestPieces(std::string_view input, const std::vector<size_t>& cuts) {
  return runPieces<RequestFramer, RequestRecorder, RecordedCommand>(input, cuts);
}
inline ReplyRun replyPieces(std::string_view input, const std::vector<size_t>& cuts) {
  return runPieces<ReplyFramer, ReplyRecorder, RecordedReply>(input, cuts);
}

// RESP multibulk encoding of a command.
inline std::string multibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

}  // namespace redmirror::resp::testing
