#pragma once
// The command that gives a canary the effect the primary's reply shows, as
// Redis's replication stream carries it: SPOP as SREM of the members popped,
// XADD * with the ID the primary chose, XCLAIM/XAUTOCLAIM as XCLAIM of exactly
// the IDs claimed (min-idle-time 0), blocking pops as their non-blocking pop
// (BLPOP -> LPOP of the key served, BZPOPMIN -> ZREM of the member popped,
// BLMOVE -> LMOVE, BLMPOP -> LPOP/RPOP key count, XREADGROUP ... BLOCK without
// BLOCK). Pure: no sockets, no state; unit-tested on its own.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/mirror/effect.h"
#include "redmirror/resp/value.h"

namespace redmirror::mirror {

// Views into the effect's arguments, the reply and countText: keep `args`,
// the reply and this object (not a copy: countText is viewed) while it is used.
struct EffectCommand {
  std::vector<std::string_view> command;  // the command to mirror
  std::vector<std::string_view> keys;     // the keys it touches (blocking pops: for sampling)
  std::string countText;                  // a count the command refers to
  EffectCommand() = default;
  EffectCommand(const EffectCommand&) = delete;
  EffectCommand& operator=(const EffectCommand&) = delete;
};

// `kind` kSpop, kXadd, kClaim or kBlockingPop; `args` the command as sent
// (args[0] lowercase); `idIndex` XADD's "*" position; `reply` the primary's
// parsed, non-null reply. False when there is nothing to mirror.
bool buildEffectCommand(Effect::Kind kind, const std::vector<std::string>& args, size_t idIndex,
                        const resp::Value& reply, EffectCommand& out);

// XCLAIM key group consumer min-idle id... [options] or XAUTOCLAIM key group
// consumer min-idle start [COUNT n] [JUSTID], and the primary's reply: the
// XCLAIM that claims exactly what the primary claimed. Empty when nothing was.
std::vector<std::string_view> claimEffect(const std::vector<std::string>& args, const resp::Value& reply);

}  // namespace redmirror::mirror
