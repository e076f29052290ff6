#include "redmirror/control/audit_trail.h"

#include <spdlog/spdlog.h>

namespace redmirror::control {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool isAuditedCommand(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  const std::string command = lower(args[0]);
  if (command == "reset") return true;
  if (args.size() < 2) return false;
  const std::string sub = lower(args[1]);
  if (command == "mirror") return sub == "set" || sub == "pause" || sub == "resume";
  if (command == "canary") return sub == "add" || sub == "remove";
  return false;
}

AuditTrail::AuditTrail(AuditLog& log, Clock clock) : log_(log), clock_(std::move(clock)) {}

AuditTrail::Scope::Scope(Scope&& other) noexcept : trail_(other.trail_) { other.trail_ = nullptr; }

AuditTrail::Scope::~Scope() {
  if (trail_ != nullptr) trail_->close("abandoned");
}

void AuditTrail::Scope::finish(const std::string& result) {
  if (trail_ == nullptr) return;
  AuditTrail* trail = trail_;
  trail_ = nullptr;
  trail->close(result);
}

AuditTrail::Scope AuditTrail::open(AdminPeer peer, std::vector<std::string> command) {
  if (open_) close("abandoned");  // a scope left open would misattribute the next change
  open_ = true;
  changed_ = false;
  peer_ = std::move(peer);
  command_ = std::move(command);
  return Scope(this);
}

void AuditTrail::close(const std::string& result) {
  if (!open_) return;
  open_ = false;
  if (!changed_) recordEvent(peer_, std::move(command_), result);
  command_.clear();
}

void AuditTrail::recordEvent(const AdminPeer& peer, std::vector<std::string> command, const std::string& result) {
  AuditRecord record;
  record.time = clock_();
  record.peer = peer;
  record.command = std::move(command);
  record.result = result;
  const std::string error = log_.append(record);
  if (!error.empty()) {
    spdlog::error("audit log: cannot record '{}' by {}: {}", result, peer.describe(), error);
  }
}

std::string AuditTrail::recordChange(const nlohmann::ordered_json& before, const nlohmann::ordered_json& after) {
  AuditRecord record;
  record.time = clock_();
  if (open_) {
    record.peer = peer_;
    record.command = command_;
  } else {
    // A change outside any command: still recorded, attributed to the proxy.
    record.peer = AdminPeer::signal("internal");
  }
  record.before = before;
  record.after = after;
  record.result = "ok";
  std::string error = log_.append(record);
  if (!error.empty()) {
    spdlog::error("audit log: {}; the change by {} is refused", error, record.peer.describe());
    return "the audit log cannot be written (" + error + "), nothing changed";
  }
  if (open_) changed_ = true;
  return "";
}

}  // namespace redmirror::control
