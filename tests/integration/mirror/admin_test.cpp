// The admin socket (mode 0600, RESP and inline): MIRROR SET/GET/PAUSE/RESUME,
// CANARY ADD/REMOVE/LIST, and percentage changes at run time that drop no connection.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class MirrorAdmin : public MirrorTest {};

// Writes `count` keys prefix0.. through a connection; each must answer OK.
void writeKeys(redisContext* c, const std::string& prefix, int count) {
  for (int i = 0; i < count; ++i) {
    redisAppendCommand(c, "SET %s%d v", prefix.c_str(), i);
  }
  for (int i = 0; i < count; ++i) {
    Reply r = it::getReply(c);
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS) << it::describe(r.get());
  }
}

// Number of keys matching prefix* in database 0 of a server.
size_t countKeys(uint16_t port, const std::string& prefix) {
  Ctx c = connectOrDie(port);
  size_t n = 0;
  for (const auto& k : keysOf(c.get(), 0)) n += k.rfind(prefix, 0) == 0;
  return n;
}

// Client ids connected to a server, except the asking connection and the proxy's
// own control connection (COMMAND, PING), which is named.
std::set<std::string> clientIds(uint16_t port) {
  Ctx c = connectOrDie(port);
  const std::string self = str(run(c.get(), {"CLIENT", "ID"}).get());
  std::set<std::string> ids;
  std::istringstream lines(str(run(c.get(), {"CLIENT", "LIST"}).get()));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("id=", 0) != 0 || line.find(" name=redmirror-control ") != std::string::npos) continue;
    const std::string id = line.substr(3, line.find(' ') - 3);
    if (id != self) ids.insert(id);
  }
  return ids;
}

nlohmann::json json(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << text;
  return parsed;
}

TEST_F(MirrorAdmin, SocketModeRedisCliSocatAndErrors) {
  Rig s;
  struct stat st {};
  ASSERT_EQ(stat(s.adminPath.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);

  if (haveProgram("redis-cli")) {
    int status = -1;
    const std::string out = shell("redis-cli -s " + s.adminPath + " MIRROR SET c1 25 2>&1", &status);
    EXPECT_EQ(status, 0);
    EXPECT_EQ(out, "OK\n");
  } else {
    ADD_FAILURE() << "redis-cli is not installed (scripts/install-deps.sh)";
    EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c1", "25"}), "OK");
  }
  auto got = json(s.admin->text({"MIRROR", "GET", "c1"}));
  EXPECT_EQ(got.value("canary", ""), "c1");
  EXPECT_EQ(got.value("percent", -1.0), 25.0);

  // Refused values leave the setting as it was.
  for (const char* bad : {"250", "-1", "100.01", "12.345", "abc", ""}) {
    const std::string reply = s.admin->text({"MIRROR", "SET", "c1", bad});
    EXPECT_EQ(reply.rfind("ERR:", 0), 0u) << "MIRROR SET c1 '" << bad << "' -> " << reply;
  }
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c1", "12.34"}), "OK");
  EXPECT_EQ(json(s.admin->text({"MIRROR", "GET", "c1"})).value("percent", -1.0), 12.34);
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "nosuch", "10"}).rfind("ERR:", 0), 0u);
  EXPECT_EQ(s.admin->text({"MIRROR", "GET", "nosuch"}).rfind("ERR:", 0), 0u);
  EXPECT_EQ(s.admin->text({"BOGUS"}).rfind("ERR:", 0), 0u);
  EXPECT_NE(s.admin->text({"HELP"}).find("MIRROR SET"), std::string::npos);
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c1", "25"}), "OK");

  // Inline commands, as socat sends them.
  if (haveProgram("socat")) {
    const std::string out =
        shell("echo 'MIRROR GET c1' | timeout 10 socat - UNIX-CONNECT:" + s.adminPath + " 2>&1");
    const size_t brace = out.find('{');
    ASSERT_NE(brace, std::string::npos) << out;
    const auto inlineGot = json(out.substr(brace, out.rfind('}') - brace + 1));
    EXPECT_EQ(inlineGot.value("canary", ""), "c1") << out;
    EXPECT_EQ(inlineGot.value("percent", -1.0), 25.0) << out;
  } else {
    ADD_FAILURE() << "socat is not installed (scripts/install-deps.sh)";
  }

  // CANARY LIST has every documented field.
  const auto c1 = s.admin->canary("c1");
  ASSERT_TRUE(c1.is_object()) << s.admin->canaryList().dump();
  for (const char* field : {"name", "address", "percent", "mirrored", "compared", "matched", "diverged",
                            "dropped", "links_up", "links_total", "link_writes", "link_reads", "reconnects",
                            "protocol_errors", "auth_failures"}) {
    EXPECT_TRUE(c1.contains(field)) << field << " missing: " << c1.dump();
  }
  for (const char* reason : {"queue_full", "disconnected", "timeout", "oversize", "session_closed"}) {
    EXPECT_TRUE(c1["dropped"].contains(reason)) << reason << " missing: " << c1.dump();
  }
  EXPECT_EQ(c1.value("address", ""), "127.0.0.1:" + std::to_string(s.canaries[0]->port()));
}

