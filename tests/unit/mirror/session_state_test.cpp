// The session state tracker (session_state.h): every change of database,
// protocol, user, transaction and WATCH, applied as Redis applies it, and only
// when the primary's reply confirms it. Commands are framed by the real
// RequestFramer, as the proxy frames them.
#include "redmirror/mirror/session_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace redmirror::mirror {
namespace {

using Strings = std::vector<std::string>;

// Frames `args` as a client sends them and gives the frame to the tracker.
class Client {
 public:
  explicit Client(SessionState& state) : state_(state) {}

  // `reply`: whether the primary's reply will be seen (not CLIENT REPLY OFF).
  // `readable`: whether arguments past the framer's captures can be read.
  SessionState::Step send(const Strings& args, bool reply = true, bool mirroring = true, bool readable = true) {
    std::string bytes = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& arg : args) bytes += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
    Sink sink(state_, args, reply, mirroring, readable);
    EXPECT_TRUE(framer_.feed(bytes, sink));
    EXPECT_EQ(sink.frames, 1);
    return sink.step;
  }

 private:
  struct Sink final : resp::RequestSink {
    Sink(SessionState& state, const Strings& args, bool reply, bool mirroring, bool readable)
        : state(state), args(args), reply(reply), mirroring(mirroring), readable(readable) {}
    void onCommand(const resp::CommandFrame& frame) override {
      ListArgs<Strings> reader(args);
      step = state.onCommand(frame, readable ? &reader : nullptr, reply, mirroring);
      ++frames;
    }
    SessionState& state;
    const Strings& args;
    bool reply;
    bool mirroring;
    bool readable;
    SessionState::Step step;
    int frames = 0;
  };
  SessionState& state_;
  resp::RequestFramer framer_;
};

resp::Capture capture(std::string_view text) {
  resp::Capture name;
  std::copy(text.begin(), text.end(), name.bytes.begin());
  name.size = static_cast<uint8_t>(text.size());
  name.complete = true;
  return name;
}

TEST(SessionState, ClassifiesConnectionCommandsByName) {
  EXPECT_EQ(SessionState::classify(capture("select")), StateCommand::kSelect);
  EXPECT_EQ(SessionState::classify(capture("MULTI")), StateCommand::kMulti);
  EXPECT_EQ(SessionState::classify(capture("exec")), StateCommand::kExec);
  EXPECT_EQ(SessionState::classify(capture("discard")), StateCommand::kDiscard);
  EXPECT_EQ(SessionState::classify(capture("watch")), StateCommand::kWatch);
  EXPECT_EQ(SessionState::classify(capture("unwatch")), StateCommand::kUnwatch);
  EXPECT_EQ(SessionState::classify(capture("reset")), StateCommand::kReset);
  EXPECT_EQ(SessionState::classify(capture("quit")), StateCommand::kQuit);
  EXPECT_EQ(SessionState::classify(capture("Auth")), StateCommand::kAuth);
  EXPECT_EQ(SessionState::classify(capture("hello")), StateCommand::kHello);
  for (const char* other : {"get", "set", "selects", "execs", "authx", "helo", "", "client"}) {
    EXPECT_EQ(SessionState::classify(capture(other)), StateCommand::kNone) << other;
  }
}

TEST(SessionState, StartsAsRedisStartsAConnection) {
  SessionState state;
  EXPECT_EQ(state.db(), 0u);
  EXPECT_EQ(state.protocol(), 2);
  EXPECT_TRUE(state.defaultUser());
  EXPECT_EQ(state.user(), "default");
  EXPECT_FALSE(state.inMulti());
  EXPECT_FALSE(state.watching());
  EXPECT_FALSE(state.quit());
  EXPECT_TRUE(state.placementKnown());
  EXPECT_EQ(state.placementPending(), 0u);
}

