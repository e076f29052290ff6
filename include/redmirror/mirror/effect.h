#pragma once
// What the mirror keeps per session and per command waiting for the primary:
// the session's mirroring state (SessionMirror), commands held by reference
// (HeldCommand) and the effects that wait for the primary's reply (Effect).
// Plain data, owned by the session (SessionMirror) and run by WorkerMirror.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "redmirror/mirror/guard_order.h"
#include "redmirror/mirror/session_state.h"
#include "redmirror/mirror/tainted_keys.h"
#include "redmirror/net/chunk_pool.h"
#include "redmirror/resp/value.h"

namespace redmirror::mirror {

// Bytes of the commands one worker holds (HeldCommand), against its bound.
struct HeldBytes {
  uint64_t bytes = 0;
};

// Counts one held command's bytes while it lives (move-only).
class HeldCharge {
 public:
  HeldCharge() = default;
  HeldCharge(std::shared_ptr<HeldBytes> counter, uint64_t bytes) : counter_(std::move(counter)), bytes_(bytes) {
    counter_->bytes += bytes_;
  }
  HeldCharge(HeldCharge&& other) noexcept : counter_(std::move(other.counter_)), bytes_(other.bytes_) {}
  HeldCharge& operator=(HeldCharge&& other) noexcept {
    if (this != &other) {
      reset();
      counter_ = std::move(other.counter_);
      bytes_ = other.bytes_;
    }
    return *this;
  }
  HeldCharge(const HeldCharge&) = delete;
  HeldCharge& operator=(const HeldCharge&) = delete;
  ~HeldCharge() { reset(); }
  void reset() {
    if (!counter_) return;
    counter_->bytes -= std::min(counter_->bytes, bytes_);
    counter_.reset();
  }

 private:
  std::shared_ptr<HeldBytes> counter_;
  uint64_t bytes_ = 0;
};

// A command kept by reference until it can be mirrored: inside MULTI until the
// primary commits, or behind an effect still waiting for the primary's reply
// (so that the canary sees the session's commands in the session's order).
struct HeldCommand {
  std::vector<net::Slice> bytes;
  std::vector<uint64_t> canaries;     // ids of the canaries it goes to
  std::vector<uint32_t> comparisons;  // per canary: comparison awaiting its reply, or 0
  std::vector<uint32_t> retries;      // per canary: script retry (EVALSHA -> EVAL on NOSCRIPT), or 0
  uint32_t db = 0;
  bool dbFromTransaction = false;     // db set by a SELECT inside a MULTI not yet committed
  // A write: its keys (WrittenKeys::hash), tainted if it is lost on the way, and
  // repaired when it replaces them whole and reaches the canary.
  std::vector<uint64_t> keyHashes;
  WriteTaint::Scope taintScope = WriteTaint::Scope::kNone;
  bool overwrites = false;
  // XADD with a server-chosen ID inside MULTI: rebuilt with the ID found at
  // `replyIndex` of the EXEC reply.
  std::vector<std::string> rewriteArgs;
  size_t idIndex = 0;
  size_t replyIndex = 0;
  HeldCharge charge;  // its bytes, against the worker's bound for held commands
};

// What an effect needs of the primary's reply, kept until the end of the loop turn.
struct EffectReply {
  bool error = false;
  bool killed = false;     // "ERR Script killed by user ..."
  bool ranScript = true;   // kScript error: raised while the script ran (" script: <name>, on ...")
  bool committed = false;  // EXEC: an array, not nil
  bool parsed = false;     // `value` holds the reply (for effects rebuilt from it)
  resp::Value value;
};

// Destinations of the blocking moves (BLMOVE, BRPOPLPUSH) of a worker whose
// primary reply has not arrived: a pop answered from one of those keys may have
// been fed by such a move in the same primary event (effect_order.h).
struct PendingMoves {
  std::unordered_map<std::string, uint32_t> destinations;  // moves not answered yet
  // Moves answered but not sent yet (waiting for a guarded write that fed them):
  // the pops they fed wait for them as long as they wait.
  std::unordered_map<std::string, uint32_t> answered;
};

// Counts one pending move's destination while it lives (move-only).
class PendingMove {
 public:
  PendingMove() = default;
  PendingMove(std::shared_ptr<PendingMoves> moves, std::string destination)
      : moves_(std::move(moves)), destination_(std::move(destination)) {
    ++moves_->destinations[destination_];
  }
  PendingMove(PendingMove&& other) noexcept
      : moves_(std::move(other.moves_)), destination_(std::move(other.destination_)), answered_(other.answered_) {}
  PendingMove& operator=(PendingMove&& other) noexcept {
    if (this != &other) {
      reset();
      moves_ = std::move(other.moves_);
      destination_ = std::move(other.destination_);
      answered_ = other.answered_;
    }
    return *this;
  }
  PendingMove(const PendingMove&) = delete;
  PendingMove& operator=(const PendingMove&) = delete;
  ~PendingMove() { reset(); }
  // Its reply arrived: counted as answered until it is sent.
  void answer() {
    if (!moves_ || answered_) return;
    release(moves_->destinations);
    ++moves_->answered[destination_];
    answered_ = true;
  }
  // Sent (or it will never run): stop counting.
  void reset() {
    if (!moves_) return;
    release(answered_ ? moves_->answered : moves_->destinations);
    moves_.reset();
  }

