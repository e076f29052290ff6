#pragma once
// Redis util.c string2ll: the exact number syntax Redis accepts in length lines.
// No '+', no leading zeros (except "0" itself), no "-0", at most 20 characters.
#include <cstddef>
#include <cstdint>

#include "redmirror/resp/ascii.h"
#include "redmirror/resp/limits.h"

namespace redmirror::resp::detail {

inline bool string2ll(const char* s, size_t len, int64_t& value) {
  if (len == 0 || len > kMaxNumberLength) return false;
  if (len == 1 && s[0] == '0') {
    value = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    if (++i == len) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = static_cast<uint64_t>(s[i++] - '0');
  for (; i < len; ++i) {
    const auto d = static_cast<unsigned>(static_cast<unsigned char>(s[i]) - '0');
    if (d > 9) return false;
    if (v > UINT64_MAX / 10) return false;
    v *= 10;
    if (v > UINT64_MAX - d) return false;
    v += d;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    value = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    value = static_cast<int64_t>(v);
  }
  return true;
}

using resp::toLowerAscii;

}  // namespace redmirror::resp::detail