// Many sessions' pipelined writes share one link per worker and leave together in
// gather writes: the mirror adds a small fraction of a system call per command, not
// a write and a read each (what CANARY LIST's link_writes / link_reads count).
TEST_F(MirrorAdmin, LinkWritesAreBatchedAcrossCommandsAndSessions) {
  Rig::Options options;
  options.workers = 1;
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  constexpr int kClients = 20;
  constexpr int kPipeline = 50;
  std::vector<Ctx> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(connectOrDie(s.proxyPort()));
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < kClients; ++i) {
      for (int j = 0; j < kPipeline; ++j) {
        redisAppendCommand(clients[i].get(), "SET batch:%d:%d:%d v", round, i, j);
      }
      int done = 0;
      while (!done) ASSERT_EQ(redisBufferWrite(clients[i].get(), &done), REDIS_OK);
    }
    for (int i = 0; i < kClients; ++i) {
      for (int j = 0; j < kPipeline; ++j) {
        Reply r = it::getReply(clients[i].get());
        ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS) << it::describe(r.get());
      }
    }
  }
  waitMirrorQuiet(*s.admin, "c1");
  const auto c1 = s.admin->canary("c1");
  const uint64_t mirrored = c1.value("mirrored", 0ULL);
  const uint64_t calls = c1.value("link_writes", 0ULL) + c1.value("link_reads", 0ULL);
  EXPECT_EQ(mirrored, uint64_t{4 * kClients * kPipeline}) << c1.dump();
  EXPECT_GT(calls, 0U) << c1.dump();
  EXPECT_LE(calls * 4, mirrored) << "more than 0.25 link system calls per mirrored command: " << c1.dump();
}

TEST_F(MirrorAdmin, PauseStopsMirroringAndResumeRestartsIt) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  const uint16_t canaryPort = s.canaries[0]->port();
  Ctx client = connectOrDie(s.proxyPort());
  writeKeys(client.get(), "before:", 50);
  EXPECT_EQ(eventually([&] { return countKeys(canaryPort, "before:") == 50 ? "" : "missing"; }, Millis(5000)), "");

  EXPECT_EQ(s.admin->text({"MIRROR", "PAUSE"}), "OK");
  EXPECT_EQ(json(s.admin->text({"MIRROR", "GET"})).value("paused", false), true);
  writeKeys(client.get(), "paused:", 200);
  Ctx other = connectOrDie(s.proxyPort());  // a session opened while paused
  writeKeys(other.get(), "paused2:", 50);
  EXPECT_EQ(s.admin->text({"MIRROR", "RESUME"}), "OK");
  EXPECT_EQ(json(s.admin->text({"MIRROR", "GET"})).value("paused", true), false);
  writeKeys(client.get(), "resumed:", 200);
  writeKeys(other.get(), "resumed2:", 50);
  EXPECT_EQ(eventually(
                [&] {
                  return countKeys(canaryPort, "resumed:") == 200 && countKeys(canaryPort, "resumed2:") == 50
                             ? ""
                             : "missing";
                },
                Millis(5000)),
            "")
      << "mirroring did not resume: " << s.admin->canary("c1").dump();
  waitMirrorQuiet(*s.admin, "c1");
  EXPECT_EQ(countKeys(canaryPort, "paused:"), 0u);
  EXPECT_EQ(countKeys(canaryPort, "paused2:"), 0u);
}

