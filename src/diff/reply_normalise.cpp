#include "reply_normalise.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "value_kind.h"

namespace redmirror::diff::detail {

namespace {

// Where the value of `key` is in a flattened map (RESP3 map, or a RESP2 array
// of pairs): its index, or 0 (a value is never at index 0).
size_t indexOfKey(const Value& entry, std::string_view key) {
  for (size_t i = 0; i + 1 < entry.elements.size(); i += 2) {
    if (kindOf(entry.elements[i]) == Kind::kString && stringOf(entry.elements[i]) == key) return i + 1;
  }
  return 0;
}

}  // namespace

void clearIdleTimes(Value& reply) {
  for (Value& entry : reply.elements) {
    if (entry.elements.size() == 4 && entry.elements[0].type == '$' && entry.elements[1].type == '$' &&
        entry.elements[2].type == ':') {
      entry.elements[2].integer = 0;
    }
  }
}

void sortLibraryFunctions(Value& reply) {
  for (Value& library : reply.elements) {
    if (!library.isAggregate()) continue;
    const size_t at = indexOfKey(library, "functions");
    if (at == 0 || !library.elements[at].isAggregate()) continue;
    auto nameOf = [](const Value& function) -> std::string_view {
      const size_t name = function.isAggregate() ? indexOfKey(function, "name") : 0;
      return name != 0 && kindOf(function.elements[name]) == Kind::kString ? stringOf(function.elements[name])
                                                                           : std::string_view();
    };
    std::vector<Value>& functions = library.elements[at].elements;
    std::stable_sort(functions.begin(), functions.end(),
                     [&](const Value& a, const Value& b) { return nameOf(a) < nameOf(b); });
  }
}

}  // namespace redmirror::diff::detail
