#pragma once
// What redmirror knows about each Redis command: learned from the primary itself
// (COMMAND, through hiredis) with a small built-in policy table on top.
// Command knowledge lives here, never in the framers.
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "redmirror/diff/comparator.h"
#include "redmirror/resp/request_framer.h"

struct redisReply;

namespace redmirror::mirror {

// Flags as COMMAND reports them (subset that matters to mirroring).
enum CommandFlag : uint32_t {
  kFlagWrite = 1u << 0,
  kFlagReadonly = 1u << 1,
  kFlagBlocking = 1u << 2,
  kFlagPubsub = 1u << 3,
  kFlagAdmin = 1u << 4,
  kFlagNoscript = 1u << 5,
  kFlagMovableKeys = 1u << 6,
  kFlagLoading = 1u << 7,
  kFlagStale = 1u << 8,
  kFlagFast = 1u << 9,
  kFlagNoMulti = 1u << 10,
};

// How a command may be mirrored (the YAML `policy:` section overrides per command).
enum class Policy : uint8_t {
  kMirror,    // mirror (writes) / compare (reads) when sampled
  kNever,     // never sent to a canary
  kTypeOnly,  // mirrored, reply compared by type only
};

// Where the keys are, for commands whose first/last/step cannot say it.
enum class KeyRule : uint8_t {
  kRange,          // firstKey..lastKey by step (lastKey < 0 counts from the end)
  kNumkeysAt2,     // EVAL/EVALSHA/EVAL_RO/EVALSHA_RO/FCALL/FCALL_RO: numkeys at 2, keys from 3
  kNumkeysAt1,     // ZUNION/ZINTER/ZDIFF/SINTERCARD/ZINTERCARD/LMPOP/ZMPOP: numkeys at 1, keys from 2
  kDestNumkeysAt2, // ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE: dest at 1, numkeys at 2, keys from 3
  kNumkeysAt2Blocking,  // BLMPOP/BZMPOP: timeout at 1, numkeys at 2, keys from 3
  kStreams,        // XREAD/XREADGROUP: after STREAMS, the first half of the rest
  kSort,           // SORT/SORT_RO: key at 1, plus the STORE destination if any
  kNone,           // keyless
};

// Commands the mirror treats specially, known by name once at load time so the
// data path does not compare names.
enum class Special : uint8_t {
  kNone, kSelect, kMulti, kExec, kDiscard, kXadd, kSpop, kScript, kFunction,
  kEval,     // EVAL, EVAL_RO
  kEvalsha,  // EVALSHA, EVALSHA_RO
  kFcall,    // FCALL, FCALL_RO
  kClaim,    // XCLAIM, XAUTOCLAIM
  kWatch, kUnwatch, kReset,
  kXread, kXreadgroup, kQuit,
};

struct CommandInfo {
  std::string name;  // lowercase
  int arity = 0;     // as COMMAND: negative means "at least -arity"
  uint32_t flags = 0;
  int firstKey = 0;
  int lastKey = 0;
  int step = 0;
  KeyRule keyRule = KeyRule::kNone;
  bool nondeterministicOutput = false;       // tip nondeterministic_output
  bool nondeterministicOutputOrder = false;  // tip nondeterministic_output_order
  bool wholeKeyspace = false;                // FLUSHALL, FLUSHDB, SWAPDB: reach every canary
  // Replaces every key it names whole, whatever was there (DEL, UNLINK, GETDEL,
  // MSET, SETEX, PSETEX; SET only without NX/XX/KEEPTTL: overwritesKeys()): a
  // mirrored one repairs a tainted key.
  bool overwrites = false;
  Policy policy = Policy::kMirror;
  std::string policyReason;  // why the built-in table says kNever (for reports)
  Special special = Special::kNone;
  // How its replies are compared (tips, policy, the built-in lists), worked out
  // once; `command` is left empty for the comparison to point at its own copy.
  diff::CompareRules compareRules;
  // One key at argument 1 and nothing special (no policy, effect, blocking or
  // whole-keyspace rule): the data path decides from that key's slot alone
  // whether any canary samples it, before doing anything else.
  bool singleKey = false;

