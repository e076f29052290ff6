// The audit log's records (JSON, redaction), its file (one line per record, a
// record that cannot be written is not kept) and memory (AUDIT n), and the
// trail that binds a change to the command that asked for it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "redmirror/control/audit_log.h"
#include "redmirror/control/audit_trail.h"

namespace redmirror::control {
namespace {

using nlohmann::json;

// 2026-12-05T10:11:12.345Z
const std::chrono::system_clock::time_point kTime{std::chrono::milliseconds(1796465472345LL)};

AdminPeer unixPeerOf(uint32_t uid) {
  AdminPeer peer;
  peer.transport = AdminPeer::Transport::kUnix;
  peer.hasCredentials = true;
  peer.uid = uid;
  peer.gid = uid + 1;
  peer.pid = 4242;
  return peer;
}

std::vector<std::string> linesOf(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

class TempDirectory {
 public:
  TempDirectory() {
    char pattern[] = "/tmp/redmirror_audit_XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDirectory() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(AuditRecordTest, LineHasEveryFieldInOrder) {
  AuditRecord record;
  record.time = kTime;
  record.peer = unixPeerOf(1000);
  record.command = {"MIRROR", "SET", "c1", "25"};
  record.before = {{"canary", "c1"}, {"percent", 10.0}};
  record.after = {{"canary", "c1"}, {"percent", 25.0}};
  record.result = "ok";
  EXPECT_EQ(auditLine(record),
            R"({"time":"2026-12-05T10:11:12.345Z","peer":{"transport":"unix","uid":1000,"gid":1001,"pid":4242},)"
            R"("command":["MIRROR","SET","c1","25"],"before":{"canary":"c1","percent":10.0},)"
            R"("after":{"canary":"c1","percent":25.0},"result":"ok"})");
}

TEST(AuditRecordTest, PeersOfEachTransport) {
  AuditRecord record;
  record.time = kTime;
  record.peer.transport = AdminPeer::Transport::kTcp;
  record.peer.address = "127.0.0.1:5000";
  EXPECT_EQ(json::parse(auditLine(record))["peer"], json::parse(R"({"transport":"tcp","address":"127.0.0.1:5000"})"));
  record.peer = AdminPeer::signal("SIGHUP");
  EXPECT_EQ(json::parse(auditLine(record))["peer"], json::parse(R"({"transport":"signal","signal":"SIGHUP"})"));
  record.peer = AdminPeer{};  // a Unix peer whose credentials the kernel did not give
  EXPECT_EQ(json::parse(auditLine(record))["peer"], json::parse(R"({"transport":"unix"})"));
}

TEST(AuditRecordTest, SecretsAreRedacted) {
  const std::string token = "s3cret-token-value-0123456789";
  EXPECT_EQ(redactCommand({"AUTH", token}), (std::vector<std::string>{"AUTH", "(redacted)"}));
  EXPECT_EQ(redactCommand({"auth", "default", token}), (std::vector<std::string>{"auth", "(redacted)", "(redacted)"}));
  EXPECT_EQ(redactCommand({"HELLO", "3", "AUTH", "user", token, "SETNAME", "x"}),
            (std::vector<std::string>{"HELLO", "3", "AUTH", "(redacted)", "(redacted)", "SETNAME", "x"}));
  AuditRecord record;
  record.time = kTime;
  record.command = {"AUTH", token};
  record.result = "refused: wrong token";
  EXPECT_EQ(auditLine(record).find(token), std::string::npos) << auditLine(record);
  // Nothing else is redacted.
  EXPECT_EQ(redactCommand({"MIRROR", "SET", "c1", "25"}), (std::vector<std::string>{"MIRROR", "SET", "c1", "25"}));
}

TEST(AuditRecordTest, LongAndManyArgumentsAreCut) {
  const std::vector<std::string> cut = redactCommand({"CANARY", "ADD", std::string(1000, 'x'), "127.0.0.1:1"});
  ASSERT_EQ(cut.size(), 4u);
  EXPECT_EQ(cut[2], std::string(kMaxRecordedArgBytes, 'x') + "...");
  std::vector<std::string> many(40, "a");
  const std::vector<std::string> bounded = redactCommand(many);
  ASSERT_EQ(bounded.size(), kMaxRecordedArgs + 1);
  EXPECT_EQ(bounded.back(), "(24 more arguments)");
}

TEST(AuditRecordTest, InvalidUtf8DoesNotThrow) {
  AuditRecord record;
  record.time = kTime;
  record.command = {"CANARY", "ADD", "\xff\xfe", "x"};
  const json parsed = json::parse(auditLine(record), nullptr, false);
  EXPECT_FALSE(parsed.is_discarded());
}

TEST(AuditLogTest, AppendsOneLinePerRecordAndKeepsThemForAudit) {
  TempDirectory dir;
  const std::string path = dir.file("audit.jsonl");
  AuditLog log(path);
  EXPECT_EQ(log.checkWritable(), "");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (int i = 0; i < 3; ++i) {
    AuditRecord record;
    record.time = kTime;
    record.command = {"MIRROR", "SET", "c1", std::to_string(i)};
    record.result = "ok";
    ASSERT_EQ(log.append(record), "");
  }
  const std::vector<std::string> lines = linesOf(path);
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(json::parse(lines[i])["command"][3], std::to_string(i));

  const json lastTwo = json::parse(log.recentJson(2));
  ASSERT_EQ(lastTwo.size(), 2u);
  EXPECT_EQ(lastTwo[0]["command"][3], "1");
  EXPECT_EQ(lastTwo[1]["command"][3], "2");
  EXPECT_EQ(json::parse(log.recentJson(100)).size(), 3u);
  EXPECT_EQ(log.recentJson(0), "[]");
}

TEST(AuditLogTest, FileRemovedByRotationIsCreatedAgain) {
  TempDirectory dir;
  const std::string path = dir.file("audit.jsonl");
  AuditLog log(path);
  AuditRecord record;
  record.time = kTime;
  record.result = "ok";
  ASSERT_EQ(log.append(record), "");
  std::filesystem::rename(path, path + ".1");
  ASSERT_EQ(log.append(record), "");
  EXPECT_EQ(linesOf(path).size(), 1u);
  EXPECT_EQ(linesOf(path + ".1").size(), 1u);
}

TEST(AuditLogTest, RecordThatCannotBeWrittenIsNotKept) {
  TempDirectory dir;
  const std::string path = dir.file("audit.jsonl");
  AuditLog log(path);
  AuditRecord record;
  record.time = kTime;
  record.command = {"MIRROR", "SET", "c1", "1"};
  record.result = "ok";
  ASSERT_EQ(log.append(record), "");
  // Unwritable even for root: the path is now a directory.
  std::filesystem::remove(path);
  std::filesystem::create_directory(path);
  record.command[3] = "2";
  const std::string error = log.append(record);
  EXPECT_NE(error.find(path), std::string::npos) << error;
  const json kept = json::parse(log.recentJson(10));
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0]["command"][3], "1");
  EXPECT_NE(log.checkWritable(), "");
}

TEST(AuditLogTest, MemoryIsBounded) {
  AuditLog log;  // memory only
  AuditRecord record;
  record.time = kTime;
  record.result = "ok";
  for (size_t i = 0; i < AuditLog::kMaxRecords + 5; ++i) {
    record.command = {"RESET", std::to_string(i)};
    ASSERT_EQ(log.append(record), "");
  }
  const json all = json::parse(log.recentJson(1000000));
  ASSERT_EQ(all.size(), AuditLog::kMaxRecords);
  EXPECT_EQ(all[0]["command"][1], "5");
  EXPECT_EQ(all.back()["command"][1], std::to_string(AuditLog::kMaxRecords + 4));

  AuditLog big;
  record.command = {"CANARY", "ADD", std::string(200, 'n'), std::string(200, 'a')};
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(big.append(record), "");
  EXPECT_LE(big.recentJson(1000000).size(), AuditLog::kMaxMemoryBytes + 1000);
}

TEST(AuditTrailTest, ChangeIsRecordedWithItsCommandOnce) {
  AuditLog log;
  AuditTrail trail(log, [] { return kTime; });
  {
    AuditTrail::Scope scope = trail.open(unixPeerOf(7), {"MIRROR", "SET", "c1", "25"});
    EXPECT_EQ(trail.recordChange({{"percent", 10.0}}, {{"percent", 25.0}}), "");
    scope.finish("ok");
  }
  const json records = json::parse(log.recentJson(10));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["command"], json::parse(R"(["MIRROR","SET","c1","25"])"));
  EXPECT_EQ(records[0]["peer"]["uid"], 7);
  EXPECT_EQ(records[0]["before"]["percent"], 10.0);
  EXPECT_EQ(records[0]["after"]["percent"], 25.0);
  EXPECT_EQ(records[0]["result"], "ok");
}

TEST(AuditTrailTest, CommandThatChangedNothingIsRecordedWithItsResult) {
  AuditLog log;
  AuditTrail trail(log, [] { return kTime; });
  trail.open(unixPeerOf(7), {"MIRROR", "SET", "nope", "5"}).finish("error: unknown canary 'nope'");
  { AuditTrail::Scope abandoned = trail.open(unixPeerOf(7), {"RESET"}); }
  trail.recordEvent(AdminPeer::signal("SIGHUP"), {"RELOAD", "x.yaml"}, "rejected: field 'workers': expected an integer");
  const json records = json::parse(log.recentJson(10));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["result"], "error: unknown canary 'nope'");
  EXPECT_TRUE(records[0]["before"].is_null());
  EXPECT_TRUE(records[0]["after"].is_null());
  EXPECT_EQ(records[1]["result"], "abandoned");
  EXPECT_EQ(records[2]["peer"]["signal"], "SIGHUP");
}

