// The table itself: its lookup index and how two tables differ. Loading it is
// command_reply.cpp (COMMAND) and command_builtin.cpp, what a name implies
// command_names.cpp, the policy command_policy.cpp, the keys command_keys.cpp.
#include "redmirror/mirror/command_table.h"

#include <algorithm>
#include <cstring>

namespace redmirror::mirror {

uint64_t CommandTable::headOf(std::string_view name) {
  uint64_t head = 0;
  std::memcpy(&head, name.data(), std::min(name.size(), sizeof head));
  return head;
}

void CommandTable::buildIndex() {
  size_t capacity = 16;
  int bits = 4;
  while (capacity < commands_.size() * 2) {
    capacity *= 2;
    ++bits;
  }
  indexShift_ = 64 - bits;
  index_.assign(capacity, IndexSlot{});
  for (const auto& [name, info] : commands_) {
    const uint64_t head = headOf(name);
    size_t i = slotOf(head, name.size());
    while (index_[i].info != nullptr) i = (i + 1) & (capacity - 1);
    index_[i] = IndexSlot{head, static_cast<uint32_t>(name.size()), &info};
  }
}

const CommandInfo* CommandTable::find(std::string_view lowercaseName) const {
  if (index_.empty()) return nullptr;
  return lookup(headOf(lowercaseName), lowercaseName);
}

std::vector<std::string> CommandTable::differences(const CommandTable& other) const {
  std::vector<std::string> lines;
  for (const auto& [name, mine] : commands_) {
    auto theirs = other.commands_.find(name);
    if (theirs == other.commands_.end()) {
      lines.push_back("removed: " + name);
      continue;
    }
    const CommandInfo& info = theirs->second;
    std::string change;
    if (info.arity != mine.arity) {
      change += " arity " + std::to_string(mine.arity) + " -> " + std::to_string(info.arity);
    }
    if (info.flags != mine.flags) change += " flags";
    if (info.firstKey != mine.firstKey || info.lastKey != mine.lastKey || info.step != mine.step) {
      change += " keys " + std::to_string(mine.firstKey) + "," + std::to_string(mine.lastKey) + "," +
                std::to_string(mine.step) + " -> " + std::to_string(info.firstKey) + "," +
                std::to_string(info.lastKey) + "," + std::to_string(info.step);
    }
    if (!change.empty()) lines.push_back("changed: " + name + change);
  }
  for (const auto& [name, info] : other.commands_) {
    if (commands_.count(name) == 0) lines.push_back("added: " + name);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace redmirror::mirror
