// Every admin command in HELP through the clients an operator uses: a real
// `redis-cli -s PATH` (RESP, one command per run; all but HELP, which
// redis-cli answers itself) and raw inline text through
// `socat` (one session, replies read back in order). HELP itself is checked
// against the list these tests cover, so a new command fails here until it is
// exercised.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class AdminClients : public MirrorTest {};

// The commands these tests run, as HELP names them (its first one or two words).
const std::set<std::string> kCovered = {"MIRROR SET", "MIRROR GET", "MIRROR PAUSE", "MIRROR RESUME",
                                        "CANARY ADD", "CANARY REMOVE", "CANARY LIST", "REPORT",
                                        "VERDICT",    "RESET",         "STATS",       "AUDIT",
                                        "HELP",       "QUIT"};

// The commands HELP lists: "MIRROR SET <canary> <percent>  ..." gives "MIRROR SET".
std::set<std::string> helpCommands(const std::string& help) {
  std::set<std::string> out;
  std::istringstream lines(help);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first, second;
    words >> first >> second;
    if (first.empty()) continue;
    const bool sub = !second.empty() && second[0] != '<' && second[0] != '[' &&
                     second.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos;
    out.insert(sub ? first + " " + second : first);
  }
  return out;
}

nlohmann::json json(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << text;
  return parsed;
}

// A proxy with c1 at 100% and an audit log, and a second server to add as c2.
struct ClientsRig {
  ClientsRig() : rig(options(dir.file("audit.jsonl"))), c2(serverArgs()) {}
  static Rig::Options options(const std::string& audit) {
    Rig::Options options;
    options.extraArgs = {"--audit-log", audit};
    return options;
  }
  // Writes `n` keys through the proxy and waits until c1 compared them all.
  void traffic(int n) {
    Ctx c = connectOrDie(rig.proxyPort());
    for (int i = 0; i < n; ++i) EXPECT_EQ(str(run(c.get(), {"SET", "cli:" + std::to_string(i), "v"}).get()), "OK");
    EXPECT_EQ(eventually([&]() -> std::string {
                const auto r = reportOf(*rig.admin, "c1");
                return r.value("compared", 0) == n ? "" : r.dump();
              }, Millis(15000)), "");
  }
  it::TempDir dir;
  Rig rig;
  it::RedisServer c2;
};

struct CliResult {
  int status;
  std::string out;
};

CliResult redisCli(const std::string& socket, const std::string& args) {
  CliResult r{-1, ""};
  r.out = shell("timeout 30 redis-cli -s " + socket + " " + args + " 2>&1", &r.status);
  if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r;
}

