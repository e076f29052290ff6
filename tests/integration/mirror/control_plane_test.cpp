// The control plane against the real binary: who may use the admin interface
// (--admin-allow-uid, the TCP listener and its token), the audit log (one
// fsync'd line per change, written before the change; a change that cannot be
// recorded is refused; AUDIT n), and SIGHUP reloads that add, re-weight and
// remove canaries while clients stay connected, or reject a bad file naming
// the field.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class ControlPlane : public MirrorTest {};

const std::string kToken = "it-admin-token-0123456789abcdef";

std::vector<nlohmann::json> auditLines(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "not a JSON line: " << line;
    lines.push_back(parsed);
  }
  return lines;
}

nlohmann::json mirrorGet(Admin& admin) {
  auto parsed = nlohmann::json::parse(admin.text({"MIRROR", "GET"}), nullptr, false);
  EXPECT_FALSE(parsed.is_discarded());
  return parsed;
}

size_t countKeys(uint16_t port, const std::string& prefix) {
  Ctx c = connectOrDie(port);
  size_t n = 0;
  for (const auto& k : keysOf(c.get(), 0)) n += k.rfind(prefix, 0) == 0;
  return n;
}

void writeKeys(redisContext* c, const std::string& prefix, int count) {
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(str(run(c, {"SET", prefix + std::to_string(i), "v"}).get()), "OK");
  }
}

std::string canaryYaml(const std::vector<std::pair<std::string, std::string>>& canaries) {
  std::string yaml = "canaries:\n";
  for (const auto& [name, rest] : canaries) yaml += "  - name: " + name + "\n" + rest;
  return yaml;
}

std::string entry(uint16_t port, const std::string& percent) {
  return "    address: 127.0.0.1:" + std::to_string(port) + "\n    percent: " + percent + "\n";
}

TEST_F(ControlPlane, AllowedUidIsServed) {
  Rig::Options options;
  options.extraArgs = {"--admin-allow-uid", std::to_string(::getuid() + 1) + "," + std::to_string(::getuid())};
  Rig s(options);
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c1", "25"}), "OK");
  EXPECT_EQ(nlohmann::json::parse(s.admin->text({"MIRROR", "GET", "c1"})).value("percent", -1.0), 25.0);
}

TEST_F(ControlPlane, UnlistedUidIsRefusedAnsweredAndAudited) {
  it::TempDir dir;
  const std::string auditPath = dir.file("audit.jsonl");
  Rig::Options options;
  options.extraArgs = {"--admin-allow-uid", std::to_string(::getuid() + 1), "--audit-log", auditPath};
  Rig s(options);
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(auditPath) ? "" : "no audit file"; }, Millis(5000))
                  .empty());
  const std::string reply = s.admin->text({"MIRROR", "SET", "c1", "0"});
  EXPECT_EQ(reply, "ERR:NOPERM uid " + std::to_string(::getuid()) +
                       " is not allowed on the admin socket (--admin-allow-uid)");

  const auto lines = auditLines(auditPath);
  ASSERT_GE(lines.size(), 1u);
  EXPECT_EQ(lines[0]["peer"]["transport"], "unix");
  EXPECT_EQ(lines[0]["peer"]["uid"], ::getuid());
  EXPECT_EQ(lines[0]["result"].get<std::string>().rfind("refused: uid ", 0), 0u) << lines[0].dump();
  for (const auto& line : lines) EXPECT_NE(line["result"], "ok") << line.dump();

  // The refused MIRROR SET c1 0 did not stop mirroring: c1 still takes every write.
  Ctx client = connectOrDie(s.proxyPort());
  writeKeys(client.get(), "still:", 20);
  EXPECT_EQ(eventually([&] { return countKeys(s.canaries[0]->port(), "still:") == 20 ? "" : "missing"; },
                       Millis(10000)),
            "");
}

