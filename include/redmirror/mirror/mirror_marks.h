#pragma once
// What the mirror notes on a command the session forwards (kept in the
// session's pending entry for that command) and reads back when the primary's
// reply arrives: the session owns the entry, the mirror only these fields.
#include <cstdint>

namespace redmirror::mirror {

struct MirrorMarks {
  // The first comparison awaiting this reply (0: none).
  uint32_t comparison = 0;
  // An effect (a guarded write, SPOP, a blocking pop, EXEC...) waits for this reply.
  bool effect = false;
  // A change of the session's state (SELECT, AUTH, MULTI...) takes effect only
  // if this reply confirms it (SessionState::onReply), mirrored or not.
  bool state = false;

  // The reply must reach the mirror.
  bool wanted() const { return comparison != 0 || effect || state; }
  // The reply will never come: the mirror must let go of what waits for it.
  bool held() const { return comparison != 0 || effect; }
};

}  // namespace redmirror::mirror