TEST_F(AdminClients, RedisCliRunsEveryAdminCommand) {
  ASSERT_TRUE(haveProgram("redis-cli")) << "redis-cli is not installed (scripts/install-deps.sh)";
  ClientsRig h;
  const std::string& sock = h.rig.adminPath;
  ASSERT_TRUE(h.rig.waitLinksUp("c1"));

  // redis-cli answers HELP itself (its own help, never sent), so the list of
  // commands comes from the socket directly; the socat test sends HELP inline.
  const std::string help = h.rig.admin->text({"HELP"});
  EXPECT_EQ(helpCommands(help), kCovered) << help;

  auto ok = [&](const std::string& args) {
    const CliResult r = redisCli(sock, args);
    EXPECT_EQ(r.status, 0) << args;
    EXPECT_EQ(r.out, "OK") << args;
  };
  auto jsonOf = [&](const std::string& args) {
    const CliResult r = redisCli(sock, args);
    EXPECT_EQ(r.status, 0) << args << ": " << r.out;
    return json(r.out);
  };

  ok("MIRROR SET c1 50");
  EXPECT_EQ(jsonOf("MIRROR GET c1").value("percent", -1.0), 50.0);
  ok("MIRROR PAUSE");
  EXPECT_EQ(jsonOf("MIRROR GET").value("paused", false), true);
  ok("MIRROR RESUME");
  EXPECT_EQ(jsonOf("MIRROR GET").value("paused", true), false);
  ok("MIRROR SET c1 100");

  const std::string c2 = "127.0.0.1:" + std::to_string(h.c2.port());
  ok("CANARY ADD c2 " + c2);
  const auto listed = jsonOf("CANARY LIST");
  ASSERT_TRUE(listed.is_array()) << listed.dump();
  std::set<std::string> names;
  for (const auto& canary : listed) names.insert(canary.value("name", ""));
  EXPECT_EQ(names, (std::set<std::string>{"c1", "c2"})) << listed.dump();

  h.traffic(12);
  const auto report = jsonOf("REPORT c1");
  EXPECT_EQ(report.value("compared", -1), 12) << report.dump();
  const auto verdict = jsonOf("VERDICT c1");
  EXPECT_EQ(verdict.value("canary", ""), "c1") << verdict.dump();
  EXPECT_EQ(verdict.value("verdict", ""), "pending") << verdict.dump();
  EXPECT_EQ(verdict.value("compared", -1), 12) << verdict.dump();
  const auto stats = jsonOf("STATS");
  EXPECT_EQ(stats["total"].value("commands_observed", 0ULL), 12u) << stats.dump();

  ok("RESET c1");
  EXPECT_EQ(jsonOf("REPORT c1").value("compared", -1), 0);
  EXPECT_EQ(jsonOf("VERDICT c1").value("compared", -1), 0);

  ok("CANARY REMOVE c2");
  const auto after = jsonOf("CANARY LIST");
  ASSERT_TRUE(after.is_array()) << after.dump();
  EXPECT_EQ(after.size(), 1u) << after.dump();

  // AUDIT: the changes above, in order (reads are not audited).
  const auto audit = jsonOf("AUDIT 100");
  ASSERT_TRUE(audit.is_array()) << audit.dump();
  std::vector<std::string> commands;
  for (const auto& line : audit) {
    std::string joined;
    for (const auto& word : line["command"]) joined += (joined.empty() ? "" : " ") + word.get<std::string>();
    commands.push_back(joined);
    EXPECT_EQ(line.value("result", ""), "ok") << line.dump();
  }
  EXPECT_EQ(commands, (std::vector<std::string>{"MIRROR SET c1 50", "MIRROR PAUSE", "MIRROR RESUME",
                                                "MIRROR SET c1 100", "CANARY ADD c2 " + c2, "RESET c1",
                                                "CANARY REMOVE c2"}))
      << audit.dump();
  EXPECT_EQ(jsonOf("AUDIT 1").size(), 1u);

  const CliResult quit = redisCli(sock, "QUIT");
  EXPECT_EQ(quit.status, 0) << quit.out;
  EXPECT_EQ(quit.out, "OK");

  // Errors reach redis-cli as errors and change nothing.
  const CliResult bad = redisCli(sock, "MIRROR SET c1 250");
  EXPECT_NE(bad.out.find("ERR"), std::string::npos) << bad.out;
  const CliResult unknown = redisCli(sock, "BOGUS");
  EXPECT_NE(unknown.out.find("unknown command 'BOGUS'"), std::string::npos) << unknown.out;
  EXPECT_EQ(jsonOf("MIRROR GET c1").value("percent", -1.0), 100.0);
}

// One reply of a RESP stream: its type byte and text (an array's elements joined
// by newlines).
struct RespReply {
  char type = 0;
  std::string text;
};

// Reads replies from `data` until it ends; a reply cut short ends the list.
std::vector<RespReply> parseResp(const std::string& data) {
  std::vector<RespReply> replies;
  size_t at = 0;
  std::function<bool(RespReply&)> one = [&](RespReply& out) -> bool {
    const size_t eol = data.find("\r\n", at);
    if (eol == std::string::npos) return false;
    out.type = data[at];
    const std::string head = data.substr(at + 1, eol - at - 1);
    at = eol + 2;
    if (out.type == '+' || out.type == '-' || out.type == ':') {
      out.text = head;
      return true;
    }
    const long long n = std::stoll(head);
    if (out.type == '$') {
      if (n < 0) return true;
      if (at + n + 2 > data.size()) return false;
      out.text = data.substr(at, n);
      at += n + 2;
      return true;
    }
    if (out.type == '*') {
      for (long long i = 0; i < n; ++i) {
        RespReply element;
        if (!one(element)) return false;
        out.text += (i ? "\n" : "") + element.text;
      }
      return true;
    }
    return false;
  };
  while (at < data.size()) {
    RespReply reply;
    if (!one(reply)) break;
    replies.push_back(reply);
  }
  return replies;
}

