#pragma once
// Mirroring on one worker: decides per command and canary whether to mirror
// (slot-consistent sampling, policy, effects), owns the worker's canary links,
// and pairs each canary reply with the primary's for comparison.
//
// Nothing here can slow the primary path: the session forwards first and calls
// these hooks after; a link that cannot take a command drops it and counts why.
#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "redmirror/mirror/canary_hub.h"
#include "redmirror/mirror/effect.h"
#include "redmirror/mirror/canary_link.h"
#include "redmirror/mirror/link_batcher.h"
#include "redmirror/mirror/repair_link.h"
#include "redmirror/mirror/settings.h"
#include "redmirror/mirror/slot_shedder.h"
#include "redmirror/mirror/tainted_keys.h"
#include "redmirror/net/chunk_pool.h"
#include "redmirror/net/stream_window.h"
#include "redmirror/net/tcp_stream.h"
#include "redmirror/mirror/mirror_marks.h"
#include "redmirror/resp/reply_framer.h"
#include "redmirror/resp/request_framer.h"

namespace redmirror::mirror {

class WorkerMirror {
 public:
  WorkerMirror(uv_loop_t* loop, net::ChunkPool& pool, net::FlushScheduler& scheduler,
               size_t workerIndex);
  ~WorkerMirror();
  WorkerMirror(const WorkerMirror&) = delete;
  WorkerMirror& operator=(const WorkerMirror&) = delete;

  // Applies a new snapshot: links of new canaries open, removed ones close,
  // percentage changes touch no connection.
  void apply(std::shared_ptr<const MirrorSettings> settings);
  bool active() const { return active_; }

  // Session hooks. `window` holds the client stream's recent bytes. Called for
  // every command from the session's first byte, whatever the settings: the
  // session's state (SessionState: database, protocol, user, transaction,
  // WATCH, QUIT) is followed even when nothing is mirrored, so that a share
  // raised later mirrors into the right place. `mirrorable`: false while the
  // session is subscribed (its commands answer differently there and the links
  // never subscribe): state only.
  void onCommand(SessionMirror& session, const resp::CommandFrame& frame, MirrorMarks* pending,
                 const net::StreamWindow& window, bool mirrorable = true) {
    if (session.state.quit()) return;
    if (!active_ || !mirrorable) {
      // Nothing mirrored now: only a transaction in progress or a command that
      // changes the connection's state needs a look (a few instructions for
      // the others, measured: bench/callgrind.sh --mirror 0).
      if (session.state.inMulti() || SessionState::classify(frame.captured[0]) != StateCommand::kNone) {
        followState(session, frame, pending, window);
      }
      return;
    }
    onMirroredCommand(session, frame, pending, window);
  }
  // The primary answered `pending`; `window` holds the primary stream's recent bytes.
  void onReply(SessionMirror& session, const MirrorMarks& pending,
               const resp::ReplyFrame& reply, const net::StreamWindow& window);
  // The reply to `pending` will never be seen (matching ended, session closed).
  void abandon(SessionMirror& session, const MirrorMarks& pending);
  void sessionClosed(SessionMirror& session);

  // Link hooks (the home's link, or another worker's through CanaryHub).
  // `sentUs`: when the link wrote the command (the canary's latency starts there).
  void onCanaryReply(uint32_t comparison, const net::StreamWindow& window, uint64_t begin,
                     uint64_t end, bool isError, uint64_t sentUs);
  void onCanaryReply(uint32_t comparison, std::string& reply, bool isError, uint64_t sentUs);
  void onCanaryLost(uint32_t comparison);
  // A write to the canary was lost (dropped, or its link died before the reply).
  void taint(uint64_t canaryId, const WriteTaint& taint);
  // The reply to an EVALSHA that carries a retry: returns true when it was
  // NOSCRIPT and the command was resent as EVAL (the reply is consumed).
  bool onScriptReply(uint32_t retry, bool noscript, uint32_t comparison);
  void dropRetry(uint32_t retry);
  // Read repair: a key dumped from the primary, to RESTORE on the canary.
  // Restored, it is no longer tainted.
  void restoreOnCanary(uint64_t canaryId, uint32_t db, std::string_view key, const std::string& restore);

