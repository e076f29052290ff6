// Reports are safe by default: keys as keyed hashes, values truncated to 128 bytes, and
// secrets (AUTH, HELLO AUTH, CONFIG SET of passwords, ACL SETUSER, MIGRATE AUTH) never
// shown anywhere; --report-keys plain and --report-values opt in.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "diff_util.h"

namespace diff_it {
namespace {

using mirror_it::run;

const std::string kKey = "plainkeyname42";
const std::string kPrimaryValue(300, 'A');
const std::string kCanaryValue(300, 'B');

// The key holds a 300-byte value on the primary and another on the canary; one GET through
// the proxy gives a "value" sample.
json valueSample(DiffRig& rig, const std::string& password = "") {
  for (uint16_t port : {rig.primary->port(), rig.canary->port()}) {
    Ctx direct = mirror_it::connectOrDie(port);
    if (!password.empty()) run(direct.get(), {"AUTH", password});
    run(direct.get(), {"SET", kKey, port == rig.primary->port() ? kPrimaryValue : kCanaryValue});
  }
  Ctx c = mirror_it::connectOrDie(rig.proxyPort());
  if (!password.empty()) run(c.get(), {"AUTH", password});
  Reply r = run(c.get(), {"GET", kKey});
  EXPECT_EQ(mirror_it::str(r.get()), kPrimaryValue);
  const json report = rig.settle(1);
  for (const auto& sample : report["samples"]) {
    if (sample.value("class", "") == "value") return sample;
  }
  ADD_FAILURE() << "no value sample: " << summary(report);
  return json::object();
}

TEST_F(DiffTest, SamplesHashKeysAndTruncateValuesByDefault) {
  DiffRig rig(DiffRig::Options{});
  const json sample = valueSample(rig);
  const std::string key = sample.value("key", "");
  EXPECT_TRUE(std::regex_match(key, std::regex("h:[0-9a-f]{16}"))) << sample.dump();
  const std::string all = rig.report().dump();
  EXPECT_EQ(all.find(kKey), std::string::npos) << all;
  EXPECT_NE(sample.value("command", "").find(key), std::string::npos) << sample.dump();
  const std::string primary = sample.value("primary", "");
  const std::string canary = sample.value("canary", "");
  EXPECT_NE(primary.find("...("), std::string::npos) << primary;
  EXPECT_NE(canary.find("...("), std::string::npos) << canary;
  EXPECT_EQ(primary.find(std::string(129, 'A')), std::string::npos) << primary;
  EXPECT_NE(primary.find(std::string(128, 'A')), std::string::npos) << primary;
  EXPECT_EQ(canary.find(std::string(129, 'B')), std::string::npos) << canary;
  EXPECT_LT(primary.size(), 200u) << primary;
}

TEST_F(DiffTest, PlainKeysAndWholeValuesWhenAskedFor) {
  DiffRig::Options options;
  options.proxyArgs = {"--report-keys", "plain", "--report-values"};
  DiffRig rig(options);
  const json sample = valueSample(rig);
  EXPECT_EQ(sample.value("key", ""), kKey) << sample.dump();
  EXPECT_NE(sample.value("command", "").find(kKey), std::string::npos) << sample.dump();
  const std::string primary = sample.value("primary", "");
  const std::string canary = sample.value("canary", "");
  EXPECT_NE(primary.find(kPrimaryValue), std::string::npos) << primary;
  EXPECT_NE(canary.find(kCanaryValue), std::string::npos) << canary;
  EXPECT_EQ(primary.find("...("), std::string::npos) << primary;
}

TEST_F(DiffTest, MarkerSecretsNeverAppear) {
  const std::string secret = "SECRETMARKER123";
  const std::vector<std::string> requirepass = {"--requirepass", secret};
  ASSERT_EQ(setenv("REDMIRROR_DIFF_IT_CANARY_PASSWORD", secret.c_str(), 1), 0);
  DiffRig::Options options;
  options.primaryArgs = requirepass;
  options.canaryArgs = requirepass;
  options.proxyArgs = {"--log-level", "debug"};
  options.yaml = [&](uint16_t canaryPort, const it::TempDir& dir) {
                 const std::string file = dir.file("primary.pass");
                 std::ofstream(file) << secret << "\n";
                 return "primary_password_file: " + file +
                        "\n"
                        "canaries:\n"
                        "  - name: c1\n"
                        "    address: 127.0.0.1:" +
                        std::to_string(canaryPort) +
                        "\n"
                        "    percent: 100\n"
                        "    password_env: REDMIRROR_DIFF_IT_CANARY_PASSWORD\n";
  };
  DiffRig rig(options);

  // A client sends the secret every way it can, through the proxy.
  it::RawClient raw(rig.proxyPort());
  ASSERT_TRUE(raw.connected());
  auto exchange = [&](const std::vector<std::string>& command) {
    EXPECT_TRUE(raw.sendAll(it::cmd(command)));
    auto reply = raw.readReply();
    EXPECT_TRUE(reply.has_value()) << command[0];
    return reply.value_or("");
  };
  EXPECT_EQ(exchange({"AUTH", secret + "x"}).substr(0, 10), "-WRONGPASS");
  EXPECT_EQ(exchange({"AUTH", secret}), "+OK\r\n");
  EXPECT_EQ(exchange({"AUTH", "default", secret}), "+OK\r\n");
  EXPECT_EQ(exchange({"HELLO", "3", "AUTH", "default", secret}).substr(0, 1), "%");
  EXPECT_EQ(exchange({"CONFIG", "SET", "requirepass", secret}), "+OK\r\n");
  EXPECT_EQ(exchange({"CONFIG", "SET", "masterauth", secret, "maxmemory-policy", "noeviction"}), "+OK\r\n");
  EXPECT_EQ(exchange({"ACL", "SETUSER", "bob", "on", ">" + secret, "~*", "+@all"}), "+OK\r\n");
  EXPECT_EQ(exchange({"MIGRATE", "127.0.0.1", "1", "nosuchkey", "0", "1000", "AUTH", secret}), "+NOKEY\r\n");
  EXPECT_EQ(exchange({"MIGRATE", "127.0.0.1", "1", "nosuchkey", "0", "1000", "AUTH2", "bob", secret}),
            "+NOKEY\r\n");
  // Ordinary traffic that is mirrored, compared and (one divergence) sampled.
  for (int i = 0; i < 20; ++i) exchange({"SET", "s:" + std::to_string(i), "v"});
  for (int i = 0; i < 20; ++i) exchange({"GET", "s:" + std::to_string(i)});
  const json sample = valueSample(rig, secret);

  // The canary links authenticated (comparisons were made) and the command tables of
  // both servers were read with their passwords.
  const json table = rig.waitCommandTableChecked();
  EXPECT_TRUE(table["command_table"].value("checked", false)) << summary(table);
  const json r = rig.settle(41);
  EXPECT_GE(r.value("compared", 0ULL), 41u) << summary(r);
  EXPECT_GE(r.value("diverged", 0ULL), 1u) << summary(r);
  EXPECT_FALSE(sample.empty());

  const std::vector<std::pair<std::string, std::string>> outputs = {
      {"REPORT c1", rig.admin->text({"REPORT", "c1"})},
      {"REPORT", rig.admin->text({"REPORT"})},
      {"CANARY LIST", rig.admin->text({"CANARY", "LIST"})},
      {"MIRROR GET", rig.admin->text({"MIRROR", "GET"})},
      {"MIRROR GET c1", rig.admin->text({"MIRROR", "GET", "c1"})},
      {"STATS", rig.admin->text({"STATS"})},
      {"AUDIT", rig.admin->text({"AUDIT", "100"})},
      {"VERDICT", rig.admin->text({"VERDICT"})},
      {"stderr", rig.proxy->stderrText()},
  };
  for (const auto& [what, text] : outputs) {
    EXPECT_FALSE(text.empty() || text == "NOREPLY") << what;
    EXPECT_EQ(text.find(secret), std::string::npos) << what << " shows the secret: " << text.substr(0, 4000);
  }
  // The log really is at debug level (so a leak at any level would show).
  EXPECT_NE(rig.proxy->stderrText().find("debug"), std::string::npos) << rig.proxy->stderrText().substr(0, 2000);
}

}  // namespace
}  // namespace diff_it