TEST_F(AdminClients, SocatInlineRunsEveryAdminCommandInOneSession) {
  ASSERT_TRUE(haveProgram("socat")) << "socat is not installed (scripts/install-deps.sh)";
  ClientsRig h;
  ASSERT_TRUE(h.rig.waitLinksUp("c1"));
  h.traffic(8);
  const std::string c2 = "127.0.0.1:" + std::to_string(h.c2.port());
  const std::vector<std::string> session = {
      "HELP",           "MIRROR SET c1 25",   "MIRROR GET c1", "MIRROR PAUSE",    "MIRROR GET",
      "MIRROR RESUME",  "CANARY ADD c2 " + c2, "CANARY LIST",  "REPORT c1",       "VERDICT c1",
      "STATS",          "RESET c1",           "REPORT c1",     "CANARY REMOVE c2", "CANARY LIST",
      "AUDIT 3",        "BOGUS",              "QUIT"};
  std::string input;
  for (const auto& line : session) input += line + "\r\n";
  input += "MIRROR SET c1 1\r\n";  // after QUIT: must not run
  it::TempDir dir;
  const std::string inputPath = dir.file("input.txt");
  std::ofstream(inputPath) << input;
  // -t 60: after our side's EOF, socat waits for the proxy to close (QUIT does).
  int status = -1;
  const std::string out =
      shell("timeout 90 socat -t 60 - UNIX-CONNECT:" + h.rig.adminPath + " < " + inputPath + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  const auto replies = parseResp(out);
  ASSERT_EQ(replies.size(), session.size()) << out;
  auto reply = [&](const std::string& command) -> const RespReply& {
    for (size_t i = 0; i < session.size(); ++i) {
      if (session[i] == command) return replies[i];
    }
    static RespReply none;
    return none;
  };

  EXPECT_EQ(replies[0].type, '$');
  EXPECT_EQ(helpCommands(replies[0].text), kCovered) << replies[0].text;
  for (const char* command : {"MIRROR SET c1 25", "MIRROR PAUSE", "MIRROR RESUME", "RESET c1", "CANARY REMOVE c2", "QUIT"}) {
    EXPECT_EQ(reply(command).type, '+') << command;
    EXPECT_EQ(reply(command).text, "OK") << command;
  }
  EXPECT_EQ(replies[6].type, '+');  // CANARY ADD
  EXPECT_EQ(replies[6].text, "OK");
  EXPECT_EQ(json(replies[2].text).value("percent", -1.0), 25.0);
  EXPECT_EQ(json(replies[4].text).value("paused", false), true);
  EXPECT_EQ(json(replies[7].text).size(), 2u) << replies[7].text;
  EXPECT_EQ(json(replies[8].text).value("compared", -1), 8) << replies[8].text;
  EXPECT_EQ(json(replies[9].text).value("verdict", ""), "pending") << replies[9].text;
  EXPECT_EQ(json(replies[10].text)["total"].value("commands_observed", 0ULL), 8u) << replies[10].text;
  EXPECT_EQ(json(replies[12].text).value("compared", -1), 0) << replies[12].text;
  EXPECT_EQ(json(replies[14].text).size(), 1u) << replies[14].text;
  const auto audit = json(replies[15].text);
  ASSERT_EQ(audit.size(), 3u) << replies[15].text;
  EXPECT_EQ(audit[2]["command"], nlohmann::json({"CANARY", "REMOVE", "c2"}));
  EXPECT_EQ(replies[16].type, '-');
  EXPECT_NE(replies[16].text.find("unknown command"), std::string::npos) << replies[16].text;
  // What followed QUIT was not run.
  EXPECT_EQ(json(h.rig.admin->text({"MIRROR", "GET", "c1"})).value("percent", -1.0), 25.0);
}

}  // namespace
}  // namespace mirror_it
