#include "redmirror/mirror/effect_builder.h"

#include <algorithm>
#include <charconv>

#include "redmirror/resp/ascii.h"

namespace redmirror::mirror {

namespace {

using resp::equalsIgnoreCase;

// "1526919030474-55", "1526919030474" (the sequence is optional in XCLAIM).
bool isStreamId(std::string_view text) {
  const size_t dash = text.find('-');
  auto digits = [](std::string_view part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return dash == std::string_view::npos ? digits(text) : digits(text.substr(0, dash)) && digits(text.substr(dash + 1));
}

}  // namespace

// For XAUTOCLAIM, the XCLAIM also drops the deleted entries it removed from the
// PEL; whatever the idle times on the canary.
std::vector<std::string_view> claimEffect(const std::vector<std::string>& args, const resp::Value& reply) {
  std::vector<std::string_view> command;
  if (args.size() < 6 || !reply.isAggregate()) return command;
  const bool autoclaim = equalsIgnoreCase(args[0], "xautoclaim");
  bool justId = false;
  for (size_t i = 5; i < args.size(); ++i) justId = justId || equalsIgnoreCase(args[i], "justid");
  command = {"XCLAIM", args[1], args[2], args[3], "0"};
  const size_t before = command.size();
  auto addIds = [&](const resp::Value& list) {
    for (const resp::Value& item : list.elements) {
      if (item.type == '$' || item.type == '+') {
        command.push_back(item.text);  // JUSTID, or a deleted ID
      } else if (item.isAggregate() && !item.elements.empty()) {
        command.push_back(item.elements[0].text);  // [id, fields]
      }
    }
  };
  if (autoclaim) {
    // [next-start, claimed, deleted]
    if (reply.elements.size() < 2 || !reply.elements[1].isAggregate()) return {};
    addIds(reply.elements[1]);
    if (reply.elements.size() > 2 && reply.elements[2].isAggregate()) addIds(reply.elements[2]);
    if (command.size() == before) return {};
    if (justId) command.push_back("JUSTID");
    return command;
  }
  addIds(reply);
  if (command.size() == before) return {};
  // The options as sent (IDLE, TIME, RETRYCOUNT, FORCE, JUSTID, LASTID), after the IDs.
  size_t options = 5;
  while (options < args.size() && isStreamId(args[options])) ++options;
  command.insert(command.end(), args.begin() + static_cast<std::ptrdiff_t>(options), args.end());
  return command;
}


bool buildEffectCommand(Effect::Kind kind, const std::vector<std::string>& args, size_t idIndex,
                        const resp::Value& reply, EffectCommand& out) {
  const resp::Value& value = reply;
  std::vector<std::string_view>& command = out.command;
  std::vector<std::string_view>& keys = out.keys;
  std::string& countText = out.countText;
  command.clear();
  keys.clear();
  const std::string_view name = args.empty() ? std::string_view() : std::string_view(args[0]);

  if (kind == Effect::Kind::kXadd) {
    // The ID the primary chose, so that both streams hold the same entries.
    if (value.type != '$' || idIndex == 0 || idIndex >= args.size()) return false;
    command.assign(args.begin(), args.end());
    command[0] = "XADD";
    command[idIndex] = value.text;
    return true;
  }
  if (kind == Effect::Kind::kClaim) {
    command = claimEffect(args, value);
    return !command.empty();
  }
  if (kind == Effect::Kind::kSpop) {
    if (args.size() < 2) return false;
    command = {"SREM", args[1]};
    if (value.type == '$') {
      command.push_back(value.text);
    } else if (value.isAggregate()) {
      for (const resp::Value& member : value.elements) command.push_back(member.text);
    }
    return command.size() >= 3;
  }

  // Blocking pops: the non-blocking command with the same effect, as Redis's
  // replication stream carries it.
  if ((name == "blpop" || name == "brpop") && value.isAggregate() && value.elements.size() == 2) {
    command = {name == "blpop" ? "LPOP" : "RPOP", value.elements[0].text};
    keys = {value.elements[0].text};
  } else if ((name == "bzpopmin" || name == "bzpopmax") && value.isAggregate() &&
             value.elements.size() == 3) {
    // The member the primary popped, removed by name.
    command = {"ZREM", value.elements[0].text, value.elements[1].text};
    keys = {value.elements[0].text};
  } else if (name == "brpoplpush" && args.size() == 4) {
    command = {"RPOPLPUSH", args[1], args[2]};
    keys = {args[1], args[2]};
  } else if (name == "blmove" && args.size() == 6) {
    command = {"LMOVE", args[1], args[2], args[3], args[4]};
    keys = {args[1], args[2]};
  } else if ((name == "blmpop" || name == "bzmpop") && value.isAggregate() &&
             value.elements.size() == 2 && value.elements[1].isAggregate()) {
    const resp::Value& popped = value.elements[1];
    const std::string& key = value.elements[0].text;
    keys = {key};
    if (name == "blmpop") {
      // BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]
      size_t numkeys = 0;
      std::from_chars(args.size() > 2 ? args[2].data() : nullptr,
                      args.size() > 2 ? args[2].data() + args[2].size() : nullptr, numkeys);
      const size_t where = 3 + numkeys;
      const bool left = where < args.size() && equalsIgnoreCase(args[where], "left");
      countText = std::to_string(popped.elements.size());
      command = {left ? "LPOP" : "RPOP", key, countText};
    } else {
      // The members popped, removed by name: the same effect whatever the order.
      command = {"ZREM", key};
      for (const resp::Value& pair : popped.elements) {
        if (pair.isAggregate() && !pair.elements.empty()) command.push_back(pair.elements[0].text);
      }
      if (command.size() < 3) return false;
    }
  } else if (name == "xreadgroup" && value.isAggregate() && !value.elements.empty()) {
    // The same read without BLOCK: delivers the same entries to the consumer on
    // a canary with the same stream, and updates its PEL and last-delivered ID.
    for (size_t i = 0; i < args.size(); ++i) {
      if (equalsIgnoreCase(args[i], "block") && i + 1 < args.size()) {
        ++i;
        continue;
      }
      command.push_back(args[i]);
    }
    command[0] = "XREADGROUP";
    size_t streams = 0;
    while (streams < command.size() && !equalsIgnoreCase(command[streams], "streams")) ++streams;
    const size_t count = streams < command.size() ? (command.size() - streams - 1) / 2 : 0;
    for (size_t i = 0; i < count; ++i) keys.push_back(command[streams + 1 + i]);
    if (keys.empty()) return false;
  } else {
    return false;
  }
  return true;
}

}  // namespace redmirror::mirror
