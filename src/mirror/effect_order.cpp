#include "redmirror/mirror/effect_order.h"

#include <cstdint>
#include <unordered_set>

namespace redmirror::mirror {

namespace {
bool isMove(const Effect& effect) {
  return effect.kind == Effect::Kind::kBlockingPop && effect.keys.size() == 2 &&
         (effect.args[0] == "blmove" || effect.args[0] == "brpoplpush");
}
}  // namespace

const std::string* moveDestination(const Effect& effect) {
  return isMove(effect) ? &effect.args[effect.keys[1]] : nullptr;
}

std::vector<std::string_view> popSources(const Effect& effect) {
  std::vector<std::string_view> keys;
  // Stream group reads are blocking effects too, but nothing moves into a stream.
  if (effect.kind != Effect::Kind::kBlockingPop || effect.args.empty() || effect.args[0] == "xreadgroup") {
    return keys;
  }
  // A move's second key is where it pushes; every other pop's keys are sources.
  const size_t count = isMove(effect) ? 1 : effect.keys.size();
  for (size_t i = 0; i < count; ++i) keys.emplace_back(effect.args[effect.keys[i]]);
  return keys;
}

std::vector<std::string_view> fedKeys(const Effect& effect) {
  std::vector<std::string_view> keys = popSources(effect);
  if (effect.kind == Effect::Kind::kBlockingPop && !effect.args.empty() && effect.args[0] == "xreadgroup") {
    for (uint32_t position : effect.keys) {
      if (position < effect.args.size()) keys.emplace_back(effect.args[position]);
    }
  }
  return keys;
}

void orderBlockingPops(std::vector<SessionMirror*>& sessions) {
  auto front = [](const SessionMirror* session) -> const Effect* {
    if (session->effects.empty() || !session->effects.front().ready) return nullptr;
    const Effect& effect = session->effects.front();
    return effect.kind == Effect::Kind::kBlockingPop ? &effect : nullptr;
  };
  std::unordered_multiset<std::string_view> destinations;  // of the moves not placed yet
  for (const SessionMirror* session : sessions) {
    if (const Effect* effect = front(session)) {
      if (const std::string* destination = moveDestination(*effect)) destinations.insert(*destination);
    }
  }
  if (destinations.empty()) return;
  std::vector<SessionMirror*> remaining = std::move(sessions);
  sessions.clear();
  while (!remaining.empty()) {
    // The first session that no other unplaced move feeds. In a cycle (circular
    // BRPOPLPUSH), the client blocked first: Redis serves a key's clients in
    // the order they blocked, and the push that starts the chain reaches the
    // first of them.
    size_t pick = SIZE_MAX;
    for (size_t i = 0; i < remaining.size(); ++i) {
      const Effect* effect = front(remaining[i]);
      bool fed = false;
      if (effect != nullptr) {
        const std::string* own = moveDestination(*effect);
        for (std::string_view key : popSources(*effect)) {
          const size_t feeding = destinations.count(key) - (own != nullptr && *own == key ? 1 : 0);
          fed = fed || feeding > 0;
        }
      }
      if (!fed) {
        pick = i;
        break;
      }
    }
    if (pick == SIZE_MAX) {
      pick = 0;
      for (size_t i = 1; i < remaining.size(); ++i) {
        const Effect* best = front(remaining[pick]);
        const Effect* effect = front(remaining[i]);
        if (effect != nullptr && (best == nullptr || effect->blockedOrder < best->blockedOrder)) pick = i;
      }
    }
    if (const Effect* effect = front(remaining[pick])) {
      if (const std::string* destination = moveDestination(*effect)) {
        destinations.erase(destinations.find(*destination));
      }
    }
    sessions.push_back(remaining[pick]);
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(pick));
  }
}

}  // namespace redmirror::mirror