TEST_F(ControlPlane, TcpAdminAnswersOnlyAnErrorUntilAuth) {
  it::TempDir dir;
  const std::string tokenPath = dir.file("token");
  std::ofstream(tokenPath) << kToken << "\n";
  ::chmod(tokenPath.c_str(), 0600);
  const std::string auditPath = dir.file("audit.jsonl");
  const uint16_t port = it::freePort();
  Rig::Options options;
  options.extraArgs = {"--admin-listen", "127.0.0.1:" + std::to_string(port), "--admin-token-file", tokenPath,
                       "--audit-log", auditPath};
  Rig s(options);

  it::RawClient stranger(port);
  ASSERT_TRUE(stranger.connected());
  stranger.sendAll(it::cmd({"MIRROR", "GET"}) + it::cmd({"MIRROR", "SET", "c1", "5"}) + "HELP\r\n");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(stranger.readReply(), "-NOAUTH Authentication required.\r\n") << i;
  stranger.sendAll(it::cmd({"AUTH", kToken + "x"}));
  EXPECT_EQ(stranger.readReply(), "-WRONGPASS wrong admin token\r\n");
  stranger.readUntilClosed();
  EXPECT_TRUE(stranger.peerClosed());
  EXPECT_EQ(nlohmann::json::parse(s.admin->text({"MIRROR", "GET", "c1"})).value("percent", -1.0), 100.0);

  it::RawClient coordinator(port);
  coordinator.sendAll(it::cmd({"AUTH", kToken}));
  EXPECT_EQ(coordinator.readReply(), "+OK\r\n");
  coordinator.sendAll(it::cmd({"MIRROR", "SET", "c1", "30"}));
  EXPECT_EQ(coordinator.readReply(), "+OK\r\n");
  EXPECT_EQ(nlohmann::json::parse(s.admin->text({"MIRROR", "GET", "c1"})).value("percent", -1.0), 30.0);

  if (haveProgram("redis-cli")) {
    const std::string out = shell("REDISCLI_AUTH=" + kToken + " timeout 10 redis-cli -h 127.0.0.1 -p " +
                                  std::to_string(port) + " MIRROR GET c1 2>&1");
    EXPECT_NE(out.find("\"percent\":30.0"), std::string::npos) << out;
  }

  const auto lines = auditLines(auditPath);
  std::vector<std::string> results;
  for (const auto& line : lines) {
    EXPECT_EQ(line.dump().find(kToken), std::string::npos) << "the token is in the audit log: " << line.dump();
    results.push_back(line["result"]);
  }
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(results[0], "refused: wrong token");
  EXPECT_EQ(results[1], "ok");  // AUTH
  EXPECT_EQ(lines[2]["command"], nlohmann::json::parse(R"(["MIRROR","SET","c1","30"])"));
  EXPECT_EQ(lines[2]["peer"]["transport"], "tcp");
  EXPECT_EQ(lines[2]["before"]["percent"], 100.0);
  EXPECT_EQ(lines[2]["after"]["percent"], 30.0);
  EXPECT_EQ(s.proxy->stderrText().find(kToken), std::string::npos) << "the token is in the log";
}