TEST(SessionState, SelectIsPredictedAndKeptWhenConfirmed) {
  SessionState state;
  Client client(state);
  const SessionState::Step step = client.send({"SELECT", "3"});
  EXPECT_TRUE(step.stateOnly);
  EXPECT_TRUE(step.awaitsReply);
  EXPECT_TRUE(step.placement) << "later commands run where the reply says";
  EXPECT_EQ(state.db(), 3u) << "a command pipelined after it runs in 3 if it succeeds";
  EXPECT_EQ(state.confirmed().db, 0u);
  EXPECT_EQ(state.placementPending(), 1u);
  const SessionState::Outcome outcome = state.onReply(true);
  EXPECT_EQ(outcome.command, StateCommand::kSelect);
  EXPECT_FALSE(outcome.refused);
  EXPECT_EQ(state.db(), 3u);
  EXPECT_EQ(state.confirmed().db, 3u);
  EXPECT_EQ(state.placementPending(), 0u);
}

TEST(SessionState, RefusedSelectIsNotApplied) {
  SessionState state;
  Client client(state);
  client.send({"SELECT", "2"});
  state.onReply(true);
  client.send({"SELECT", "99"});
  EXPECT_EQ(state.db(), 99u);
  const SessionState::Outcome outcome = state.onReply(false);  // ERR DB index is out of range
  EXPECT_TRUE(outcome.refused);
  EXPECT_TRUE(outcome.placement);
  EXPECT_EQ(outcome.dbBefore, 2u);
  EXPECT_EQ(state.db(), 2u);
  EXPECT_EQ(state.placementPending(), 0u);
}

TEST(SessionState, MalformedSelectChangesNothingAndAwaitsNothing) {
  SessionState state;
  Client client(state);
  for (const Strings& select : {Strings{"SELECT", "x"}, Strings{"SELECT", "01"}, Strings{"SELECT", "-1"},
                                Strings{"SELECT"}, Strings{"SELECT", "1", "2"}, Strings{"SELECT", ""}}) {
    const SessionState::Step step = client.send(select);
    EXPECT_TRUE(step.stateOnly);
    EXPECT_FALSE(step.awaitsReply) << select.size();
    EXPECT_EQ(state.db(), 0u);
  }
}

TEST(SessionState, PipelinedSelectsReplayWhatFollowsARefusal) {
  SessionState state;
  Client client(state);
  client.send({"SELECT", "1"});
  client.send({"SELECT", "99"});
  client.send({"SELECT", "4"});
  EXPECT_EQ(state.db(), 4u);
  EXPECT_EQ(state.placementPending(), 3u);
  state.onReply(true);
  EXPECT_EQ(state.onReply(false).dbBefore, 1u);
  EXPECT_EQ(state.db(), 4u) << "the SELECT after the refused one sets the database whatever came before";
  state.onReply(false);
  EXPECT_EQ(state.db(), 1u) << "both refused: where the first one left it";
  EXPECT_EQ(state.confirmed().db, 1u);
}

TEST(SessionState, ATransactionBegunAfterARefusedSelectRunsWhereTheSessionReallyIs) {
  SessionState state;
  Client client(state);
  client.send({"SELECT", "5"});
  client.send({"MULTI"});
  client.send({"SET", "k", "v"});
  EXPECT_EQ(state.transactionDb(), 5u);
  state.onReply(false);
  EXPECT_TRUE(state.inMulti());
  EXPECT_EQ(state.transactionDb(), 0u);
  EXPECT_EQ(state.transactionCount(), 1u);
}

