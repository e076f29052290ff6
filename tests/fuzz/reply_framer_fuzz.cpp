// libFuzzer target for ReplyFramer: no crash, frames tile the stream, and the
// same frames however the input is split.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_split.h"
#include "redmirror/resp/reply_framer.h"

namespace {

using redmirror::fuzz::check;
using namespace redmirror::resp;

struct Recorded {
  uint64_t begin, end;
  char type;
  std::string text;
  int64_t integer;
  bool isNull;
  char headTypes[3];
  std::string headText[3];
  int64_t headIntegers[3];
  bool operator==(const Recorded&) const = default;
};

bool scalarType(char t) {
  return t == '+' || t == '-' || t == ':' || t == '$' || t == '_' || t == ',' || t == '#' || t == '!' ||
         t == '=' || t == '(';
}
bool aggregateType(char t) { return t == '*' || t == '%' || t == '~' || t == '>'; }

class Checker : public ReplySink {
 public:
  explicit Checker(uint64_t size) : size_(size) {}
  void onReply(const ReplyFrame& f) override {
    // Every byte belongs to a frame: each begins where the previous ended.
    check(f.begin == lastEnd_ && f.begin < f.end && f.end <= size_);
    check(scalarType(f.top.type) || aggregateType(f.top.type));
    check(f.top.text.size <= kCaptureBytes);
    Recorded r{f.begin, f.end, f.top.type, std::string(f.top.text.view()), f.top.integer, f.top.isNull,
               {}, {}, {}};
    for (size_t i = 0; i < 3; ++i) {
      const ReplyAtom& h = f.head[i];
      check(h.type == 0 || scalarType(h.type));
      if (!aggregateType(f.top.type)) check(h.type == 0);
      if (aggregateType(f.top.type) && f.top.integer >= 0 && static_cast<int64_t>(i) >= f.top.integer &&
          f.top.type != '%') {
        check(h.type == 0);
      }
      r.headTypes[i] = h.type;
      r.headText[i].assign(h.text.view());
      r.headIntegers[i] = h.integer;
    }
    lastEnd_ = f.end;
    frames.push_back(std::move(r));
  }
  std::vector<Recorded> frames;

 private:
  uint64_t size_;
  uint64_t lastEnd_ = 0;
};

struct Outcome {
  std::vector<Recorded> frames;
  bool failed;
  std::string error;
};

Outcome run(const uint8_t* data, size_t size, int scheme) {
  ReplyFramer framer;
  Checker checker(size);
  bool everFailed = false;
  redmirror::fuzz::feedPieces(data, size, redmirror::fuzz::cutsFor(data, size, scheme),
                              [&](const char* p, size_t n) {
                                const bool ok = framer.feed(std::span<const char>(p, n), checker);
                                check(ok == !framer.failed());
                                check(!(everFailed && ok));
                                everFailed = !ok;
                              });
  check(framer.offset() == size);
  check(framer.failed() == !framer.error().empty());
  return {std::move(checker.frames), framer.failed(), framer.error()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Outcome whole = run(data, size, 0);
  for (int scheme = 1; scheme <= 2; ++scheme) {
    const Outcome split = run(data, size, scheme);
    check(split.frames == whole.frames);
    check(split.failed == whole.failed && split.error == whole.error);
  }
  return 0;
}