  void sweep(uint64_t nowMs);
  // Start of a loop turn's end, before the primary path's writes: runs the
  // effects whose reply arrived, then hands what this turn mirrored to each
  // canary's writer (CanaryHub: the canary gets the commands of all workers in
  // the order the proxy read them).
  void sealTurn();
  // How long a pop waits for the answer of a move that may have fed it.
  static constexpr uint64_t kMoveWaitUs = 2000;
  // How long a pop waits for a guarded write that may have fed it; then it
  // runs and its keys are tainted. Guards resolve within one primary round
  // trip unless their client stops reading.
  static constexpr uint64_t kGuardWaitUs = 50000;
  static constexpr uint64_t kGuardRecheckUs = 200;
  uint64_t sealUs() const { return sealUs_; }
  // A read callback begins: the time stamps of what it frames are taken once,
  // when first needed (a clock read costs as much as the rest of a small
  // comparison's bookkeeping on some machines).
  void newEvent() { eventUs_ = 0; }
  // End of a loop turn: the canaries this worker writes take what the workers
  // handed over, then links whose batch is due are written.
  void onTurnEnd();
  void shutdown();
  bool idle() const;

  uv_loop_t* loop() const { return loop_; }
  net::ChunkPool& pool() { return pool_; }
  net::FlushScheduler& scheduler() { return scheduler_; }
  LinkBatcher& batcher() { return batcher_; }
  const CanarySettings* canary(uint64_t id) const;
  CanaryCounters* counters(uint64_t id);
  uint32_t nextSerial() { return serial_++; }
  uint64_t randomNumber() { return random(); }
  size_t workers() const { return settings_ ? settings_->workers : 1; }
  size_t workerIndex() const { return workerIndex_; }
  const MirrorSettings* settingsSnapshot() const { return settings_.get(); }

 private:
  struct Comparison {
    uint32_t next = 0;
    uint8_t refs = 0;  // the session side and the link side
    bool hasPrimary = false;
    bool hasCanary = false;
    bool lost = false;
    bool primaryError = false;
    bool canaryError = false;
    bool refused = false;     // the primary refused the command before running it
    bool tainted = false;     // a key it reads was tainted when it was sent
    uint64_t canaryId = 0;
    uint64_t keyHash = 0;     // of the first key (lost_write vs cold_miss), 0 if keyless
    uint32_t db = 0;          // the session's database when the command ran
    uint64_t startedUs = 0;   // when the command was framed
    uint64_t primaryUs = 0;   // primary latency
    uint64_t canaryUs = 0;    // canary latency
    std::string command;      // lowercase name
    std::string request;      // the command's first bytes, for a divergence sample
    diff::CompareRules rules;
    std::string primary;
    std::string canary;
    uint64_t charged = 0;     // bytes counted against the canary's comparison budget
    // Back to a fresh slot. The strings keep small buffers, so that a slot in
    // steady use allocates nothing; large ones are freed (a big reply is not
    // kept alive by its slot). It sets every field above by name: a new field
    // needs its line there.
    void reset();
  };
  struct ScriptRetry {
    std::string eval;  // the EVALSHA rebuilt as EVAL
    std::string sha;
    uint64_t canaryId = 0;
    uint32_t db = 0;
    int protocol = 2;
  };
  struct CanaryRuntime {
    uint64_t id = 0;
    std::shared_ptr<CanaryCounterSet> set;  // keeps the hub alive for the outbox and link
    CanaryHub* hub = nullptr;
    std::unique_ptr<CanaryOutbox> outbox;  // what this worker mirrors to the canary
    std::unique_ptr<CanaryLink> link;      // the canary's one link, on its home worker only
    uint64_t connections = 0;              // hub->connections() when loadedScripts was last valid
    std::unordered_set<std::string> loadedScripts;  // SHA1s the canary was sent
    diff::WrittenKeys* written = nullptr;             // the canary's, shared by the workers
    uint64_t comparisonBytes = 0;  // replies kept while waiting for the other side
    SlotShedder shedder;           // on the home worker: the canary's effective share
  };