TEST(AuditTrailTest, ChangeThatCannotBeRecordedIsRefused) {
  TempDirectory dir;
  const std::string path = dir.file("audit");
  std::filesystem::create_directory(path);  // unwritable
  AuditLog log(path);
  AuditTrail trail(log, [] { return kTime; });
  AuditTrail::Scope scope = trail.open(unixPeerOf(7), {"MIRROR", "PAUSE"});
  const std::string refusal = trail.recordChange({{"paused", false}}, {{"paused", true}});
  EXPECT_NE(refusal.find("nothing changed"), std::string::npos) << refusal;
  scope.finish("error: " + refusal);
  EXPECT_EQ(log.recentJson(10), "[]");
}

TEST(AuditTrailTest, StateChangingCommands) {
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"MIRROR", "SET", "c1", "5"}, {"mirror", "pause"}, {"Mirror", "Resume"},
                                             {"CANARY", "ADD", "c", "x"}, {"canary", "remove", "c"}, {"RESET"},
                                             {"reset", "c1"}}) {
    EXPECT_TRUE(isAuditedCommand(command)) << command[0];
  }
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"MIRROR", "GET"}, {"CANARY", "LIST"}, {"REPORT"}, {"HELP"},
                                             {"AUDIT", "2"}, {"MIRROR"}, {}}) {
    EXPECT_FALSE(isAuditedCommand(command)) << (command.empty() ? "(empty)" : command[0]);
  }
}

}  // namespace
}  // namespace redmirror::control