TEST(SessionState, SelectWhoseReplyIsNotSeenLeavesTheDatabaseUnknown) {
  SessionState state;
  Client client(state);
  const SessionState::Step step = client.send({"SELECT", "3"}, /*reply=*/false);
  EXPECT_FALSE(step.awaitsReply);
  EXPECT_FALSE(state.placementKnown());
  EXPECT_EQ(state.dbCandidates(), (std::vector<uint32_t>{0, 3}));
  client.send({"SELECT", "7"}, false);
  EXPECT_EQ(state.dbCandidates(), (std::vector<uint32_t>{0, 3, 7}));
  // A SELECT the primary confirms says where the session is again.
  client.send({"SELECT", "2"});
  EXPECT_TRUE(state.placementKnown()) << "predicted: the reply will tell";
  state.onReply(true);
  EXPECT_TRUE(state.placementKnown());
  EXPECT_EQ(state.db(), 2u);
  // Refused, it leaves the candidates as they were.
  client.send({"SELECT", "9"}, false);
  client.send({"SELECT", "4"});
  state.onReply(false);
  EXPECT_EQ(state.dbCandidates(), (std::vector<uint32_t>{2, 9}));
  client.send({"RESET"});
  EXPECT_TRUE(state.placementKnown());
  EXPECT_EQ(state.db(), 0u);
}

TEST(SessionState, TransactionMembersAndSelectInsideRunAtExec) {
  SessionState state;
  Client client(state);
  const SessionState::Step multi = client.send({"MULTI"});
  EXPECT_TRUE(multi.began);
  EXPECT_TRUE(multi.awaitsReply);
  EXPECT_TRUE(multi.placement) << "refused, its members run as plain commands";
  state.onReply(true);
  EXPECT_TRUE(state.inMulti());
  const uint32_t serial = state.transactionSerial();
  EXPECT_NE(serial, 0u);
  EXPECT_FALSE(client.send({"SET", "a", "1"}).stateOnly);
  const SessionState::Step select = client.send({"SELECT", "4"});
  EXPECT_TRUE(select.stateOnly);
  EXPECT_FALSE(select.awaitsReply) << "queued: EXEC's reply decides";
  client.send({"SET", "b", "2"});
  EXPECT_EQ(state.db(), 0u);
  EXPECT_EQ(state.transactionDb(), 4u);
  EXPECT_EQ(state.transactionCount(), 3u) << "EXEC's reply has one element per member";
  const SessionState::Step exec = client.send({"EXEC"});
  EXPECT_TRUE(exec.ended);
  EXPECT_EQ(exec.serial, serial);
  EXPECT_EQ(exec.dbBefore, 0u);
  EXPECT_EQ(exec.transactionDb, 4u);
  EXPECT_TRUE(exec.awaitsReply);
  EXPECT_TRUE(exec.placement);
  EXPECT_FALSE(state.inMulti());
  EXPECT_EQ(state.db(), 4u);
  EXPECT_TRUE(state.dbFromTransaction());
  state.onReply(true);  // committed
  EXPECT_EQ(state.db(), 4u);
  EXPECT_FALSE(state.dbFromTransaction());
}

TEST(SessionState, AnAbortedExecLeavesTheDatabase) {
  SessionState state;
  Client client(state);
  client.send({"WATCH", "k"});
  client.send({"MULTI"});
  client.send({"SELECT", "4"});
  EXPECT_TRUE(client.send({"EXEC"}).watched);
  EXPECT_FALSE(state.watching()) << "EXEC unwatches, committed or not";
  state.onReply(true);  // MULTI
  state.onReply(false);  // EXEC: nil (a watched key changed) or EXECABORT
  EXPECT_EQ(state.db(), 0u);
  EXPECT_FALSE(state.dbFromTransaction());
}

TEST(SessionState, AnExecWithoutSelectAwaitsNothing) {
  SessionState state;
  Client client(state);
  client.send({"MULTI"});
  state.onReply(true);
  client.send({"INCR", "k"});
  const SessionState::Step exec = client.send({"EXEC"});
  EXPECT_FALSE(exec.awaitsReply);
  EXPECT_TRUE(exec.ended);
  EXPECT_EQ(state.awaiting(), 0u);
}

