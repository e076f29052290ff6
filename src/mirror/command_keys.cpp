// Where a command's keys are among its arguments (findKeys).
#include <cstdint>
#include <string_view>
#include <vector>

#include "redmirror/mirror/command_table.h"
#include "redmirror/resp/ascii.h"

namespace redmirror::mirror {
namespace {

using resp::equalsIgnoreCase;

bool isGeoradius(std::string_view name) { return name == "georadius" || name == "georadiusbymember"; }

bool parseCount(std::string_view text, uint64_t& out) {
  // Strict, as Redis's string2ll: digits only, no sign, no leading zero.
  if (text.empty() || text.size() > 10) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  out = value;
  return true;
}

// numkeys at numkeysPos, keys from firstKeyPos on.
bool numkeysKeys(ArgReader& args, uint32_t argc, uint32_t numkeysPos, uint32_t firstKeyPos, bool allowZero,
                 std::vector<uint32_t>& positions) {
  std::string_view text;
  if (numkeysPos >= argc || !args.arg(numkeysPos, text)) return false;
  uint64_t count = 0;
  if (!parseCount(text, count)) return false;
  if (count == 0 && !allowZero) return false;
  if (firstKeyPos + count > argc) return false;
  for (uint64_t i = 0; i < count; ++i) positions.push_back(firstKeyPos + static_cast<uint32_t>(i));
  return true;
}

bool argIs(ArgReader& args, uint32_t index, std::string_view word) {
  std::string_view text;
  return args.arg(index, text) && equalsIgnoreCase(text, word);
}

}  // namespace

bool findKeys(const CommandInfo& info, ArgReader& args, std::vector<uint32_t>& positions) {
  positions.clear();
  const uint32_t argc = args.argc();
  if (argc == 0) return false;
  if (!info.acceptsArgc(argc)) return false;

  switch (info.keyRule) {
    case KeyRule::kNone:
      return true;

    case KeyRule::kRange: {
      if (info.firstKey <= 0 || info.step <= 0) return false;
      const int64_t first = info.firstKey;
      const int64_t last = info.lastKey < 0 ? static_cast<int64_t>(argc) + info.lastKey : info.lastKey;
      if (last < first || last >= static_cast<int64_t>(argc)) return false;
      // MSET k v k v ...: the arguments from the first key to the end come in whole steps.
      if (info.lastKey == -1 && info.step > 1 && (static_cast<int64_t>(argc) - first) % info.step != 0) {
        return false;
      }
      for (int64_t pos = first; pos <= last; pos += info.step) positions.push_back(static_cast<uint32_t>(pos));
      return true;
    }

    case KeyRule::kNumkeysAt2:  // EVAL script numkeys key... arg...: numkeys may be 0
      return numkeysKeys(args, argc, 2, 3, true, positions);

    case KeyRule::kNumkeysAt1:  // ZUNION numkeys key...
      return numkeysKeys(args, argc, 1, 2, false, positions);

    case KeyRule::kDestNumkeysAt2:  // ZUNIONSTORE dest numkeys key...
      if (argc < 2) return false;
      positions.push_back(1);
      if (!numkeysKeys(args, argc, 2, 3, false, positions)) {
        positions.clear();
        return false;
      }
      return true;

    case KeyRule::kNumkeysAt2Blocking:  // BLMPOP timeout numkeys key...
      return numkeysKeys(args, argc, 2, 3, false, positions);

    case KeyRule::kStreams: {
      // Redis's xreadGetKeys: options up to STREAMS, then keys and as many IDs.
      uint32_t streamsAt = 0;
      for (uint32_t i = 1; i < argc; ++i) {
        std::string_view text;
        if (!args.arg(i, text)) return false;
        if (equalsIgnoreCase(text, "block") || equalsIgnoreCase(text, "count")) {
          ++i;
        } else if (equalsIgnoreCase(text, "group")) {
          i += 2;
        } else if (equalsIgnoreCase(text, "noack")) {
          // no argument
        } else if (equalsIgnoreCase(text, "streams")) {
          streamsAt = i;
          break;
        } else {
          return false;  // syntax error
        }
      }
      if (streamsAt == 0) return false;
      const uint32_t rest = argc - streamsAt - 1;
      if (rest == 0 || rest % 2 != 0) return false;
      for (uint32_t i = 0; i < rest / 2; ++i) positions.push_back(streamsAt + 1 + i);
      return true;
    }

    case KeyRule::kSort: {
      if (argc < 2) return false;
      positions.push_back(1);
      uint32_t store = 0;
      if (isGeoradius(info.name)) {
        // Redis's georadiusGetKeys: the last STORE or STOREDIST wins.
        for (uint32_t i = 5; i < argc; ++i) {
          if ((argIs(args, i, "store") || argIs(args, i, "storedist")) && i + 1 < argc) {
            store = i + 1;
            ++i;
          }
        }
      } else {
        // Redis's sortGetKeys: skip the arguments of LIMIT, GET and BY; the last STORE wins.
        for (uint32_t i = 2; i < argc; ++i) {
          std::string_view text;
          if (!args.arg(i, text)) return false;
          if (equalsIgnoreCase(text, "limit")) {
            i += 2;
          } else if (equalsIgnoreCase(text, "get") || equalsIgnoreCase(text, "by")) {
            i += 1;
          } else if (equalsIgnoreCase(text, "store") && i + 1 < argc) {
            store = i + 1;
            i += 1;
          }
        }
      }
      if (store != 0) positions.push_back(store);
      return true;
    }
  }
  return false;
}

}  // namespace redmirror::mirror
