// Admin command execution (MIRROR, CANARY, REPORT, RESET, AUDIT, HELP) and RESP reply encoding.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "redmirror/control/admin_server.h"
#include "redmirror/control/audit_log.h"
#include "redmirror/control/config.h"
#include "redmirror/control/stats_json.h"
#include "redmirror/net/uv_util.h"

namespace redmirror::control {
namespace {

using Json = nlohmann::ordered_json;

// Longest argument echoed back in an error message.
constexpr size_t kMaxQuoted = 64;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// An argument as shown inside '...' in an error: control bytes escaped, long
// values cut, so that the error line stays one printable line.
std::string shown(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const size_t n = text.size() < kMaxQuoted ? text.size() : kMaxQuoted;
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxQuoted) out += "...";
  return out;
}

// JSON text that never throws on invalid UTF-8 (addresses and names come from
// operators and configuration).
std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

double percentOf(uint32_t hundredths) { return hundredths / 100.0; }

// AUDIT's count: 1 or more (more than is kept means all of it).
bool parseAuditCount(std::string_view text, size_t& count) {
  if (text.empty()) return false;
  size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = std::min<size_t>(value * 10 + static_cast<size_t>(c - '0'), 1000000000);
  }
  if (value == 0) return false;
  count = value;
  return true;
}

AdminReply arityError(std::string_view command) {
  return AdminReply::error("wrong number of arguments for '" + std::string(command) + "'");
}

struct HelpLine {
  const char* usage;
  const char* description;
  bool available;
};

// DESIGN.md's admin command table, one line per command.
constexpr HelpLine kHelp[] = {
    {"MIRROR SET <canary> <percent>",
     "set the share of traffic mirrored to a canary (0-100, 0.01 steps)", true},
    {"MIRROR GET [<canary>]", "mirror percentages (JSON)", true},
    {"MIRROR PAUSE", "stop all mirroring, keep the settings", true},
    {"MIRROR RESUME", "resume mirroring with the kept settings", true},
    {"CANARY ADD <name> <host:port>", "add a canary (mirrors 0% until MIRROR SET)", true},
    {"CANARY REMOVE <name>", "remove a canary", true},
    {"CANARY LIST", "canaries with their links and counters (JSON)", true},
    {"REPORT [<canary>]", "divergence report (JSON)", true},
    {"VERDICT [<canary>]", "verdict: pending, pass, marginal or fail (JSON)", true},
    {"RESET [<canary>]", "start a new comparison window", true},
    {"STATS", "proxy statistics per worker and summed (JSON)", true},
    {"AUDIT [<n>]", "last n audit records (JSON; default 10)", true},
    {"HELP", "this list", true},
    {"QUIT", "close the connection", true},
};

std::string helpText() {
  size_t width = 0;
  for (const HelpLine& line : kHelp) width = std::max(width, std::string_view(line.usage).size());
  std::string out;
  for (const HelpLine& line : kHelp) {
    std::string usage = line.usage;
    usage.resize(width + 2, ' ');
    out += usage;
    out += line.description;
    if (!line.available) out += " (not yet available)";
    out += '\n';
  }
  return out;
}

}  // namespace

std::string AdminReply::encode() const {
  switch (kind) {
    case Kind::kBulk: {
      std::string out(1, '$');
      out += std::to_string(text.size());
      out += "\r\n";
      out += text;
      out += "\r\n";
      return out;
    }
    case Kind::kInteger: {
      std::string out(1, ':');
      out += std::to_string(integer);
      out += "\r\n";
      return out;
    }
    case Kind::kStatus:
    case Kind::kError: {
      std::string line;
      if (kind == Kind::kError) {
        // Keep an error code the text already has ("WRONGTYPE ...", "ERR ...").
        size_t code = 0;
        while (code < text.size() && text[code] >= 'A' && text[code] <= 'Z') ++code;
        const bool hasCode = code >= 2 && code < text.size() && text[code] == ' ';
        line = hasCode ? text : "ERR " + text;
      } else {
        line = text;
      }
      for (char& c : line) {
        if (c == '\r' || c == '\n') c = ' ';
      }
      return (kind == Kind::kError ? "-" : "+") + line + "\r\n";
    }
  }
  return "-ERR internal error: unknown reply kind\r\n";
}