 private:
  void release(std::unordered_map<std::string, uint32_t>& counts) {
    auto found = counts.find(destination_);
    if (found != counts.end() && --found->second == 0) counts.erase(found);
  }
  std::shared_ptr<PendingMoves> moves_;
  std::string destination_;
  bool answered_ = false;
};

// Work to do when the primary's reply to a command arrives. Effects run at the
// end of the loop turn in which their reply was read (before its writes),
// blocking pops (and stream group reads) last: a write that served a blocked
// client (an EXEC with the LPUSH a BRPOP waited for) is answered in the same
// primary event, and must reach the canary first. Later commands of other
// clients come after both replies, so after both effects (across workers too:
// the turn's hand-off to the canary's writer, CanaryHub).
struct Effect {
  // kScript: EVAL/EVALSHA/FCALL wait for the primary's answer, and are not
  // mirrored when SCRIPT KILL / FUNCTION KILL stopped them there (a killed
  // script wrote nothing; on the canary it would run on, making it BUSY).
  // Nor when the primary refused them before they ran (OOM or NOREPLICAS for a
  // script declared as writing, NOSCRIPT, BUSY, wrong arguments: an error
  // without the " script: " suffix Redis adds to errors raised while running):
  // the primary wrote nothing, and the canary must not either. FUNCTION LOAD /
  // RESTORE wait the same way and are not mirrored when the primary refused them
  // (OOM under its own maxmemory): a library the primary lacks would make the
  // canary's later FCALLs and loads differ.
  // kClaim: XCLAIM / XAUTOCLAIM claim by idle time, which differs between
  // servers: mirrored as XCLAIM of exactly the IDs the primary claimed, with
  // min-idle-time 0 (as Redis replicates them).
  // kGuard: a write waits for the primary's answer and reaches the canaries
  // only if the primary ran it. An error reply means it did not (refused before
  // running: NOPERM, NOAUTH, OOM, READONLY, MISCONF, NOREPLICAS, LOADING, BUSY,
  // MASTERDOWN, arity or syntax; or refused by the command itself, which
  // changes nothing either): such writes are counted under skipped
  // "primary_refused". The write is the first command held behind it.
  // kState: a SELECT, MULTI or DISCARD whose reply has not come; what the
  // session sends after it waits (its database or transaction depends on the
  // reply), and is lost if the primary refused it (SessionState).
  // kExec: the transaction, sent once the primary committed it, without the
  // members EXEC answered NOPERM (the user's ACL changed since they were
  // queued: Redis skipped them) and, for a user other than `default`, without
  // any member answered with an error (a script may have stopped on its user's
  // ACL, which the canary's link does not share): those taint their keys.
  enum class Kind : uint8_t { kSpop, kBlockingPop, kExec, kXadd, kScript, kClaim, kGuard, kState };
  Kind kind = Kind::kSpop;
  std::vector<std::string> args;   // the command's arguments, args[0] lowercase
  std::vector<uint32_t> keys;      // kBlockingPop: where its keys are in args (command table)
  std::vector<HeldCommand> held;   // the transaction (kExec)
  std::vector<uint64_t> canaries;  // kSpop, kXadd: ids of the canaries sampled for the key
  uint32_t db = 0;
  uint32_t dbBefore = 0;           // kExec: the session's database before MULTI
  size_t idIndex = 0;              // kXadd: position of the "*" ID to replace
  int protocol = 2;
  std::vector<HeldCommand> after;  // commands of the session that came after this one
  bool ready = false;              // its reply arrived: runs at the end of the turn
  bool dropIfRefused = false;      // kScript: not mirrored when the primary answered an error
  PendingMove pendingMove;         // kBlockingPop moves: counted until answered
  PendingGuard guard;              // kGuard: open until the write is sent, refused or lost
  uint64_t readyUs = 0;            // when its reply was read
  uint64_t blockedOrder = 0;       // kBlockingPop: when it was sent, among this worker's
  uint64_t heldSinceUs = 0;        // a pop waiting for a move that may have fed it
  bool barrier = false;            // counted in SessionMirror::barriers
  bool defaultUser = true;         // the session's user was `default` for certain when it was sent
  uint32_t transactionSerial = 0;  // kExec: the transaction; kState: the session's when it was sent
  // Sent while a change of database or transaction awaited its reply, which
  // refused it: the command (and the first `staleHeld` of `after`) ran
  // elsewhere than the mirror believed, and is lost; its keys are tainted in
  // its database and in `staleDb`, where the session really was.
  bool stale = false;
  size_t staleHeld = 0;
  uint32_t staleDb = 0;
  EffectReply reply;
};

// Mirroring state of one client session, owned by the session.
struct SessionMirror {
  uint32_t serial = 0;  // numbers the session among the worker's (kept for logs and a later pooled mode)
  SessionState state;   // database, protocol, user, transaction, from the first byte
  std::vector<HeldCommand> transaction;  // the current MULTI's members kept for the canaries
  std::deque<Effect> effects;  // in the order their replies will come
  uint32_t outstanding = 0;    // pending commands carrying comparisons
  // Effects holding the session's later commands until a change of database
  // or transaction is confirmed (kState, kExec with a SELECT inside).
  uint32_t barriers = 0;
  bool hasReadyEffects = false;  // listed in the worker's sessions to run at the turn's end
};

}  // namespace redmirror::mirror
