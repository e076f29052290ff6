#pragma once
// Order of blocking-pop effects that became ready in the same loop turn.
//
// Redis serves a chain of blocked clients in one event: LPUSH src serves a
// BLMOVE src dst, whose push serves a BLPOP dst. It writes the replies newest
// first, so the proxy reads the BLPOP's answer before the BLMOVE's; mirrored in
// that order, the canary's LPOP would find dst empty and the LMOVE would then
// leave the element there. A move therefore runs before the pops it fed; a
// pop whose feeding move has not been answered yet waits for it
// (WorkerMirror::waitsForFeeders), so replies read in two turns are ordered too.
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/mirror/effect.h"

namespace redmirror::mirror {

// The key a blocking move pushes into (BLMOVE, BRPOPLPUSH), if `effect` is one.
// Both read the effect's key positions, found by the command table when the
// blocking command was sent.
const std::string* moveDestination(const Effect& effect);
// The keys a blocking pop effect waits on.
std::vector<std::string_view> popSources(const Effect& effect);
// The keys a write may have fed before this blocking effect was served: its pop
// sources, and the streams of an XREADGROUP (an XADD feeds them; no move does).
std::vector<std::string_view> fedKeys(const Effect& effect);
// Reorders `sessions` (those with ready effects this turn) so that a session
// whose next effect is a move comes before those whose next effect pops from
// its destination; otherwise the order is kept (in a cycle, the one blocked first).
void orderBlockingPops(std::vector<SessionMirror*>& sessions);

}  // namespace redmirror::mirror