  void followState(SessionMirror& session, const resp::CommandFrame& frame, MirrorMarks* pending,
                   const net::StreamWindow& window);
  void onMirroredCommand(SessionMirror& session, const resp::CommandFrame& frame, MirrorMarks* pending,
                         const net::StreamWindow& window);
  // The data path's first question: a single-key command whose key no canary
  // samples (most commands at low percentages) needs nothing more.
  // `slot` is set to the key's slot once computed (-1 stays: no single key).
  [[gnu::always_inline]] bool unsampledSingleKey(const CommandInfo& info, const SessionMirror& session,
                                                const resp::CommandFrame& frame, const net::StreamWindow& window,
                                                int& slot) const;
  // The session's state follows the command (SessionState), and the mirror's
  // side of it: the transaction's members at MULTI, DISCARD, RESET and EXEC,
  // and a barrier (Effect::kState) behind a change whose reply decides where
  // later commands run. Returns false when the command is state only.
  // `mirroring`: whether the session is mirrored now (a MULTI begun while it
  // is not cannot be sent whole later).
  bool followCommand(SessionMirror& session, const resp::CommandFrame& frame, ArgReader& args,
                     MirrorMarks* pending, bool mirroring);
  // EXEC: the members kept become an Effect::kExec sent once the primary
  // committed them; a transaction that cannot be confirmed taints its writes.
  void closeTransaction(SessionMirror& session, const SessionState::Step& step, MirrorMarks* pending,
                        bool mirroring);
  // The primary answered a change of the session's state (pending.state).
  void confirmState(SessionMirror& session, const MirrorMarks& pending, const resp::ReplyFrame& reply);
  // The primary refused a change of database or transaction: what the session
  // sent since was placed on a wrong guess and is lost (Effect::stale).
  void loseAfterRefusal(SessionMirror& session, bool hasBarrier, const SessionState::Outcome& outcome);
  // Where the session's commands run is not known now (SessionState): the
  // command is not mirrored; counted, and a write taints its keys wherever the
  // session may be.
  void skipUnplaced(SessionMirror& session, const resp::CommandFrame& frame, const CommandInfo& info,
                    ArgReader& args);
  // A command held for the canaries that ran where the mirror did not expect:
  // lost (dropped_unconfirmed), its writes tainted in its database and `realDb`.
  void loseUnplaced(const HeldCommand& held, uint32_t realDb);
  // An effect sent on a refused guess (Effect::stale): its own work is lost.
  void loseStaleEffect(Effect& effect);
  // Everything else: sampling of every key, effects, dispatch. Kept out of
  // line so that the common case does not pay for its frame.
  [[gnu::noinline]] void mirrorCommand(SessionMirror& session, const resp::CommandFrame& frame,
                                       const CommandInfo* info, MirrorMarks* pending,
                                       const net::StreamWindow& window, int singleKeySlot);
  // A blocking command outside MULTI: held as its effect (Effect::kBlockingPop)
  // or not mirrored. False when `frame` is not one.
  bool holdBlockingPop(SessionMirror& session, const resp::CommandFrame& frame, const CommandInfo& info,
                       ArgReader& args, MirrorMarks* pending);
  // Inside MULTI: the member is kept for `canary` (`held`, built once for all
  // canaries), sent with the transaction once the primary commits it. False
  // when it cannot be kept: the transaction is then not sent.
  bool holdMember(SessionMirror& session, const CanarySettings& canary, CanaryCounters& counters,
                  const resp::CommandFrame& frame, const net::StreamWindow& window, ArgReader& args,
                  size_t xaddId, HeldCommand*& held);
  // A comparison of the read's replies for `canary`, chained on `pending`; 0
  // when the canary's comparison budget is spent.
  uint32_t startComparison(SessionMirror& session, const CanarySettings& canary, CanaryCounters& counters,
                           const resp::CommandFrame& frame, const CommandInfo& info,
                           const net::StreamWindow& window, MirrorMarks& pending);
  // Whether the session's link to `canary` can take `frame` now; counts the drop when not.
  bool linkTakes(const CanarySettings& canary, const SessionMirror& session, const resp::CommandFrame& frame,
                 CanaryCounters& counters);
  // The current command (keyHashes_, taintScope_) was a write lost for `canary`.
  void taintCurrent(uint64_t canaryId, uint32_t db);
  void taintHeld(uint64_t canaryId, const HeldCommand& held, uint32_t db);
  // Taints keys (kKey: each of `keyHashes`) or a database (kDb) or everything (kAll), counted.
  void taintKeys(uint64_t canaryId, WriteTaint::Scope scope, const std::vector<uint64_t>& keyHashes, uint32_t db);
  // The same for keys by name (effects), each in `db`.
  void taintNamedKeys(uint64_t canaryId, const std::vector<std::string_view>& keys, uint32_t db);
  // What the link taints if the write it carries is lost with the link.
  static WriteTaint linkTaint(uint32_t db, const std::vector<uint64_t>& keyHashes, WriteTaint::Scope scope);
  // A write reached the canary's link: keys it replaced whole (`overwrites`
  // with kKey) and databases it flushed (kDb: FLUSHDB, kAll: FLUSHALL) are clean again.
  void repaired(uint64_t canaryId, uint32_t db, const std::vector<uint64_t>& keyHashes, bool overwrites,
                WriteTaint::Scope scope);
  TaintedKeys* taintedOf(uint64_t canaryId);
  // The home worker's sweep: shrinks or restores the canary's effective share.
  void shedSlots(const CanarySettings& canary, CanaryRuntime& runtime, uint64_t nowMs);
  uint32_t newComparison(uint64_t canaryId);
  CanaryRuntime* runtimeOf(uint64_t canaryId);
  // Read repair: DUMP from the primary, RESTORE on the canary (`replace`: over a tainted copy).
  void warm(const Comparison& comparison, bool replace);
  void recordSample(Comparison& comparison, const diff::Comparison& result, const resp::Value& primary,
                    const resp::Value& canary);
  void release(uint32_t id);
  void resolve(uint32_t id);
  CanaryOutbox* linkFor(const CanarySettings& canary, const SessionMirror& session);
  // The loop's wake-up from other workers (CanaryHub): batches to write, replies.
  void initWake();
  static void onWake(uv_async_t* handle);
  void takeMessages();
  // Home: writes the batches handed over so far on the canaries' links.
  void writeHandedOver();
  // The sessions' ready effects (sealTurn's first part).
  void runReadyEffectsOfTurn();
  // Sends now, or holds behind the session's pending effects.
  void dispatch(const CanarySettings& canary, SessionMirror& session, const net::StreamWindow& window,
                const resp::CommandFrame& frame, int protocol, bool write, uint32_t comparison,
                uint32_t retry, HeldCommand*& deferred);
  void sendHeld(SessionMirror& session, const HeldCommand& held, bool transactionAborted, uint32_t dbBefore,
                int protocol);
  // The held command will not be sent; `ran`: the primary may have run it (its
  // writes taint their keys).
  void loseHeld(const HeldCommand& held, bool ran);
  bool charge(Comparison& comparison, uint64_t bytes);
  // A canary reply fits and is charged; then it was kept (or lost): its latency, release.
  bool mayKeepCanaryReply(Comparison& comparison, uint64_t bytes);
  void keptCanaryReply(uint32_t id, bool kept, bool isError, uint64_t sentUs);
  uint64_t comparisonBudget(const CanarySettings& canary) const;
  uint32_t scriptRetry(const CanarySettings& canary, const SessionMirror& session,
                       const resp::CommandFrame& frame, ArgReader& args, int protocol);
  // Returns true when the effect was a transaction the primary did not commit.
  bool runEffect(SessionMirror& session, Effect& effect);
  // A script or guarded write the primary refused, killed, or (for a user
  // other than `default`) that failed while it ran: its command, the first
  // held behind it, is not sent.
  void loseRefusedCommand(Effect& effect);
  // What becomes of each member of a committed transaction, from EXEC's reply
  // (`results`, null when it was not read).
  enum class MemberFate : uint8_t {
    kSend,
    kSkipped,  // answered NOPERM: Redis skipped it
    kUnsure,   // failed, or not read, for a user other than `default`: not sent, tainted
  };
  static std::vector<MemberFate> memberFates(const Effect& effect, const resp::Value* results);
  // MULTI, the members of `effect.held` sampled for each canary, EXEC, as one
  // unit on the session's link; `results` (the EXEC reply) fills XADD * IDs.
  void sendTransaction(SessionMirror& session, const Effect& effect, bool committed, const resp::Value* results);
  // The command rebuilt from the primary's reply, to the canaries that sampled
  // the effect's key (SPOP, XADD *, XCLAIM).
  void sendToEffectCanaries(const SessionMirror& session, const Effect& effect,
                            const std::vector<std::string_view>& command);
  // Runs the session's ready effects from the front, in order; with
  // `stopAtBlockingPop`, stops before a blocking pop (the first phase).
  void runReadyEffects(SessionMirror& session, bool stopAtBlockingPop);
  // The session's next effect is a pop from a key that a pending move pushes
  // into, or that a guarded write framed before the pop's reply may have fed
  // (guard_order.h), and it has not waited kMoveWaitUs / kGuardWaitUs yet.
  // `recheckUs` is lowered to when to look again.
  bool waitsForFeeders(SessionMirror& session, uint64_t nowUs, uint64_t& recheckUs);
  // `keys`: what the command writes (an effect), tainted if it is dropped.
  void sendOwned(const CanarySettings& canary, const SessionMirror& session, const std::string& bytes,
                 uint32_t db, int protocol, uint32_t replies, const std::vector<std::string_view>& keys = {});
  uint64_t random();
  // EVAL / EVALSHA / SCRIPT LOAD (by `special`): learns script bodies, and loads a
  // known body on a canary that has not seen it before an EVALSHA.
  void prepareScripts(const CanarySettings& canary, const SessionMirror& session,
                      const resp::CommandFrame& frame, Special special, ArgReader& args, int protocol);