TEST(SessionState, RefusedMultiLeavesNoTransaction) {
  SessionState state;
  Client client(state);
  client.send({"MULTI"});
  client.send({"SET", "a", "1"});
  client.send({"SELECT", "6"});
  EXPECT_TRUE(state.inMulti());
  const SessionState::Outcome outcome = state.onReply(false);  // NOPERM: MULTI not allowed
  EXPECT_TRUE(outcome.refused);
  EXPECT_TRUE(outcome.leftMulti);
  EXPECT_FALSE(state.inMulti());
  EXPECT_EQ(state.transactionCount(), 0u);
  // Its "members" ran as they came: the SELECT among them ran, unseen.
  EXPECT_FALSE(state.placementKnown());
  EXPECT_EQ(state.dbCandidates(), (std::vector<uint32_t>{0, 6}));
  EXPECT_FALSE(client.send({"EXEC"}).ended) << "EXEC without MULTI";
}

TEST(SessionState, NestedMultiChangesNothing) {
  SessionState state;
  Client client(state);
  client.send({"MULTI"});
  state.onReply(true);
  const uint32_t serial = state.transactionSerial();
  client.send({"SET", "a", "1"});
  const SessionState::Step nested = client.send({"MULTI"});
  EXPECT_FALSE(nested.began);
  EXPECT_FALSE(nested.awaitsReply);
  EXPECT_EQ(state.transactionSerial(), serial);
  EXPECT_EQ(state.transactionCount(), 1u) << "not queued";
}

TEST(SessionState, DiscardEndsTheTransactionUnlessRefused) {
  SessionState state;
  Client client(state);
  client.send({"MULTI"});
  state.onReply(true);
  client.send({"SET", "a", "1"});
  const SessionState::Step discard = client.send({"DISCARD"});
  EXPECT_TRUE(discard.ended);
  EXPECT_TRUE(discard.placement);
  EXPECT_FALSE(state.inMulti());
  state.onReply(true);
  EXPECT_FALSE(state.inMulti());

  client.send({"MULTI"});
  state.onReply(true);
  client.send({"DISCARD"});
  client.send({"SET", "b", "2"});
  state.onReply(false);  // NOPERM: an ACL without DISCARD; Redis keeps the transaction, dirty
  EXPECT_TRUE(state.inMulti());
  EXPECT_TRUE(state.transactionUnknown()) << "its EXEC will abort";
}

TEST(SessionState, ATransactionBegunUnmirroredOrGivenUpIsUnknown) {
  SessionState state;
  Client client(state);
  client.send({"MULTI"}, true, /*mirroring=*/false);
  EXPECT_TRUE(state.transactionUnknown());
  client.send({"EXEC"});
  state.onReply(true);
  client.send({"MULTI"});
  EXPECT_FALSE(state.transactionUnknown());
  state.loseTransaction();
  EXPECT_TRUE(state.transactionUnknown());
  client.send({"EXEC"});
  EXPECT_FALSE(state.transactionUnknown());

  // Given up, it stays unknown when a refusal makes the tracker work the state out again.
  client.send({"SELECT", "1"});
  client.send({"MULTI"});
  state.loseTransaction();
  state.onReply(true);   // the MULTI before
  state.onReply(false);  // SELECT 1
  EXPECT_TRUE(state.inMulti());
  EXPECT_TRUE(state.transactionUnknown());
}

TEST(SessionState, WatchAndUnwatch) {
  SessionState state;
  Client client(state);
  client.send({"WATCH", "a"});
  EXPECT_TRUE(state.watching());
  client.send({"UNWATCH"});
  EXPECT_FALSE(state.watching());
  client.send({"WATCH", "a"});
  client.send({"MULTI"});
  client.send({"WATCH", "b"});  // refused inside MULTI, not queued
  EXPECT_EQ(state.transactionCount(), 0u);
  client.send({"UNWATCH"});  // queued: runs after EXEC checked the watched keys
  EXPECT_TRUE(state.watching());
  EXPECT_EQ(state.transactionCount(), 1u);
  EXPECT_TRUE(client.send({"EXEC"}).watched);
  EXPECT_FALSE(state.watching());
  client.send({"WATCH", "a"});
  client.send({"MULTI"});
  client.send({"DISCARD"});
  EXPECT_FALSE(state.watching()) << "DISCARD unwatches";
}

