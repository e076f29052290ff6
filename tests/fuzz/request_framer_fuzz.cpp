// libFuzzer target for RequestFramer: no crash, invariants on every frame, and
// the same frames however the input is split.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_split.h"
#include "redmirror/resp/request_framer.h"

namespace {

using redmirror::fuzz::check;
using namespace redmirror::resp;

struct Recorded {
  uint64_t begin, end;
  uint32_t argc;
  bool isInline;
  std::string captured[kCapturedArgs];
  std::vector<std::pair<uint64_t, uint64_t>> args;
  std::vector<std::string> inlineArgs;
  bool operator==(const Recorded&) const = default;
};

class Checker : public RequestSink {
 public:
  explicit Checker(uint64_t size) : size_(size) {}
  void onCommand(const CommandFrame& f) override {
    check(f.begin >= lastEnd_ && f.begin < f.end && f.end <= size_);
    check(f.argc >= 1);
    Recorded r{f.begin, f.end, f.argc, f.isInline, {}, {}, {}};
    for (size_t i = 0; i < kCapturedArgs; ++i) {
      const Capture& c = f.captured[i];
      check(c.size <= kCaptureBytes);
      if (i >= f.argc) check(c.size == 0 && !c.complete);
      if (i == 0) {
        for (char ch : c.view()) check(!(ch >= 'A' && ch <= 'Z'));
      }
      r.captured[i].assign(c.view());
    }
    if (f.isInline) {
      check(f.args.empty() && !f.argsTruncated && f.inlineArgs.size() == f.argc);
      for (size_t i = 0; i < kCapturedArgs && i < f.argc; ++i) {
        const std::string& a = f.inlineArgs[i];
        check(f.captured[i].complete == (a.size() <= kCaptureBytes));
        check(f.captured[i].size == std::min(a.size(), kCaptureBytes));
      }
      r.inlineArgs.assign(f.inlineArgs.begin(), f.inlineArgs.end());
    } else {
      check(f.inlineArgs.empty());
      check(f.args.size() == std::min<size_t>(f.argc, kMaxArgRefs));
      check(f.argsTruncated == (f.argc > kMaxArgRefs));
      uint64_t prev = f.begin;
      for (const ArgRef& a : f.args) {
        check(a.offset > prev && a.offset + a.length + 2 <= f.end);
        prev = a.offset + a.length;
        r.args.emplace_back(a.offset, a.length);
      }
      for (size_t i = 0; i < kCapturedArgs && i < f.argc; ++i) {
        check(f.captured[i].complete == (f.args[i].length <= kCaptureBytes));
        check(f.captured[i].size == std::min<uint64_t>(f.args[i].length, kCaptureBytes));
      }
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
  redmirror::fuzz::checkSplitsAgree<RequestFramer, Checker>(data, size);
  // splitInlineArgs on the raw bytes: must not crash, and the output must be
  // cleared on refusal.
  std::vector<std::string> args{"x"};
  if (!splitInlineArgs(std::string_view(reinterpret_cast<const char*>(data), size), args)) check(args.empty());
  return 0;
}
