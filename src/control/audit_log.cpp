#include "redmirror/control/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace redmirror::control {

namespace {

constexpr const char* kRedacted = "(redacted)";

bool equalsIgnoringCase(std::string_view text, std::string_view lowerWord) {
  if (text.size() != lowerWord.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lowerWord[i]) return false;
  }
  return true;
}

std::string rfc3339(std::chrono::system_clock::time_point time) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[96];  // room for any int the format could meet (-Wformat-truncation)
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms % 1000));
  return text;
}

nlohmann::ordered_json peerJson(const AdminPeer& peer) {
  nlohmann::ordered_json out;
  switch (peer.transport) {
    case AdminPeer::Transport::kUnix:
      out["transport"] = "unix";
      if (peer.hasCredentials) {
        out["uid"] = peer.uid;
        out["gid"] = peer.gid;
        out["pid"] = peer.pid;
      }
      break;
    case AdminPeer::Transport::kTcp:
      out["transport"] = "tcp";
      out["address"] = peer.address;
      break;
    case AdminPeer::Transport::kSignal:
      out["transport"] = "signal";
      out["signal"] = peer.address;
      break;
  }
  return out;
}

std::string errnoText(int err) { return std::strerror(err); }

// The directory holding `path`, to fsync after the file was created.
std::string directoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::vector<std::string> redactCommand(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  const size_t count = std::min(args.size(), kMaxRecordedArgs);
  out.reserve(count + 1);
  const bool isAuth = !args.empty() && equalsIgnoringCase(args[0], "auth");
  const bool isHello = !args.empty() && equalsIgnoringCase(args[0], "hello");
  size_t secretsLeft = 0;  // HELLO ... AUTH <user> <password>
  for (size_t i = 0; i < count; ++i) {
    if ((isAuth && i > 0) || secretsLeft > 0) {
      out.emplace_back(kRedacted);
      if (secretsLeft > 0) --secretsLeft;
      continue;
    }
    if (isHello && equalsIgnoringCase(args[i], "auth")) secretsLeft = 2;
    if (args[i].size() > kMaxRecordedArgBytes) {
      out.push_back(args[i].substr(0, kMaxRecordedArgBytes) + "...");
    } else {
      out.push_back(args[i]);
    }
  }
  if (args.size() > count) out.push_back("(" + std::to_string(args.size() - count) + " more arguments)");
  return out;
}

std::string auditLine(const AuditRecord& record) {
  nlohmann::ordered_json line;
  line["time"] = rfc3339(record.time);
  line["peer"] = peerJson(record.peer);
  line["command"] = redactCommand(record.command);
  line["before"] = record.before;
  line["after"] = record.after;
  line["result"] = record.result;
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

AuditLog::AuditLog(std::string path) : path_(std::move(path)) {}

std::string AuditLog::checkWritable() const {
  if (path_.empty()) return "";
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot open " + path_ + " for appending: " + errnoText(errno);
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) return path_ + " is not a regular file";
  return "";
}

// Opened for each record: a record is rare, and a file moved away by log
// rotation is then simply created again.
std::string AuditLog::writeLine(const std::string& line) const {
  struct stat before {};
  const bool existed = ::stat(path_.c_str(), &before) == 0;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot open " + path_ + ": " + errnoText(errno);
  const off_t start = ::lseek(fd, 0, SEEK_END);
  std::string error;
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + path_ + ": " + errnoText(n < 0 ? errno : EIO);
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (error.empty() && ::fsync(fd) != 0) error = "cannot fsync " + path_ + ": " + errnoText(errno);
  if (!error.empty() && start >= 0) {
    // Nothing half-written stays, and no record of a change that is refused.
    if (::ftruncate(fd, start) == 0) ::fsync(fd);
  }
  ::close(fd);
  if (error.empty() && !existed) {
    // The new file's directory entry must be durable too.
    const int dir = ::open(directoryOf(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
  return error;
}

std::string AuditLog::append(const AuditRecord& record) {
  std::string line = auditLine(record);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!path_.empty()) {
    line += '\n';
    std::string error = writeLine(line);
    if (!error.empty()) return error;
    line.pop_back();
  }
  recentBytes_ += line.size();
  recent_.push_back(std::move(line));
  while (recent_.size() > kMaxRecords || (recentBytes_ > kMaxMemoryBytes && recent_.size() > 1)) {
    recentBytes_ -= recent_.front().size();
    recent_.pop_front();
  }
  return "";
}

std::string AuditLog::recentJson(size_t count) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t first = recent_.size() > count ? recent_.size() - count : 0;
  std::string out = "[";
  for (size_t i = first; i < recent_.size(); ++i) {
    if (i != first) out += ',';
    out += recent_[i];
  }
  out += ']';
  return out;
}

}  // namespace redmirror::control
