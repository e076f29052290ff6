#pragma once
// Bounds shared by the RESP framers, chosen to match Redis's own defaults so that
// anything Redis accepts we can follow, and nothing a peer sends grows our memory
// beyond a fixed amount per session.
#include <cstddef>
#include <cstdint>

namespace redmirror::resp {

// Redis PROTO_INLINE_MAX_SIZE: longest inline request line and longest header line.
inline constexpr size_t kMaxInlineLength = 64 * 1024;
// Redis proto-max-bulk-len default.
inline constexpr int64_t kMaxBulkLength = 512LL * 1024 * 1024;
// Redis 7 refuses multibulk counts above INT_MAX.
inline constexpr int64_t kMaxMultibulkLength = 2147483647LL;
// Digits of a length line: Redis's LONG_STR_SIZE (21) includes the terminator.
inline constexpr size_t kMaxNumberLength = 20;
// Argument positions remembered per command frame; a command with more arguments
// is still framed and forwarded, only marked argsTruncated.
inline constexpr size_t kMaxArgRefs = 4096;
// Nesting depth of replies. Redis has no limit of its own: a Lua script that
// returns a self-referencing table nests until Lua's stack gives up (~200).
inline constexpr size_t kMaxReplyDepth = 1024;
// Element count of one reply aggregate (no allocation is ever sized by it).
inline constexpr int64_t kMaxAggregateLength = 2147483647LL;
// Bytes of an argument or reply atom captured by value for dispatch decisions.
inline constexpr size_t kCaptureBytes = 32;

}  // namespace redmirror::resp