TEST(SessionState, ResetPutsEverythingBack) {
  SessionState state;
  Client client(state);
  client.send({"SELECT", "3"});
  client.send({"HELLO", "3"});
  client.send({"AUTH", "lim", "pass"});
  client.send({"WATCH", "a"});
  client.send({"MULTI"});
  const SessionState::Step reset = client.send({"RESET"});
  EXPECT_TRUE(reset.ended);
  EXPECT_FALSE(reset.awaitsReply) << "RESET cannot be refused";
  EXPECT_EQ(state.db(), 0u);
  EXPECT_EQ(state.protocol(), 2);
  EXPECT_FALSE(state.inMulti());
  EXPECT_FALSE(state.watching());
  EXPECT_FALSE(state.defaultUser()) << "the AUTH before it awaits its reply";
  for (int i = 0; i < 4; ++i) state.onReply(i != 2);  // the AUTH refused: nothing changes after RESET
  EXPECT_EQ(state.db(), 0u);
  EXPECT_EQ(state.protocol(), 2);
  EXPECT_TRUE(state.defaultUser());
  EXPECT_EQ(state.awaiting(), 0u);
}

TEST(SessionState, NothingAfterQuitCounts) {
  SessionState state;
  Client client(state);
  EXPECT_TRUE(client.send({"QUIT"}).stateOnly);
  EXPECT_TRUE(state.quit());
  const SessionState::Step after = client.send({"SELECT", "4"});
  EXPECT_TRUE(after.stateOnly);
  EXPECT_FALSE(after.awaitsReply);
  EXPECT_EQ(state.db(), 0u);
}

TEST(SessionState, AuthChangesTheUserOnceConfirmed) {
  SessionState state;
  Client client(state);
  const SessionState::Step auth = client.send({"AUTH", "lim", "pass"});
  EXPECT_TRUE(auth.awaitsReply);
  EXPECT_FALSE(auth.placement);
  EXPECT_FALSE(state.defaultUser());
  state.onReply(true);
  EXPECT_FALSE(state.defaultUser());
  EXPECT_EQ(state.user(), "lim");
  // Back to default: not the default user for certain until the reply says so.
  client.send({"AUTH", "secret"});
  EXPECT_FALSE(state.defaultUser());
  state.onReply(true);
  EXPECT_TRUE(state.defaultUser());
  EXPECT_EQ(state.user(), "default");
  client.send({"AUTH", "default", "secret"});
  state.onReply(true);
  EXPECT_TRUE(state.defaultUser());
}

TEST(SessionState, RefusedAuthKeepsTheUser) {
  SessionState state;
  Client client(state);
  client.send({"AUTH", "lim", "pass"});
  state.onReply(true);
  client.send({"AUTH", "default", "wrong"});
  state.onReply(false);  // WRONGPASS
  EXPECT_EQ(state.user(), "lim");
  client.send({"AUTH", "lim", "wrong"});
  state.onReply(false);
  client.send({"AUTH", "default", "x"});
  state.onReply(false);
  EXPECT_EQ(state.user(), "lim");
  EXPECT_FALSE(client.send({"AUTH", "a", "b", "c"}).awaitsReply) << "arity: refused before anything";
  EXPECT_EQ(state.user(), "lim");
}

TEST(SessionState, AnAuthWhoseOutcomeCannotBeSeenLeavesTheUserUnknown) {
  SessionState state;
  Client client(state);
  client.send({"AUTH", "default", "secret"}, /*reply=*/false);
  EXPECT_FALSE(state.defaultUser());
  EXPECT_EQ(state.user(), "");
  client.send({"RESET"});
  EXPECT_TRUE(state.defaultUser());

  // Queued in MULTI, AUTH runs at EXEC; whether it succeeded is in EXEC's reply.
  client.send({"MULTI"});
  state.onReply(true);
  client.send({"AUTH", "default", "secret"});
  EXPECT_TRUE(state.defaultUser()) << "not run yet";
  EXPECT_EQ(state.transactionCount(), 1u);
  const SessionState::Step exec = client.send({"EXEC"});
  EXPECT_TRUE(exec.awaitsReply);
  EXPECT_FALSE(state.defaultUser());
  state.onReply(false);  // aborted: the AUTH never ran
  EXPECT_TRUE(state.defaultUser());
  client.send({"MULTI"});
  state.onReply(true);
  client.send({"AUTH", "default", "secret"});
  client.send({"EXEC"});
  state.onReply(true);
  EXPECT_FALSE(state.defaultUser()) << "committed: the AUTH inside may have failed";
}

