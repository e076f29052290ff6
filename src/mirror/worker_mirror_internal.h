#pragma once
// Shared by the files of WorkerMirror (worker_mirror*.cpp) only: reading a
// command's arguments from the client stream, the reply tests effects need,
// and the mirror's constants. Not a public header.
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include "redmirror/mirror/effect_builder.h"
#include "redmirror/mirror/effect_order.h"
#include "redmirror/mirror/worker_mirror.h"
#include "redmirror/net/counter.h"
#include "redmirror/resp/ascii.h"
#include "redmirror/resp/value.h"

namespace redmirror::mirror::detail {


using net::bump;

// Multibulk argument `index` where it already lies in memory: the frame's
// capture (the first arguments after the name, when short) or one piece of the
// stream window. False when it is split across pieces (or not retained).
inline bool argInPlace(const resp::CommandFrame& frame, const net::StreamWindow& window, uint32_t index,
                       std::string_view& out) {
  if (index > 0 && index < resp::kCapturedArgs && frame.captured[index].complete) {
    out = frame.captured[index].view();
    return true;
  }
  const resp::ArgRef& ref = frame.args[index];
  return window.view(ref.offset, ref.offset + ref.length, out);
}

// Reads a command's arguments out of the client stream window.
class FrameArgs final : public ArgReader {
 public:
  FrameArgs(const resp::CommandFrame& frame, const net::StreamWindow& window, std::string& scratch)
      : frame_(frame), window_(window), scratch_(scratch) {}
  uint32_t argc() const override { return frame_.argc; }
  bool arg(uint32_t index, std::string_view& out) override {
    if (frame_.isInline) {
      if (index >= frame_.inlineArgs.size()) return false;
      out = frame_.inlineArgs[index];
      return true;
    }
    if (index >= frame_.args.size()) return false;
    if (argInPlace(frame_, window_, index, out)) return true;
    const resp::ArgRef& ref = frame_.args[index];
    scratch_.clear();
    if (!window_.copy(ref.offset, ref.offset + ref.length, scratch_)) return false;
    out = scratch_;
    return true;
  }

 private:
  const resp::CommandFrame& frame_;
  const net::StreamWindow& window_;
  std::string& scratch_;
};

inline bool parseDb(const resp::Capture& capture, uint32_t& db) {
  if (!capture.complete || capture.size == 0) return false;
  auto [end, ec] = std::from_chars(capture.bytes.data(), capture.bytes.data() + capture.size, db);
  return ec == std::errc() && end == capture.bytes.data() + capture.size;
}

// SCRIPT LOAD/FLUSH and FUNCTION LOAD/DELETE/FLUSH/RESTORE change what the
// canary can run: every canary mirroring anything gets them.
// "ERR Script killed by user with SCRIPT KILL..." / "... FUNCTION KILL...".
inline bool killedScript(const resp::ReplyFrame& reply) {
  return reply.isError() && reply.top.text.view().starts_with("ERR Script killed by user");
}

// Redis ends errors raised while a script or function ran with
// " script: <sha or name>, on @user_script:<line>." (a script refused before it
// ran, for OOM or NOREPLICAS, gets the bare error). An error too long to read
// here is taken as raised while running: the script is mirrored.
inline bool scriptRan(const resp::ReplyFrame& reply, const net::StreamWindow& window) {
  constexpr uint64_t kMaxErrorBytes = 4096;
  if (reply.end - reply.begin > kMaxErrorBytes) return true;
  std::string line;
  if (!window.copy(reply.begin, reply.end, line)) return true;
  return line.find(" script: ") != std::string::npos;
}

// Errors Redis answers before running a command, for reasons of the primary's
// own (the session's ACL user, its memory, its role, its persistence, a
// script running, a load in progress): a canary, connected as another user
// and in another state, answers the command, and the two replies say nothing
// about the canary.
inline bool refusedBeforeRunning(std::string_view error) {
  static constexpr std::string_view kCodes[] = {"NOPERM", "NOAUTH", "OOM", "READONLY", "MISCONF",
                                                "NOREPLICAS", "LOADING", "BUSY", "MASTERDOWN"};
  const std::string_view code = error.substr(0, error.find(' '));
  return std::find(std::begin(kCodes), std::end(kCodes), code) != std::end(kCodes);
}

inline bool isScriptBroadcast(Special special, const resp::CommandFrame& frame) {
  const resp::Capture& sub = frame.captured[1];
  if (special == Special::kScript) return sub.is("load") || sub.is("flush");
  if (special == Special::kFunction) {
    return sub.is("load") || sub.is("delete") || sub.is("flush") || sub.is("restore");
  }
  return false;
}

constexpr size_t kMaxScriptBytes = 16 * 1024 * 1024;
// Bytes of a compared command kept to render it in a divergence sample.
constexpr uint64_t kSampleRequestBytes = 1024;
// Bookkeeping of one comparison, counted against the canary's budget.
constexpr uint64_t kComparisonCost = 256;
// Most values (elements at every depth) built from one reply: a Value takes
// ~100 bytes, so both sides of a comparison stay within ~25 MiB however small
// the elements of an 8 MiB reply are. Larger replies are skipped as too_large.
constexpr size_t kMaxComparedValues = 131072;

using resp::equalsIgnoreCase;

// Position of XADD's ID argument when the server picks it ("*" or "<ms>-*"),
// else 0: XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] id ...
inline size_t xaddIdPosition(ArgReader& args) {
  uint32_t i = 2;
  std::string_view arg;
  while (args.arg(i, arg)) {
    if (equalsIgnoreCase(arg, "nomkstream")) {
      ++i;
    } else if (equalsIgnoreCase(arg, "maxlen") || equalsIgnoreCase(arg, "minid")) {
      ++i;
      if (args.arg(i, arg) && (arg == "=" || arg == "~")) ++i;
      ++i;  // threshold
      if (args.arg(i, arg) && equalsIgnoreCase(arg, "limit")) i += 2;
    } else {
      return !arg.empty() && arg.back() == '*' ? i : 0;
    }
  }
  return 0;
}

inline std::string sha1Hex(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(body.data(), body.size(), digest, &length, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

inline bool isBlockingPop(std::string_view name) {
  return name == "blpop" || name == "brpop" || name == "blmove" || name == "brpoplpush" ||
         name == "bzpopmin" || name == "bzpopmax" || name == "blmpop" || name == "bzmpop";
}


// XREAD / XREADGROUP carry the blocking flag but block only with a BLOCK option
// (before STREAMS): position of BLOCK, or 0 when the call cannot block.
inline uint32_t streamBlockIndex(ArgReader& args) {
  for (uint32_t i = 1; i < args.argc(); ++i) {
    std::string_view arg;
    if (!args.arg(i, arg) || equalsIgnoreCase(arg, "streams")) return 0;
    if (equalsIgnoreCase(arg, "block")) return i;
  }
  return 0;
}


}  // namespace redmirror::mirror::detail
