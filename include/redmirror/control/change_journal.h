#pragma once
// Where a change to the running configuration is recorded before it takes
// effect. The one who makes the change (MirrorManager) calls recordChange with
// the state before and after, and makes the change only when it returns "":
// nothing changes unrecorded.
#include <nlohmann/json.hpp>
#include <string>

namespace redmirror::control {

class ChangeJournal {
 public:
  virtual ~ChangeJournal() = default;
  // "" once the change is durably recorded; else why not (the change is then refused).
  virtual std::string recordChange(const nlohmann::ordered_json& before, const nlohmann::ordered_json& after) = 0;
};

}  // namespace redmirror::control
