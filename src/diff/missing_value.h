#pragma once
// Shared by the files of the comparator (src/diff) only, not a public header:
// telling a canary that lacks a value the primary holds (a lost write, or a
// key from before mirroring began) from one holding another value.
#include "redmirror/diff/comparator.h"
#include "redmirror/resp/value.h"

namespace redmirror::diff::detail {

// Why the canary has no value where the primary has one ("canary null",
// "canary 0", "canary has no key", ...), or nullptr when it is not missing.
const char* missingReason(const CompareRules& rules, const resp::Value& p, const resp::Value& c);

}  // namespace redmirror::diff::detail
