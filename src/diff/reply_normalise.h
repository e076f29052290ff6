#pragma once
// Shared by the files of the comparator (src/diff) only, not a public header:
// rewrites of a reply's parts that legitimately differ between two servers,
// applied to copies of both replies before they are compared.
#include "redmirror/resp/value.h"

namespace redmirror::diff::detail {

// XPENDING's extended form lists [id, consumer, idle-ms, deliveries]: the idle
// time is when the entry was delivered on each server's own clock. Sets every
// such entry's idle time to 0; other replies are left alone.
void clearIdleTimes(resp::Value& reply);

// FUNCTION LIST: a library lists its functions in the order of a dict, which
// differs between servers (the libraries themselves are compared as a set).
// Sorts each library's functions by name; other replies are left alone.
void sortLibraryFunctions(resp::Value& reply);

}  // namespace redmirror::diff::detail