  bool isWrite() const { return (flags & kFlagWrite) != 0; }
  // Whether this call replaces its keys whole: `overwrites`, and for SET only
  // its plain forms (SET k v, SET k v EX|PX|EXAT|PXAT n), read from argc and
  // the captured argument 3.
  bool overwritesKeys(uint32_t argc, std::string_view arg3) const;
  bool isBlocking() const { return (flags & kFlagBlocking) != 0; }
  // A wrong argument count gets an error from Redis and has no effect.
  bool acceptsArgc(uint32_t argc) const {
    return arity > 0 ? argc == static_cast<uint32_t>(arity) : argc >= static_cast<uint32_t>(-arity);
  }
};

// Reads argument i (0 = command name) of the command being decided; the view is
// valid until the next call. Returns false when i is out of range.
class ArgReader {
 public:
  virtual ~ArgReader() = default;
  virtual uint32_t argc() const = 0;
  virtual bool arg(uint32_t index, std::string_view& out) = 0;
};

// Arguments already split, in a vector of std::string or std::string_view (a
// parsed request, tests). Refers to the vector: it must outlive the reader.
template <typename Strings>
class ListArgs final : public ArgReader {
 public:
  explicit ListArgs(const Strings& args) : args_(args) {}
  explicit ListArgs(const Strings&& args) = delete;
  uint32_t argc() const override { return static_cast<uint32_t>(args_.size()); }
  bool arg(uint32_t index, std::string_view& out) override {
    if (index >= args_.size()) return false;
    out = args_[index];
    return true;
  }

 private:
  const Strings& args_;
};

class CommandTable {
 public:
  CommandTable() = default;
  // Not copyable: the lookup index points into the map's nodes, which a move
  // keeps and a copy would not.
  CommandTable(const CommandTable&) = delete;
  CommandTable& operator=(const CommandTable&) = delete;
  CommandTable(CommandTable&&) = default;
  CommandTable& operator=(CommandTable&&) = default;

  // From the reply to COMMAND (Redis 7: flags, key positions, tips at element 7).
  // Returns false with `error` set when the reply is not a COMMAND reply.
  bool loadFromCommandReply(const redisReply* reply, std::string& error);
  // A minimal table for when the primary cannot be asked yet (start-up race):
  // the common data commands only.
  void loadBuiltin();
  // Built-in policy (never mirror AUTH, HELLO, admin, replication, cluster,
  // CONFIG, DEBUG, MONITOR, SHUTDOWN, CLIENT, pub/sub, WATCH, ...), then the
  // operator's overrides. Called by both loaders; call again after overrides change.
  void applyPolicy(const std::map<std::string, Policy>& overrides);

  const CommandInfo* find(std::string_view lowercaseName) const;
  // The data path's lookup: a captured (lowercased) command name, whose buffer
  // always holds kCaptureBytes, so its first 8 bytes are read in one load.
  const CommandInfo* find(const resp::Capture& name) const {
    if (!name.complete || index_.empty()) return nullptr;
    uint64_t head;
    std::memcpy(&head, name.bytes.data(), sizeof head);
    if (name.size < sizeof head) head &= (uint64_t{1} << (8 * name.size)) - 1;
    return lookup(head, name.view());
  }
  size_t size() const { return commands_.size(); }

  // What `other` (a canary's table) does differently: commands it lacks, has
  // in addition, or describes with another arity, flags or key positions. One
  // line each, sorted ("removed: foo", "added: bar", "changed: set arity -3 -> -4").
  std::vector<std::string> differences(const CommandTable& other) const;

 private:
  using Map = std::unordered_map<std::string, CommandInfo>;
  void buildIndex();
  static uint64_t headOf(std::string_view name);
  size_t slotOf(uint64_t head, size_t length) const {
    return static_cast<size_t>(((head + length) * 0x9E3779B97F4A7C15ULL) >> indexShift_);
  }
  const CommandInfo* lookup(uint64_t head, std::string_view name) const {
    const size_t mask = index_.size() - 1;
    for (size_t i = slotOf(head, name.size());; i = (i + 1) & mask) {
      const IndexSlot& slot = index_[i];
      if (slot.info == nullptr) return nullptr;
      // Most names fit in 8 bytes: their head and length are the whole name.
      if (slot.head == head && slot.length == name.size() &&
          (name.size() <= 8 || std::memcmp(slot.info->name.data() + 8, name.data() + 8, name.size() - 8) == 0)) {
        return slot.info;
      }
    }
  }

  Map commands_;
  // Every command is looked up by name on the data path: an open-addressing
  // index (multiplicative hash of the name's first 8 bytes and its length,
  // linear probing, at most half full) over the map's stable nodes.
  struct IndexSlot {
    uint64_t head = 0;  // the name's first 8 bytes, zero-padded
    uint32_t length = 0;
    const CommandInfo* info = nullptr;
  };
  std::vector<IndexSlot> index_;
  int indexShift_ = 64;
  std::map<std::string, Policy> overrides_;
};

// Positions (argument indexes) of the keys of one command. Returns false when the
// arguments are malformed for its key rule (e.g. numkeys out of range): such a
// command is not mirrored.
bool findKeys(const CommandInfo& info, ArgReader& args, std::vector<uint32_t>& positions);

// Parses a policy name from YAML: "mirror", "never", "type_only".
bool parsePolicy(std::string_view text, Policy& out);

}  // namespace redmirror::mirror