  uv_loop_t* loop_;
  net::ChunkPool& pool_;
  net::FlushScheduler& scheduler_;
  size_t workerIndex_;
  std::shared_ptr<const MirrorSettings> settings_;
  LinkBatcher batcher_;  // before the links, which forget themselves in it
  bool active_ = false;
  std::unordered_map<uint64_t, CanaryRuntime> runtimes_;
  std::vector<std::unique_ptr<CanaryLink>> retiring_;
  std::vector<Comparison> comparisons_{1};  // id 0 means "none"
  std::vector<uint32_t> freeComparisons_;
  std::vector<SessionMirror*> readySessions_;  // sessions with effects to run at the turn's end
  CanaryRuntime* lastRuntime_ = nullptr;  // runtimeOf's last answer (runtimes_ nodes; reset when they move)
  uint64_t sealUs_ = 0;                         // when this turn's end began
  uint64_t eventUs_ = 0;                        // the current read callback's time, 0 until read
  uint64_t eventNowUs() {
    if (eventUs_ == 0) eventUs_ = uv_hrtime() / 1000;
    return eventUs_;
  }
  std::shared_ptr<PendingMoves> pendingMoves_ = std::make_shared<PendingMoves>();
  std::shared_ptr<GuardQueue> guardQueue_;  // this worker's unresolved guarded writes
  std::vector<PendingGuard> sentGuards_;    // guarded writes queued this turn, not handed over yet
  // Commands held behind effects or inside MULTI on this worker: bounded like
  // a canary's queue (the largest budget, shared by the workers).
  std::shared_ptr<HeldBytes> heldBytes_ = std::make_shared<HeldBytes>();
  uint64_t heldBudget_ = 0;  // of the snapshot: the largest queue_budget_bytes / workers
  // Whether `bytes` more may be held; counts the drop against `counters` when not.
  bool mayHold(uint64_t bytes, CanaryCounters& counters);
  uint64_t blockedCount_ = 0;  // numbers blocking commands in the order they were sent
  uv_async_t wake_{};
  bool wakeReady_ = false;
  bool wakeClosed_ = false;
  std::vector<HandoffBatch> batches_;   // scratch: taken from the hubs
  std::vector<LinkMessage> messages_;   // scratch: taken from the hubs
  std::vector<uint32_t> keyPositions_;
  std::vector<uint16_t> keySlots_;
  std::vector<uint64_t> keyHashes_;
  WriteTaint::Scope taintScope_ = WriteTaint::Scope::kNone;  // the current command's, if a write
  bool overwrites_ = false;  // the current command replaces its keys (or flushes: see repaired())
  std::string scratch_;
  // Script bodies seen in EVAL / SCRIPT LOAD, by SHA1, so that an EVALSHA can be
  // preceded by a SCRIPT LOAD on a canary that never saw the script. Bounded.
  std::unordered_map<std::string, std::string> scripts_;
  size_t scriptBytes_ = 0;
  std::unordered_map<uint32_t, ScriptRetry> retries_;
  uint32_t nextRetry_ = 1;
  std::unique_ptr<RepairLink> repair_;  // opened on the first cold miss to repair
  double warmTokens_ = 0;
  uint64_t warmRefilledMs_ = 0;
  uint64_t randomState_;
  uint32_t serial_ = 0;
};

}  // namespace redmirror::mirror