TEST_F(ControlPlane, EveryMirrorSetIsOneAuditLineWrittenBeforeTheReply) {
  it::TempDir dir;
  const std::string auditPath = dir.file("audit.jsonl");
  Rig::Options options;
  options.extraArgs = {"--audit-log", auditPath};
  Rig s(options);
  const std::vector<std::string> percents = {"25", "12.5", "0"};
  std::string previous = "100";
  for (size_t i = 0; i < percents.size(); ++i) {
    ASSERT_EQ(s.admin->text({"MIRROR", "SET", "c1", percents[i]}), "OK");
    // Already on disk when the reply came: it was written before the change.
    const auto lines = auditLines(auditPath);
    ASSERT_EQ(lines.size(), i + 1);
    const auto& line = lines.back();
    EXPECT_EQ(line["command"], nlohmann::json({"MIRROR", "SET", "c1", percents[i]}));
    EXPECT_EQ(line["peer"]["uid"], ::getuid());
    EXPECT_TRUE(line["peer"].contains("pid"));
    EXPECT_EQ(line["before"], nlohmann::json({{"canary", "c1"}, {"percent", std::stod(previous)}}));
    EXPECT_EQ(line["after"], nlohmann::json({{"canary", "c1"}, {"percent", std::stod(percents[i])}}));
    EXPECT_EQ(line["result"], "ok");
    EXPECT_EQ(line["time"].get<std::string>().size(), std::string("2026-12-05T10:11:12.345Z").size());
    previous = percents[i];
  }
  // Reads are not audited.
  s.admin->text({"MIRROR", "GET"});
  s.admin->text({"CANARY", "LIST"});
  EXPECT_EQ(auditLines(auditPath).size(), 3u);

  // AUDIT 2: the last two, as in the file, oldest first.
  const auto lastTwo = nlohmann::json::parse(s.admin->text({"AUDIT", "2"}));
  const auto lines = auditLines(auditPath);
  ASSERT_EQ(lastTwo.size(), 2u) << lastTwo.dump();
  EXPECT_EQ(lastTwo[0], lines[1]);
  EXPECT_EQ(lastTwo[1], lines[2]);
  if (haveProgram("socat")) {
    const std::string out = shell("echo 'AUDIT 1' | timeout 10 socat - UNIX-CONNECT:" + s.adminPath);
    EXPECT_NE(out.find("\"after\":{\"canary\":\"c1\",\"percent\":0.0}"), std::string::npos) << out;
  }
  struct stat st {};
  ASSERT_EQ(::stat(auditPath.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ControlPlane, UnwritableAuditLogRefusesTheChange) {
  it::TempDir dir;
  const std::string auditPath = dir.file("audit.jsonl");
  Rig::Options options;
  options.extraArgs = {"--audit-log", auditPath};
  Rig s(options);
  ASSERT_EQ(s.admin->text({"MIRROR", "SET", "c1", "25"}), "OK");
  // The log becomes unwritable (for root too: its path is now a directory).
  std::filesystem::remove(auditPath);
  std::filesystem::create_directory(auditPath);
  for (const std::vector<std::string>& change : std::vector<std::vector<std::string>>{
           {"MIRROR", "SET", "c1", "50"}, {"MIRROR", "PAUSE"}, {"CANARY", "REMOVE", "c1"}}) {
    const std::string reply = s.admin->text(change);
    EXPECT_EQ(reply.rfind("ERR:ERR the audit log cannot be written (", 0), 0u) << reply;
    EXPECT_NE(reply.find("nothing changed"), std::string::npos) << reply;
  }
  const auto state = mirrorGet(*s.admin);
  EXPECT_EQ(state["canaries"].value("c1", -1.0), 25.0) << state.dump();
  EXPECT_EQ(state.value("paused", true), false);
  EXPECT_NE(s.proxy->stderrText().find("the change by uid"), std::string::npos);

  // Writable again: changes go through and are recorded.
  std::filesystem::remove(auditPath);
  ASSERT_EQ(s.admin->text({"MIRROR", "SET", "c1", "50"}), "OK");
  const auto lines = auditLines(auditPath);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["before"]["percent"], 25.0);
  EXPECT_EQ(lines[0]["after"]["percent"], 50.0);
}

TEST_F(ControlPlane, StartupRefusesAnUnwritableAuditLogAndTcpWithoutAToken) {
  it::TempDir dir;
  const auto audit = it::runProxyBinary({"--listen", "127.0.0.1:" + std::to_string(it::freePort()), "--primary",
                                         "127.0.0.1:" + std::to_string(it::freePort()), "--audit-log", dir.path()});
  EXPECT_EQ(audit.exitCode, 2) << audit.out << audit.err;
  EXPECT_NE((audit.out + audit.err).find("--audit-log: cannot open " + dir.path() + " for appending"), std::string::npos)
      << audit.out << audit.err;

  const auto tcp = it::runProxyBinary({"--admin-listen", "127.0.0.1:1", "--check-config"});
  EXPECT_EQ(tcp.exitCode, 2);
  EXPECT_NE(tcp.err.find("admin_listen: needs admin_token_file"), std::string::npos) << tcp.err;

  const auto uids = it::runProxyBinary({"--admin-allow-uid", "1000,root", "--check-config"});
  EXPECT_EQ(uids.exitCode, 2);
  EXPECT_NE(uids.err.find("--admin-allow-uid: "), std::string::npos) << uids.err;
  EXPECT_NE(uids.err.find("'root'"), std::string::npos) << uids.err;
}

TEST_F(ControlPlane, SighupAddsReweightsAndRemovesCanariesWhileClientsStayConnected) {
  it::TempDir dir;
  const std::string auditPath = dir.file("audit.jsonl");
  it::RedisServer c2(serverArgs());
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) { return oneCanaryYaml(ports[0], 100); };
  options.extraArgs = {"--audit-log", auditPath};
  Rig s(options);
  const std::string yamlPath = s.dir.file("redmirror.yaml");
  const uint16_t c1Port = s.canaries[0]->port();
  ASSERT_TRUE(s.waitLinksUp("c1"));
  const uint64_t c1Connections = s.admin->canary("c1").value("reconnects", 0ULL);

  Ctx client = connectOrDie(s.proxyPort());
  const std::string id = str(run(client.get(), {"CLIENT", "ID"}).get());
  writeKeys(client.get(), "before:", 10);

  // Add c2 at 100%, re-weight c1 to 50%.
  std::ofstream(yamlPath) << canaryYaml({{"c1", entry(c1Port, "50")}, {"c2", entry(c2.port(), "100")}});
  s.proxy->signal(SIGHUP);
  EXPECT_EQ(eventually(
                [&] {
                  const auto state = mirrorGet(*s.admin);
                  return state["canaries"].value("c2", -1.0) == 100.0 && state["canaries"].value("c1", -1.0) == 50.0
                             ? ""
                             : state.dump();
                },
                Millis(10000)),
            "");
  ASSERT_TRUE(s.waitLinksUp("c2"));
  EXPECT_EQ(str(run(client.get(), {"CLIENT", "ID"}).get()), id) << "the client's connection was replaced";
  writeKeys(client.get(), "added:", 50);
  EXPECT_EQ(eventually([&] { return countKeys(c2.port(), "added:") == 50 ? "" : "missing on c2"; }, Millis(10000)),
            "");
  EXPECT_EQ(s.admin->canary("c1").value("reconnects", 0ULL), c1Connections) << "re-weighting reopened c1's link";

  // Remove c2.
  std::ofstream(yamlPath) << canaryYaml({{"c1", entry(c1Port, "50")}});
  s.proxy->signal(SIGHUP);
  EXPECT_EQ(eventually([&] { return s.admin->canary("c2").is_null() ? "" : "c2 still listed"; }, Millis(10000)), "");
  EXPECT_EQ(str(run(client.get(), {"CLIENT", "ID"}).get()), id);
  EXPECT_EQ(str(run(client.get(), {"GET", "added:7"}).get()), "v");
  EXPECT_TRUE(s.proxy->alive());

  const auto lines = auditLines(auditPath);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_EQ(line["peer"], nlohmann::json::parse(R"({"transport":"signal","signal":"SIGHUP"})"));
    EXPECT_EQ(line["command"], nlohmann::json({"RELOAD", yamlPath}));
    EXPECT_EQ(line["result"], "ok");
  }
  EXPECT_EQ(lines[0]["before"]["canaries"]["c1"]["percent"], 100.0);
  EXPECT_EQ(lines[0]["after"]["canaries"]["c1"]["percent"], 50.0);
  EXPECT_EQ(lines[0]["after"]["canaries"]["c2"]["percent"], 100.0);
  EXPECT_TRUE(lines[1]["before"]["canaries"].contains("c2"));
  EXPECT_FALSE(lines[1]["after"]["canaries"].contains("c2"));
}