TEST_F(MirrorAdmin, CanaryAddSetRemoveAtRunTime) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  it::RedisServer c2(serverArgs());
  const std::string address = "127.0.0.1:" + std::to_string(c2.port());
  EXPECT_EQ(s.admin->text({"CANARY", "ADD", "c2", address}), "OK");
  EXPECT_EQ(s.admin->text({"CANARY", "ADD", "c2", address}).rfind("ERR:", 0), 0u) << "duplicate name accepted";
  EXPECT_EQ(s.admin->text({"CANARY", "ADD", "bad name", address}).rfind("ERR:", 0), 0u);
  EXPECT_EQ(s.admin->text({"CANARY", "ADD", "c3", "nohostport"}).rfind("ERR:", 0), 0u);
  auto listed = s.admin->canary("c2");
  ASSERT_TRUE(listed.is_object()) << s.admin->canaryList().dump();
  EXPECT_EQ(listed.value("address", ""), address);
  EXPECT_EQ(listed.value("percent", -1.0), 0.0);

  Ctx client = connectOrDie(s.proxyPort());  // opened before c2 mirrors anything
  writeKeys(client.get(), "zero:", 50);
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c2", "100"}), "OK");
  ASSERT_TRUE(s.waitLinksUp("c2")) << s.admin->canary("c2").dump();
  writeKeys(client.get(), "added:", 100);
  EXPECT_EQ(eventually([&] { return countKeys(c2.port(), "added:") == 100 ? "" : "missing"; }, Millis(5000)), "")
      << s.admin->canary("c2").dump();
  EXPECT_EQ(countKeys(c2.port(), "zero:"), 0u) << "keys written at 0% reached c2";
  EXPECT_EQ(countKeys(s.canaries[0]->port(), "added:"), 100u) << "c1 lost traffic when c2 was added";

  EXPECT_EQ(s.admin->text({"CANARY", "REMOVE", "c2"}), "OK");
  EXPECT_TRUE(s.admin->canary("c2").is_null()) << s.admin->canaryList().dump();
  EXPECT_EQ(s.admin->text({"CANARY", "REMOVE", "c2"}).rfind("ERR:", 0), 0u);
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c2", "10"}).rfind("ERR:", 0), 0u);
  writeKeys(client.get(), "removed:", 100);
  waitMirrorQuiet(*s.admin, "c1");
  EXPECT_EQ(countKeys(c2.port(), "removed:"), 0u);
  EXPECT_EQ(eventually([&] { return countKeys(s.canaries[0]->port(), "removed:") == 100 ? "" : "missing"; },
                       Millis(5000)),
            "");
  // The proxy closed its links to the removed canary.
  EXPECT_EQ(eventually([&] { return clientIds(c2.port()).empty() ? "" : "links still open"; }, Millis(5000)), "");
  // The client connection survived all of it.
  EXPECT_EQ(str(run(client.get(), {"PING"}).get()), "PONG");
}

TEST_F(MirrorAdmin, PercentChangesDropNoConnection) {
  Rig s;
  ASSERT_TRUE(s.waitLinksUp("c1"));
  const uint16_t canaryPort = s.canaries[0]->port();
  Ctx client = connectOrDie(s.proxyPort());
  Ctx blocked = connectOrDie(s.proxyPort());
  run(client.get(), {"SELECT", "2"});
  const std::string id = str(run(client.get(), {"CLIENT", "ID"}).get());
  const std::string blockedId = str(run(blocked.get(), {"CLIENT", "ID"}).get());
  redisAppendCommand(blocked.get(), "BLPOP pc:list 20");
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(blocked.get(), &done), REDIS_OK);
  ASSERT_TRUE(waitBlocked(s.primary->port(), 1));
  const std::set<std::string> linksBefore = clientIds(canaryPort);
  EXPECT_EQ(linksBefore.size(), static_cast<size_t>(s.admin->canary("c1").value("links_total", 0)));

  int round = 0;
  for (const char* percent : {"50", "0.01", "30", "99.99", "100"}) {
    EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c1", percent}), "OK");
    const std::string key = "pc:" + std::to_string(round++);
    EXPECT_EQ(str(run(client.get(), {"SET", key, percent}).get()), "OK");
    EXPECT_EQ(str(run(client.get(), {"GET", key}).get()), percent);
    EXPECT_EQ(str(run(client.get(), {"CLIENT", "ID"}).get()), id) << "the primary connection was replaced";
  }
  EXPECT_EQ(clientIds(canaryPort), linksBefore) << "canary links were reopened by MIRROR SET";
  // Through 0% and back.
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c1", "0"}), "OK");
  EXPECT_EQ(str(run(client.get(), {"INCR", "pc:n"}).get()), "1");
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c1", "100"}), "OK");
  EXPECT_EQ(str(run(client.get(), {"INCR", "pc:n"}).get()), "2");
  EXPECT_EQ(str(run(client.get(), {"CLIENT", "ID"}).get()), id);
  ASSERT_TRUE(s.waitLinksUp("c1"));
  EXPECT_EQ(str(run(client.get(), {"SET", "pc:final", "x"}).get()), "OK");
  Ctx canary = connectOrDie(canaryPort);
  run(canary.get(), {"SELECT", "2"});
  EXPECT_EQ(eventually([&] { return str(run(canary.get(), {"GET", "pc:final"}).get()) == "x" ? "" : "absent"; },
                       Millis(5000)),
            "");

  // The client blocked all along is served.
  Ctx pusher = connectOrDie(s.proxyPort());
  run(pusher.get(), {"RPUSH", "pc:list", "hello"});
  Reply popped = it::getReply(blocked.get());
  ASSERT_TRUE(popped && popped->type == REDIS_REPLY_ARRAY && popped->elements == 2) << it::describe(popped.get());
  EXPECT_EQ(str(popped->element[1]), "hello");
  EXPECT_EQ(str(run(blocked.get(), {"CLIENT", "ID"}).get()), blockedId);
}

}  // namespace
}  // namespace mirror_it
