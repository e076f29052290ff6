#pragma once
// A client session's connection state as its primary connection has it:
// database, protocol, authenticated ACL user, transaction (MULTI/EXEC/DISCARD),
// WATCH, QUIT. Pure: fed the commands the framer reports and, for those whose
// effect depends on it, whether the primary's reply confirmed them. No sockets,
// no mirror; WorkerMirror keeps one per session.
//
// Redis runs a connection's commands in order, so a command pipelined after
// SELECT 3 runs in database 3 if the SELECT succeeds. The tracker predicts that
// every change succeeds (`current()`), and logs the changes awaiting their reply
// with what was framed after them:
//
//   confirmed  [SELECT 3 ?] [2 members] [MULTI ?] ...   -> current (predicted)
//   ^ state once every reply so far is applied
//
// A confirmed change moves into `confirmed` and leaves the prediction as it
// was (no work but the move); a refused one is dropped and the rest of the log
// replayed on `confirmed`. Commands framed while a change of the database or of the
// transaction awaits its reply depend on it (`placementPending()`): the mirror
// holds them until it is confirmed, and loses them when it is refused.
//
// What cannot be known is not guessed: a SELECT whose reply is never seen
// (CLIENT REPLY OFF/SKIP) leaves the database one of several
// (`dbCandidates()`), an AUTH without a visible reply, a HELLO ... AUTH that
// failed (Redis 7.0 may have switched the user before failing) or an AUTH run by
// EXEC leave the user unknown, and a refusal with more than kMaxReplay entries
// in flight after it leaves the whole state unknown until RESET.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/mirror/command_table.h"
#include "redmirror/resp/request_framer.h"

namespace redmirror::mirror {

// What a command is to the connection state (by its lowercase name).
enum class StateCommand : uint8_t {
  kNone,  // anything else (a transaction member inside MULTI)
  kSelect,
  kMulti,
  kExec,
  kDiscard,
  kWatch,
  kUnwatch,
  kReset,
  kQuit,
  kAuth,
  kHello,
};

// The connection state the commands framed so far leave (or, in
// `SessionState::confirmed`, the replies read so far confirm). A plain value.
struct ConnectionState {
  uint32_t db = 0;
  bool dbFromTransaction = false;  // `db` comes from an EXEC (see SessionState::dbFromTransaction)
  // Where the database may be when a SELECT's outcome could not be seen
  // (sorted, `db` among them); empty when `db` is known.
  std::vector<uint32_t> dbCandidates;
  int protocol = 2;
  std::string user = "default";
  bool userKnown = true;
  bool inMulti = false;
  uint32_t transactionSerial = 0;  // of the current (or last) MULTI
  uint32_t transactionDb = 0;      // where its members run: `db` at MULTI, or a SELECT inside
  uint32_t transactionCount = 0;   // members queued (their positions in the EXEC reply)
  bool transactionAuth = false;    // an AUTH was queued: the user after EXEC is unknown
  // Begun while the session was not mirrored: its first members were not kept,
  // so it is never sent (its sampled writes taint their keys).
  bool transactionUnknown = false;
  bool watching = false;  // WATCH in force: EXEC may answer nil
  bool quit = false;      // QUIT: Redis closes after answering it; nothing after runs
  bool unknown = false;   // too much in flight to follow: nothing is known until RESET

  bool operator==(const ConnectionState&) const = default;
};

class SessionState {
 public:
  // A refusal replays what was framed after it: beyond this many entries the
  // state is given up as unknown instead (bounded work per reply).
  static constexpr size_t kMaxReplay = 1024;

  // A switch on the name's length, then one comparison: the data path asks
  // this of every command while nothing is mirrored.
  static StateCommand classify(const resp::Capture& name) {
    switch (name.size) {
      case 4:
        return name.is("exec") ? StateCommand::kExec
               : name.is("quit") ? StateCommand::kQuit
               : name.is("auth") ? StateCommand::kAuth
                                 : StateCommand::kNone;
      case 5:
        return name.is("multi") ? StateCommand::kMulti
               : name.is("watch") ? StateCommand::kWatch
               : name.is("reset") ? StateCommand::kReset
               : name.is("hello") ? StateCommand::kHello
                                  : StateCommand::kNone;
      case 6: return name.is("select") ? StateCommand::kSelect : StateCommand::kNone;
      case 7:
        return name.is("discard") ? StateCommand::kDiscard
               : name.is("unwatch") ? StateCommand::kUnwatch
                                    : StateCommand::kNone;
      default: return StateCommand::kNone;
    }
  }

  // What one command did to the state, for the mirror.
  struct Step {
    StateCommand command = StateCommand::kNone;
    // A connection command (or anything after QUIT): never mirrored itself.
    bool stateOnly = false;
    // Its reply must come back through onReply().
    bool awaitsReply = false;
    // The placement of later commands (database, transaction) depends on that
    // reply: a mirrored session holds them behind it.
    bool placement = false;
    // MULTI began a transaction; DISCARD, RESET or EXEC ended one (the members
    // the mirror holds are dropped or, at EXEC, sent).
    bool began = false;
    bool ended = false;
    // EXEC: the transaction it ran and what the session was before it.
    uint32_t serial = 0;
    uint32_t dbBefore = 0;
    uint32_t transactionDb = 0;
    bool transactionUnknown = false;
    bool watched = false;
  };
  // A command as the framer reports it. `args` reads arguments past the
  // framer's captures (HELLO ... AUTH user): nullptr when the bytes are not kept,
  // and then such a user is unknown. `replyVisible`: the primary will answer
  // (not CLIENT REPLY OFF/SKIP). `mirroring`: the session is mirrored now.
  Step onCommand(const resp::CommandFrame& frame, ArgReader* args, bool replyVisible, bool mirroring);

