// The session state tracker (session_state.h): Redis's connection semantics
// for SELECT, MULTI/EXEC/DISCARD, WATCH, AUTH, HELLO, RESET and QUIT, with the
// outcome of each change taken from the primary's reply.
#include "redmirror/mirror/session_state.h"

#include <algorithm>
#include <charconv>

#include "redmirror/resp/ascii.h"

namespace redmirror::mirror {

namespace {

bool parseDb(const resp::Capture& capture, uint32_t& db) {
  if (!capture.complete || capture.size == 0) return false;
  const char* begin = capture.bytes.data();
  const char* end = begin + capture.size;
  // Redis reads the index as a strict integer: no sign, no leading zero.
  if (capture.size > 1 && *begin == '0') return false;
  auto [last, ec] = std::from_chars(begin, end, db);
  return ec == std::errc() && last == end;
}

// The database may be any of `dbs` (and whatever it may have been before).
void addCandidates(ConnectionState& state, std::initializer_list<uint32_t> dbs) {
  // Bounded: past a few, nothing can be said about the session's database.
  constexpr size_t kMaxCandidates = 16;
  if (state.dbCandidates.empty()) state.dbCandidates.push_back(state.db);
  for (uint32_t db : dbs) {
    if (std::find(state.dbCandidates.begin(), state.dbCandidates.end(), db) == state.dbCandidates.end()) {
      state.dbCandidates.push_back(db);
    }
  }
  std::sort(state.dbCandidates.begin(), state.dbCandidates.end());
  if (state.dbCandidates.size() > kMaxCandidates) state.unknown = true;
}

}  // namespace

SessionState::Change SessionState::parse(StateCommand command, const resp::CommandFrame& frame, ArgReader* args,
                                         bool mirroring) {
  Change change;
  change.command = command;
  change.mirroring = mirroring;
  switch (command) {
    case StateCommand::kSelect:
      change.hasDb = frame.argc == 2 && parseDb(frame.captured[1], change.db);
      break;
    case StateCommand::kMulti:
      change.serial = ++serials_;
      if (change.serial == 0) change.serial = ++serials_;  // 0 means "none" to the mirror
      break;
    case StateCommand::kAuth:
      // AUTH password (the default user) or AUTH username password; any other
      // arity is refused before anything happens.
      if (frame.argc == 2) {
        change.setsUser = change.userKnown = true;
        change.user = "default";
      } else if (frame.argc == 3) {
        change.setsUser = true;
        std::string_view name;
        if (frame.captured[1].complete) {
          change.user.assign(frame.captured[1].view());
          change.userKnown = true;
        } else if (args != nullptr && args->arg(1, name)) {
          change.user.assign(name);
          change.userKnown = true;
        }
      }
      break;
    case StateCommand::kHello: {
      // HELLO [protover [AUTH username password] [SETNAME name]]: Redis refuses
      // a version other than 2 or 3 before looking at the options.
      if (frame.argc < 2) break;
      const resp::Capture& version = frame.captured[1];
      if (version.is("2")) {
        change.protocol = 2;
      } else if (version.is("3")) {
        change.protocol = 3;
      } else {
        change.protocol = -1;
        break;
      }
      if (frame.argc == 2) break;
      if (frame.argc == 4 && frame.captured[2].is("setname")) break;
      change.setsUser = true;  // an AUTH option, unless read otherwise
      if (args == nullptr || args->argc() != frame.argc) break;
      bool auth = false;
      bool readable = true;
      for (uint32_t i = 2; i < frame.argc && readable; ++i) {
        std::string_view option;
        std::string_view name;
        readable = args->arg(i, option);
        if (!readable) break;
        if (resp::equalsIgnoreCase(option, "auth") && i + 2 < frame.argc) {
          readable = args->arg(i + 1, name);
          if (readable) {
            auth = true;
            change.user.assign(name);
          }
          i += 2;
        } else if (resp::equalsIgnoreCase(option, "setname") && i + 1 < frame.argc) {
          ++i;
        } else {
          break;  // a syntax error: Redis stops there (after an AUTH before it)
        }
      }
      if (readable) {
        change.setsUser = auth;
        change.userKnown = auth;
      }
      break;
    }
    default:
      break;
  }
  return change;
}

void SessionState::classifyWait(const ConnectionState& state, Change& change, bool replyVisible) {
  bool refusable = false;
  bool placement = false;
  switch (change.command) {
    case StateCommand::kSelect:
      refusable = placement = !state.inMulti && change.hasDb;
      break;
    case StateCommand::kAuth:
      refusable = !state.inMulti && change.setsUser;
      break;
    case StateCommand::kHello:
      refusable = change.protocol > 0 && (change.protocol != state.protocol || change.setsUser);
      break;
    case StateCommand::kMulti:
      refusable = placement = !state.inMulti;
      break;
    case StateCommand::kDiscard:
      refusable = placement = state.inMulti;
      break;
    case StateCommand::kExec:
      placement = state.inMulti && state.transactionDb != state.db;
      change.setsUser = state.inMulti && state.transactionAuth;
      refusable = placement || change.setsUser;
      break;
    default:
      break;
  }
  change.awaits = refusable && replyVisible;
  change.placement = placement && change.awaits;
}

void SessionState::apply(ConnectionState& state, const Change& change, Result result) {
  const bool unseen = result == Result::kUnseen;
  switch (change.command) {
    case StateCommand::kNone:
      if (state.inMulti) state.transactionCount += change.members;
      break;
    case StateCommand::kSelect:
      if (state.inMulti) {
        ++state.transactionCount;  // queued; runs at EXEC
        if (change.hasDb) state.transactionDb = change.db;
        break;
      }
      if (!change.hasDb || result == Result::kRefused) break;
      if (unseen) {
        addCandidates(state, {change.db});
      } else {
        state.dbCandidates.clear();
      }
      state.db = change.db;
      state.dbFromTransaction = false;
      break;
    case StateCommand::kAuth:
      if (state.inMulti) {
        ++state.transactionCount;
        state.transactionAuth = state.transactionAuth || change.setsUser;
        break;
      }
      if (!change.setsUser || result == Result::kRefused) break;
      state.user = change.user;
      state.userKnown = change.userKnown && !unseen;
      break;
    case StateCommand::kHello:
      // Inside MULTI the reply matcher gives up the session: treated as outside.
      if (change.protocol <= 0) break;
      if (result == Result::kRefused) {
        // Redis 7.0 authenticates while it reads the options: a HELLO that
        // fails after its AUTH option leaves the session as that user.
        if (change.setsUser) state.userKnown = false;
        break;
      }
      state.protocol = change.protocol;
      if (change.setsUser) {
        state.user = change.user;
        state.userKnown = change.userKnown && !unseen;
      }
      break;
    case StateCommand::kMulti:
      if (state.inMulti || result == Result::kRefused) break;  // nested: refused, not queued
      state.inMulti = true;
      state.transactionSerial = change.serial;
      state.transactionDb = state.db;
      state.transactionCount = 0;
      state.transactionAuth = false;
      state.transactionUnknown = !change.mirroring;
      break;
    case StateCommand::kExec:
      if (!state.inMulti) break;  // refused: EXEC without MULTI
      if (state.transactionDb != state.db && result != Result::kRefused) {
        if (unseen) addCandidates(state, {state.transactionDb});
        state.db = state.transactionDb;
        state.dbFromTransaction = result == Result::kPredicted;
      }
      if (state.transactionAuth && result != Result::kRefused) state.userKnown = false;
      state.inMulti = false;
      state.transactionUnknown = false;
      state.transactionAuth = false;
      state.watching = false;
      break;
    case StateCommand::kDiscard:
      if (!state.inMulti) break;  // refused: DISCARD without MULTI
      if (result == Result::kRefused) {
        // Refused (an ACL without DISCARD): the transaction stays open, and
        // Redis will abort its EXEC.
        state.transactionUnknown = true;
        break;
      }
      state.inMulti = false;
      state.transactionUnknown = false;
      state.transactionAuth = false;
      state.watching = false;
      break;
    case StateCommand::kWatch:
      if (!state.inMulti) state.watching = true;  // inside: refused, not queued
      break;
    case StateCommand::kUnwatch:
      if (state.inMulti) {
        ++state.transactionCount;  // queued: EXEC unwatches anyway
      } else {
        state.watching = false;
      }
      break;
    case StateCommand::kReset: {
      // RESET cannot be refused (Redis exempts it from ACLs, as AUTH and HELLO).
      const bool quit = state.quit;
      state = ConnectionState{};
      state.quit = quit;
      break;
    }
    case StateCommand::kQuit:
      state.quit = true;
      break;
  }
}

void SessionState::count(const Change& change, int delta) {
  if (!change.awaits) return;
  awaiting_ += delta;
  if (change.placement) placementPending_ += delta;
  if (change.setsUser) usersPending_ += delta;
  if (change.placement && change.command == StateCommand::kExec) execsPending_ += delta;
}

void SessionState::push(Change change) {
  if (logged() == 0) {
    head_ = 0;
    log_.clear();
    if (!change.awaits) {
      apply(current_, change, resultOf(change));
      return;
    }
    confirmed_ = current_;
  }
  count(change, 1);
  apply(current_, change, resultOf(change));
  if (change.command == StateCommand::kNone && logged() > 0 && log_.back().command == StateCommand::kNone) {
    log_.back().members += change.members;
  } else {
    log_.push_back(std::move(change));
  }
}

void SessionState::giveUp() {
  orphanReplies_ += awaiting_;
  log_.clear();
  head_ = 0;
  awaiting_ = placementPending_ = usersPending_ = execsPending_ = 0;
  current_.unknown = true;
}

SessionState::Step SessionState::onCommand(const resp::CommandFrame& frame, ArgReader* args, bool replyVisible,
                                           bool mirroring) {
  Step step;
  if (current_.quit) {
    step.stateOnly = true;
    return step;
  }
  step.command = classify(frame.captured[0]);
  if (step.command == StateCommand::kNone) {
    if (current_.inMulti) {
      Change member;
      member.members = 1;
      push(std::move(member));
    }
    return step;
  }
  Change change = parse(step.command, frame, args, mirroring);
  classifyWait(current_, change, replyVisible);
  const bool wasInMulti = current_.inMulti;
  step.stateOnly = true;
  step.awaitsReply = change.awaits;
  step.placement = change.placement;
  step.began = step.command == StateCommand::kMulti && !wasInMulti;
  step.ended = wasInMulti && (step.command == StateCommand::kExec || step.command == StateCommand::kDiscard ||
                              step.command == StateCommand::kReset);
  if (step.command == StateCommand::kExec && wasInMulti) {
    step.serial = current_.transactionSerial;
    step.dbBefore = current_.db;
    step.transactionDb = current_.transactionDb;
    step.transactionUnknown = transactionUnknown();
    step.watched = current_.watching;
  }
  push(std::move(change));
  return step;
}

SessionState::Outcome SessionState::onReply(bool ok) {
  Outcome outcome;
  if (orphanReplies_ > 0) {
    --orphanReplies_;
    return outcome;
  }
  if (awaiting_ == 0 || logged() == 0) return outcome;
  Change change = std::move(log_[head_++]);
  count(change, -1);
  outcome.command = change.command;
  outcome.refused = !ok;
  outcome.placement = change.placement;
  const bool multiBefore = confirmed_.inMulti;
  apply(confirmed_, change, ok ? Result::kConfirmed : Result::kRefused);
  outcome.dbBefore = confirmed_.db;
  outcome.leftMulti = change.command == StateCommand::kMulti && !ok && !multiBefore;
  // What follows up to the next change awaiting its reply is settled too.
  while (logged() > 0 && !log_[head_].awaits) apply(confirmed_, log_[head_++], Result::kUnseen);
  if (logged() == 0) {
    log_.clear();
    head_ = 0;
  }
  // Confirmed, the prediction stands (what differs, a pending user or a
  // database from EXEC, is counted apart). Refused, it is worked out again.
  if (!ok) {
    if (logged() > kMaxReplay) {
      giveUp();
    } else {
      replay();
    }
  }
  return outcome;
}

void SessionState::replay() {
  current_ = confirmed_;
  for (size_t i = head_; i < log_.size(); ++i) apply(current_, log_[i], resultOf(log_[i]));
}

void SessionState::loseTransaction() {
  if (current_.inMulti) lostTransaction_ = current_.transactionSerial;
}

}  // namespace redmirror::mirror