TEST(SessionState, HelloSwitchesTheProtocolAndMayAuthenticate) {
  SessionState state;
  Client client(state);
  EXPECT_TRUE(client.send({"HELLO", "3"}).awaitsReply);
  EXPECT_EQ(state.protocol(), 3);
  state.onReply(false);  // NOPROTO on an older server
  EXPECT_EQ(state.protocol(), 2);
  client.send({"HELLO", "3", "AUTH", "lim", "pass", "SETNAME", "app"});
  EXPECT_FALSE(state.defaultUser());
  state.onReply(true);
  EXPECT_EQ(state.protocol(), 3);
  EXPECT_EQ(state.user(), "lim");
  client.send({"HELLO", "2", "auth", "default", "secret"});
  state.onReply(true);
  EXPECT_EQ(state.protocol(), 2);
  EXPECT_TRUE(state.defaultUser());
  // Redis 7.0 authenticates while it reads the options: failing after AUTH,
  // HELLO may have switched the user.
  client.send({"HELLO", "3", "AUTH", "lim", "pass", "BOGUS"});
  state.onReply(false);
  EXPECT_EQ(state.protocol(), 2);
  EXPECT_FALSE(state.defaultUser());
  EXPECT_EQ(state.user(), "");
}

TEST(SessionState, HelloWithoutUserOrVersionChangesLittle) {
  SessionState state;
  Client client(state);
  EXPECT_FALSE(client.send({"HELLO"}).awaitsReply);
  EXPECT_FALSE(client.send({"HELLO", "4"}).awaitsReply) << "NOPROTO before anything";
  EXPECT_FALSE(client.send({"HELLO", "2"}).awaitsReply) << "already RESP2";
  client.send({"HELLO", "3", "SETNAME", "app"});
  state.onReply(true);
  EXPECT_EQ(state.protocol(), 3);
  EXPECT_TRUE(state.defaultUser());
  // The user of HELLO ... AUTH lies past the framer's captures: unknown when
  // the stream's bytes are not kept.
  client.send({"HELLO", "3", "AUTH", "default", "secret"}, true, true, /*readable=*/false);
  state.onReply(true);
  EXPECT_FALSE(state.defaultUser());
}

TEST(SessionState, TooMuchToReplayLeavesTheStateUnknownUntilReset) {
  SessionState state;
  Client client(state);
  client.send({"SELECT", "1"});
  for (size_t i = 0; i <= SessionState::kMaxReplay; ++i) client.send({"SELECT", "2"});
  const size_t due = state.awaiting();
  state.onReply(false);
  EXPECT_TRUE(state.unknown());
  EXPECT_FALSE(state.placementKnown());
  EXPECT_EQ(state.placementPending(), 0u);
  client.send({"SELECT", "3"});
  // The replies still due are not taken for later commands'.
  for (size_t i = 1; i < due; ++i) ASSERT_EQ(state.onReply(true).command, StateCommand::kNone) << i;
  EXPECT_EQ(state.onReply(true).command, StateCommand::kSelect);
  EXPECT_TRUE(state.unknown()) << "only RESET says where everything is";
  client.send({"RESET"});
  EXPECT_FALSE(state.unknown());
  EXPECT_TRUE(state.placementKnown());
  client.send({"SELECT", "5"});
  EXPECT_EQ(state.onReply(true).command, StateCommand::kSelect);
  EXPECT_EQ(state.db(), 5u);
}

}  // namespace
}  // namespace redmirror::mirror