TEST_F(ControlPlane, ReloadKeepsWhatWasSetAtRunTimeForCanariesTheFileDidNotChange) {
  it::RedisServer c2(serverArgs());
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) { return oneCanaryYaml(ports[0], 10); };
  Rig s(options);
  ASSERT_EQ(s.admin->text({"MIRROR", "SET", "c1", "42"}), "OK");
  std::ofstream(s.dir.file("redmirror.yaml"))
      << canaryYaml({{"c1", entry(s.canaries[0]->port(), "10")}, {"c2", entry(c2.port(), "5")}});
  s.proxy->signal(SIGHUP);
  EXPECT_EQ(eventually([&] { return s.admin->canary("c2").is_object() ? "" : "c2 not added"; }, Millis(10000)), "");
  EXPECT_EQ(s.admin->canary("c1").value("percent", -1.0), 42.0);
}

TEST_F(ControlPlane, InvalidFileIsRejectedNamingTheFieldAndTheRunningConfigStays) {
  it::TempDir dir;
  const std::string auditPath = dir.file("audit.jsonl");
  it::RedisServer c2(serverArgs());
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) { return oneCanaryYaml(ports[0], 100); };
  options.extraArgs = {"--audit-log", auditPath};
  Rig s(options);
  const std::string yamlPath = s.dir.file("redmirror.yaml");
  Ctx client = connectOrDie(s.proxyPort());
  const std::string id = str(run(client.get(), {"CLIENT", "ID"}).get());

  // A new canary, but a percent out of range on the first: nothing of it applies.
  std::ofstream(yamlPath) << canaryYaml({{"c1", entry(s.canaries[0]->port(), "250")}, {"c2", entry(c2.port(), "5")}});
  s.proxy->signal(SIGHUP);
  EXPECT_EQ(eventually(
                [&] {
                  return s.proxy->stderrText().find("field 'canaries[0].percent'") != std::string::npos
                             ? ""
                             : "no log line naming the field";
                },
                Millis(10000)),
            "")
      << s.proxy->stderrText();
  EXPECT_NE(s.proxy->stderrText().find("rejected, the running configuration stays"), std::string::npos);
  const auto state = mirrorGet(*s.admin);
  EXPECT_EQ(state["canaries"], nlohmann::json::parse(R"({"c1":100.0})")) << state.dump();
  EXPECT_EQ(str(run(client.get(), {"CLIENT", "ID"}).get()), id);
  auto lines = auditLines(auditPath);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["result"].get<std::string>().rfind("rejected: field 'canaries[0].percent'", 0), 0u)
      << lines[0].dump();

  // Unknown fields and a missing address are named too; a fixed file then applies.
  std::ofstream(yamlPath) << "canaries:\n  - name: c2\n    percent: 5\n";
  s.proxy->signal(SIGHUP);
  EXPECT_EQ(eventually([&] { return auditLines(auditPath).size() == 2 ? "" : "not audited"; }, Millis(10000)), "");
  EXPECT_EQ(auditLines(auditPath)[1]["result"], "rejected: field 'canaries[0].address': required");
  std::ofstream(yamlPath) << canaryYaml({{"c1", entry(s.canaries[0]->port(), "100")}, {"c2", entry(c2.port(), "5")}});
  s.proxy->signal(SIGHUP);
  EXPECT_EQ(eventually([&] { return s.admin->canary("c2").is_object() ? "" : "c2 not added"; }, Millis(10000)), "");
  EXPECT_EQ(str(run(client.get(), {"PING"}).get()), "PONG");
}

}  // namespace
}  // namespace mirror_it