  // What the reply to the oldest command that awaited one said.
  struct Outcome {
    StateCommand command = StateCommand::kNone;
    bool refused = false;
    bool placement = false;    // it was a change of database or transaction
    uint32_t dbBefore = 0;     // refused: where the session really is after it
    bool leftMulti = false;    // refused MULTI: its members ran as plain commands
  };
  // `ok`: the reply was not an error (nor a nil EXEC: aborted by WATCH).
  Outcome onReply(bool ok);

  // The mirror gave up the current transaction (a member it could not keep):
  // it is not sent, and its sampled writes taint their keys. Survives replays.
  void loseTransaction();

  const ConnectionState& current() const { return current_; }
  const ConnectionState& confirmed() const { return logged() == 0 ? current_ : confirmed_; }
  uint32_t db() const { return current_.db; }
  int protocol() const { return current_.protocol; }
  bool inMulti() const { return current_.inMulti; }
  bool quit() const { return current_.quit; }
  bool watching() const { return current_.watching; }
  // The database comes from an EXEC (with a SELECT inside) whose reply has not come.
  bool dbFromTransaction() const { return current_.dbFromTransaction && execsPending_ > 0; }
  uint32_t transactionDb() const { return current_.transactionDb; }
  uint32_t transactionSerial() const { return current_.transactionSerial; }
  uint32_t transactionCount() const { return current_.transactionCount; }
  bool transactionUnknown() const {
    return current_.transactionUnknown || (current_.inMulti && lostTransaction_ == current_.transactionSerial);
  }
  // Where commands run is known: the database (not only candidates) and the state.
  bool placementKnown() const { return !current_.unknown && current_.dbCandidates.empty(); }
  const std::vector<uint32_t>& dbCandidates() const { return current_.dbCandidates; }
  bool unknown() const { return current_.unknown; }
  // The session is authenticated as Redis's `default` user, with certainty.
  bool defaultUser() const { return current_.userKnown && usersPending_ == 0 && current_.user == "default"; }
  // The user's name when known (else empty).
  std::string_view user() const { return current_.userKnown ? std::string_view(current_.user) : std::string_view(); }
  // Changes of database or transaction whose reply has not come.
  uint32_t placementPending() const { return placementPending_; }
  size_t awaiting() const { return awaiting_; }

 private:
  // One framed command that matters to the state (or a run of transaction
  // members), as logged while a change awaits its reply.
  struct Change {
    StateCommand command = StateCommand::kNone;
    bool awaits = false;      // its reply comes back (onReply)
    bool placement = false;   // awaits, and later commands' placement depends on it
    bool mirroring = false;   // MULTI: the session was mirrored when it began
    bool hasDb = false;       // SELECT: a valid index
    uint32_t db = 0;
    uint32_t members = 0;     // kNone: transaction members
    uint32_t serial = 0;      // MULTI: the serial it takes
    int protocol = 0;         // HELLO: 2 or 3, 0 none
    bool setsUser = false;    // AUTH, HELLO ... AUTH, EXEC running an AUTH
    bool userKnown = false;   // the user's name could be read
    std::string user;
  };
  enum class Result : uint8_t {
    kPredicted,  // awaits its reply: taken as confirmed for now
    kConfirmed,
    kRefused,
    kUnseen,  // its reply will not be seen (or not routed here): unknown
  };
  Change parse(StateCommand command, const resp::CommandFrame& frame, ArgReader* args, bool mirroring);
  size_t logged() const { return log_.size() - head_; }
  // Whether `change` awaits confirmation in state `state`, and whether later
  // commands' placement depends on it.
  static void classifyWait(const ConnectionState& state, Change& change, bool replyVisible);
  static void apply(ConnectionState& state, const Change& change, Result result);
  static Result resultOf(const Change& change) { return change.awaits ? Result::kPredicted : Result::kUnseen; }
  void replay();
  void push(Change change);
  void count(const Change& change, int delta);
  // Too much to replay: the replies still due are skipped, nothing is known until RESET.
  void giveUp();

  ConnectionState current_;
  ConnectionState confirmed_;  // valid while log_ is not empty
  std::vector<Change> log_;    // from head_: the oldest change awaiting its reply first
  size_t head_ = 0;
  size_t awaiting_ = 0;        // log_ entries awaiting a reply
  uint32_t placementPending_ = 0;
  uint32_t usersPending_ = 0;  // awaiting entries that may change the user
  uint32_t execsPending_ = 0;  // awaiting EXECs that move the database
  uint32_t serials_ = 0;
  uint32_t lostTransaction_ = 0;  // serial of a transaction the mirror gave up
  size_t orphanReplies_ = 0;      // replies still due to changes dropped with the log
};

}  // namespace redmirror::mirror