AdminReply AdminCommands::execute(const std::vector<std::string>& args) {
  if (args.empty()) return AdminReply::error("empty command");
  const std::string command = lower(args[0]);
  try {
    if (command == "help") {
      if (args.size() != 1) return arityError("help");
      return AdminReply::bulk(helpText());
    }
    if (command == "quit") return AdminReply::ok();
    if (command == "report" || command == "reset") {
      if (args.size() > 2) return arityError(command);
      const std::string canary = args.size() == 2 ? args[1] : "";
      if (command == "reset") {
        const std::string error = mirror_.resetWindow(canary);
        return error.empty() ? AdminReply::ok() : AdminReply::error(error);
      }
      std::string json;
      const std::string error = mirror_.report(canary, json);
      return error.empty() ? AdminReply::bulk(json) : AdminReply::error(error);
    }
    if (command == "stats" || command == "verdict") return statsCommand(command, args);
    if (command == "audit") {
      if (args.size() > 2) return arityError("audit");
      if (audit_ == nullptr) return AdminReply::error("'AUDIT' is not available: no audit log");
      size_t count = AuditLog::kDefaultCount;
      if (args.size() == 2 && !parseAuditCount(args[1], count)) {
        return AdminReply::error("count must be a positive integer, got '" + shown(args[1]) + "'");
      }
      return AdminReply::bulk(audit_->recentJson(count));
    }

    if (command == "mirror") {
      if (args.size() < 2) return arityError("mirror");
      const std::string sub = lower(args[1]);
      if (sub == "set") {
        if (args.size() != 4) return arityError("mirror set");
        uint32_t hundredths = 0;
        if (!parsePercent(args[3], hundredths)) {
          return AdminReply::error(
              "percent must be a number between 0 and 100 with at most 2 decimals, got '" +
              shown(args[3]) + "'");
        }
        const std::string error = mirror_.setPercent(args[2], hundredths);
        return error.empty() ? AdminReply::ok() : AdminReply::error(error);
      }
      if (sub == "get") {
        if (args.size() > 3) return arityError("mirror get");
        const std::vector<CanaryStatus> canaries = mirror_.canaries();
        if (args.size() == 3) {
          for (const CanaryStatus& canary : canaries) {
            if (canary.name != args[2]) continue;
            Json out = Json::object();
            out["canary"] = canary.name;
            out["percent"] = percentOf(canary.percentHundredths);
            return AdminReply::bulk(dump(out));
          }
          return AdminReply::error("unknown canary '" + shown(args[2]) + "'");
        }
        Json out = Json::object();
        out["paused"] = mirror_.paused();
        Json percents = Json::object();
        for (const CanaryStatus& canary : canaries) {
          percents[canary.name] = percentOf(canary.percentHundredths);
        }
        out["canaries"] = std::move(percents);
        return AdminReply::bulk(dump(out));
      }
      if (sub == "pause" || sub == "resume") {
        if (args.size() != 2) return arityError("mirror " + sub);
        const std::string error = mirror_.setPaused(sub == "pause");
        return error.empty() ? AdminReply::ok() : AdminReply::error(error);
      }
      return AdminReply::error("unknown subcommand '" + shown(args[1]) +
                               "' for 'mirror', try HELP");
    }

    if (command == "canary") {
      if (args.size() < 2) return arityError("canary");
      const std::string sub = lower(args[1]);
      if (sub == "add") {
        if (args.size() != 4) return arityError("canary add");
        if (!validCanaryName(args[2])) {
          return AdminReply::error(
              "canary name must be 1-64 characters of A-Z a-z 0-9 _ . -, got '" + shown(args[2]) +
              "'");
        }
        std::string_view address = args[3];
        if (address.starts_with("tls://")) address.remove_prefix(6);
        std::string addressError;
        if (!net::parseHostPort(address, addressError)) {
          return AdminReply::error("invalid canary address: " + shown(addressError));
        }
        const std::string error = mirror_.addCanary(args[2], args[3]);
        return error.empty() ? AdminReply::ok() : AdminReply::error(error);
      }
      if (sub == "remove") {
        if (args.size() != 3) return arityError("canary remove");
        const std::string error = mirror_.removeCanary(args[2]);
        return error.empty() ? AdminReply::ok() : AdminReply::error(error);
      }
      if (sub == "list") {
        if (args.size() != 2) return arityError("canary list");
        Json out = Json::array();
        for (const CanaryStatus& canary : mirror_.canaries()) {
          Json item = Json::object();
          item["name"] = canary.name;
          item["address"] = canary.address;
          item["percent"] = percentOf(canary.percentHundredths);
          item["effective_percent"] = percentOf(canary.effectivePercentHundredths);
          item["queued_bytes"] = canary.queuedBytes;
          item["mirrored"] = canary.mirrored;
          item["compared"] = canary.compared;
          item["matched"] = canary.matched;
          item["diverged"] = canary.diverged;
          Json dropped = Json::object();
          for (const auto& [reason, count] : canary.dropped) dropped[reason] = count;
          item["dropped"] = std::move(dropped);
          item["links_up"] = canary.linksUp;
          item["links_total"] = canary.linksTotal;
          item["link_writes"] = canary.linkWrites;
          item["link_reads"] = canary.linkReads;
          item["reconnects"] = canary.reconnects;
          item["protocol_errors"] = canary.protocolErrors;
          item["keys_tainted"] = canary.keysTainted;
          item["auth_failures"] = canary.authFailures;
          out.push_back(std::move(item));
        }
        return AdminReply::bulk(dump(out));
      }
      return AdminReply::error("unknown subcommand '" + shown(args[1]) +
                               "' for 'canary', try HELP");
    }
  } catch (const std::exception& e) {
    return AdminReply::error(std::string("internal error: ") + e.what());
  }
  return AdminReply::error("unknown command '" + shown(args[0]) + "', try HELP");
}

AdminReply AdminCommands::statsCommand(const std::string& command, const std::vector<std::string>& args) const {
  if (stats_ == nullptr) return AdminReply::error("'" + upper(command) + "' has no statistics source");
  if (command == "stats") {
    if (args.size() != 1) return arityError("stats");
    return AdminReply::bulk(dump(statsJson(stats_->snapshot(false))));
  }
  if (args.size() > 2) return arityError("verdict");
  Json json;
  const std::string error = verdictJson(stats_->snapshot(true), args.size() == 2 ? args[1] : "", json);
  return error.empty() ? AdminReply::bulk(dump(json)) : AdminReply::error(error);
}

}  // namespace redmirror::control
