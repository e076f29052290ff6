#pragma once
// The pre-optimisation comparator (string canonical keys, sorted), frozen for
// differential tests: diff::compare must give the same outcome and detail.
#include "redmirror/diff/comparator.h"

namespace redmirror::diff::reference {

Comparison compare(const CompareRules& rules, const resp::Value& primary,
                   const resp::Value& canary);

}  // namespace redmirror::diff::reference
