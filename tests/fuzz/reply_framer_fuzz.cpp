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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  redmirror::fuzz::checkSplitsAgree<ReplyFramer, Checker>(data, size);
  return 0;
}
