// Which commands may be mirrored: the built-in never-list, then the operator's
// overrides (the YAML `policy:` section).
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "redmirror/mirror/command_table.h"
#include "redmirror/resp/ascii.h"

namespace redmirror::mirror {
namespace {

using resp::equalsIgnoreCase;
using resp::lowercase;

struct NeverEntry {
  std::string_view name;
  std::string_view reason;
};
constexpr std::string_view kCredentials = "credentials and connection state: the canary link authenticates itself";
constexpr std::string_view kConnection = "connection state: not an effect on the data";
constexpr std::string_view kServer = "server administration";
constexpr std::string_view kReplication = "replication";
constexpr std::string_view kCluster = "cluster";
constexpr std::string_view kPubsub = "pub/sub: a canary must not talk to its own subscribers";
constexpr std::string_view kTransaction = "transactions are mirrored as units by the session";
constexpr std::string_view kWatch = "WATCH state belongs to the client's own connection";
constexpr std::string_view kKeyspace = "result depends on the whole keyspace; a sampled canary holds a subset";
constexpr std::string_view kServerSpecific = "server-specific output";
constexpr std::string_view kSelect = "the canary link inserts SELECT itself";
constexpr std::string_view kWait = "waits for the primary's own replicas";

constexpr NeverEntry kNever[] = {
    {"auth", kCredentials},         {"hello", kCredentials},        {"acl", kServer},
    {"config", kServer},            {"debug", kServer},             {"monitor", kServer},
    {"shutdown", kServer},          {"client", kConnection},        {"save", kServer},
    {"bgsave", kServer},            {"bgrewriteaof", kServer},      {"replicaof", kReplication},
    {"slaveof", kReplication},      {"sync", kReplication},         {"psync", kReplication},
    {"replconf", kReplication},     {"failover", kReplication},     {"cluster", kCluster},
    {"readonly", kCluster},         {"readwrite", kCluster},        {"asking", kCluster},
    {"migrate", kCluster},          {"restore-asking", kCluster},   {"module", kServer},
    {"slowlog", kServer},           {"latency", kServer},           {"memory", kServer},
    {"info", kServerSpecific},      {"role", kServerSpecific},      {"command", kServerSpecific},
    {"wait", kWait},                {"waitaof", kWait},             {"watch", kWatch},
    {"unwatch", kWatch},            {"subscribe", kPubsub},         {"unsubscribe", kPubsub},
    {"psubscribe", kPubsub},        {"punsubscribe", kPubsub},      {"ssubscribe", kPubsub},
    {"sunsubscribe", kPubsub},      {"publish", kPubsub},           {"spublish", kPubsub},
    {"pubsub", kPubsub},            {"quit", kConnection},          {"reset", kConnection},
    {"select", kSelect},            {"multi", kTransaction},        {"exec", kTransaction},
    {"discard", kTransaction},      {"keys", kKeyspace},            {"scan", kKeyspace},
    {"dbsize", kKeyspace},          {"randomkey", kKeyspace},
};

const NeverEntry* builtinNever(std::string_view name) {
  for (const auto& entry : kNever) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace

void CommandTable::applyPolicy(const std::map<std::string, Policy>& overrides) {
  std::map<std::string, Policy> normalized;
  for (const auto& [name, policy] : overrides) normalized[lowercase(name)] = policy;
  overrides_ = std::move(normalized);

  for (auto& [name, info] : commands_) {
    info.policy = Policy::kMirror;
    info.policyReason.clear();
    const size_t bar = name.find('|');
    const std::string_view container = bar == std::string::npos ? std::string_view(name)
                                                                 : std::string_view(name).substr(0, bar);
    const NeverEntry* never = builtinNever(name);
    if (never == nullptr) never = builtinNever(container);
    if (never != nullptr) {
      info.policy = Policy::kNever;
      info.policyReason = never->reason;
    } else if (info.flags & kFlagAdmin) {
      info.policy = Policy::kNever;
      info.policyReason = "admin command";
    } else if ((info.flags & kFlagMovableKeys) && info.keyRule == KeyRule::kNone) {
      info.policy = Policy::kNever;
      info.policyReason = "movable keys with no known rule";
    }
    auto it = overrides_.find(name);
    if (it == overrides_.end() && bar != std::string::npos) it = overrides_.find(std::string(container));
    if (it != overrides_.end()) {
      info.policy = it->second;
      info.policyReason = "configured";
    }
    info.compareRules = diff::rulesFor(info.name, info.nondeterministicOutputOrder, info.nondeterministicOutput,
                                       info.policy == Policy::kTypeOnly);
    info.compareRules.command = {};  // a view into this table would dangle in a copy
    info.singleKey = info.keyRule == KeyRule::kRange && info.firstKey == 1 && info.lastKey == 1 &&
                     info.policy != Policy::kNever && !info.isBlocking() && !info.wholeKeyspace &&
                     info.special == Special::kNone;
  }
  buildIndex();
}

bool parsePolicy(std::string_view text, Policy& out) {
  if (equalsIgnoreCase(text, "mirror")) {
    out = Policy::kMirror;
  } else if (equalsIgnoreCase(text, "never")) {
    out = Policy::kNever;
  } else if (equalsIgnoreCase(text, "type_only")) {
    out = Policy::kTypeOnly;
  } else {
    return false;
  }
  return true;
}

}  // namespace redmirror::mirror
