#pragma once
// Shared by the files of the command table (src/mirror/command_*.cpp) only, not
// a public header.
#include "redmirror/mirror/command_table.h"

namespace redmirror::mirror::detail {

// Derives what the name says beyond COMMAND's answer: the key rule, whole-keyspace
// writes, overwrites, the commands the mirror treats specially and the
// hard-coded tips (set, never cleared: a server's own tip stays). Every loader
// calls it on each command it loads, once the name and key positions are set.
void deriveFromName(CommandInfo& info);

}  // namespace redmirror::mirror::detail
