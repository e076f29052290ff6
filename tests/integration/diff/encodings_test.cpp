// A canary of the same version with other encodings (hashtable instead of listpack,
// hashtable instead of intset, skiplist instead of listpack) answers the same data in
// other orders: after normalisation there must be no divergence, over RESP2 and RESP3.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "diff_util.h"

namespace diff_it {
namespace {

using mirror_it::run;

// Redis 7.0 accepts these three; set-max-listpack-entries only exists from 7.2 on.
const std::vector<std::string> kOtherEncodings = {"--hash-max-listpack-entries", "0",
                                                  "--set-max-intset-entries", "0",
                                                  "--zset-max-listpack-entries", "0"};

std::string encodingOf(uint16_t port, const std::string& key) {
  Ctx c = mirror_it::connectOrDie(port);
  Reply r = run(c.get(), {"OBJECT", "ENCODING", key});
  return mirror_it::str(r.get());
}

// The reads of the workload for one index; every key is read by one connection at a time.
std::vector<std::vector<std::string>> readsFor(int i) {
  const std::string n = std::to_string(i);
  return {{"HGETALL", "h:" + n},
          {"HKEYS", "h:" + n},
          {"HVALS", "h:" + n},
          {"SMEMBERS", "si:" + n},
          {"SMEMBERS", "ss:" + n},
          {"ZRANGE", "z:" + n, "0", "-1", "WITHSCORES"},
          {"ZSCORE", "z:" + n, "m3"},
          {"SRANDMEMBER", "si:" + n},
          {"SRANDMEMBER", "ss:" + n, "3"},
          {"SRANDMEMBER", "ss:" + n, "-5"},
          {"HRANDFIELD", "h:" + n},
          {"HRANDFIELD", "h:" + n, "2", "WITHVALUES"},
          {"TTL", "k:" + n},
          {"PTTL", "k:" + n},
          {"TIME"},
          {"RANDOMKEY"}};
}

TEST_F(DiffTest, OtherEncodingsSameVersionShowNoDivergence) {
  DiffRig::Options options;
  options.canaryArgs = kOtherEncodings;
  DiffRig rig(options);
  ASSERT_TRUE(mirror_it::dbsize(rig.primary->port()) == 0 && mirror_it::dbsize(rig.canary->port()) == 0);
  constexpr int kKeys = 15;
  uint64_t sent = 0;
  {
    Ctx c = mirror_it::connectOrDie(rig.proxyPort());
    for (int i = 0; i < kKeys; ++i) {
      const std::string n = std::to_string(i);
      run(c.get(), {"HSET", "h:" + n, "f1", "v1", "f2", "v2", "f3", "v3", "f4", "v4", "f5", "v5"});
      run(c.get(), {"SADD", "si:" + n, "1", "2", "3", "17", "42", "100000", "-5"});
      run(c.get(), {"SADD", "ss:" + n, "1", "two", "3", "four", "5", "six"});
      run(c.get(), {"ZADD", "z:" + n, "1", "m1", "2.5", "m2", "-3", "m3", "1e3", "m4", "2.5", "m0"});
      run(c.get(), {"SET", "k:" + n, "value" + n, "EX", "1000"});
      sent += 5;
    }
    // The same workload as RESP2 reads on this connection.
    for (int i = 0; i < kKeys; ++i) {
      for (const auto& command : readsFor(i)) {
        run(c.get(), command);
        ++sent;
      }
    }
  }
  // The canary really holds other encodings (otherwise the test proves nothing).
  EXPECT_EQ(encodingOf(rig.primary->port(), "h:0"), "listpack");
  EXPECT_EQ(encodingOf(rig.canary->port(), "h:0"), "hashtable");
  EXPECT_EQ(encodingOf(rig.primary->port(), "si:0"), "intset");
  EXPECT_EQ(encodingOf(rig.canary->port(), "si:0"), "hashtable");
  EXPECT_EQ(encodingOf(rig.primary->port(), "z:0"), "listpack");
  EXPECT_EQ(encodingOf(rig.canary->port(), "z:0"), "skiplist");

  // The same reads from a RESP3 client (HELLO is not mirrored: the canary link's protocol
  // differs from the client's).
  {
    it::RawClient raw(rig.proxyPort());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.sendAll(it::cmd({"HELLO", "3"})));
    auto hello = raw.readReply();
    ASSERT_TRUE(hello.has_value());
    ASSERT_EQ(hello->front(), '%') << *hello;
    for (int i = 0; i < kKeys; ++i) {
      for (const auto& command : readsFor(i)) {
        ASSERT_TRUE(raw.sendAll(it::cmd(command)));
        auto reply = raw.readReply();
        ASSERT_TRUE(reply.has_value()) << command[0];
        ASSERT_NE(reply->front(), '-') << command[0] << ": " << *reply;
        ++sent;
      }
    }
    // A map really came back (RESP3 shapes versus the canary link's).
    ASSERT_TRUE(raw.sendAll(it::cmd({"HGETALL", "h:0"})));
    auto map = raw.readReply();
    ASSERT_TRUE(map.has_value());
    EXPECT_EQ(map->front(), '%') << *map;
    ++sent;
  }

  const json r = rig.settle(300);
  const std::string text = summary(r);
  // RANDOMKEY is never mirrored by policy; everything else should be compared.
  EXPECT_GE(r.value("compared", 0ULL), 300u) << text;
  EXPECT_LE(r.value("compared", 0ULL), sent) << text;
  EXPECT_EQ(r.value("diverged", 1ULL), 0u) << text;
  EXPECT_EQ(divergence(r, "cold_miss"), 0u) << text;
  EXPECT_EQ(r.value("matched", 0ULL), r.value("compared", 0ULL) - divergence(r, "cold_miss")) << text;
  EXPECT_TRUE(r["divergences"].empty()) << text;
  EXPECT_TRUE(r["samples"].empty()) << text;
  EXPECT_EQ(skipped(r, "dropped"), 0u) << text;
  EXPECT_EQ(skipped(r, "timeout"), 0u) << text;
  // Both sides' comparisons of the order-sensitive and random commands were made.
  for (const char* name : {"hgetall", "hkeys", "hvals", "smembers", "zrange", "zscore", "srandmember",
                           "hrandfield", "ttl", "pttl"}) {
    ASSERT_TRUE(r["by_command"].contains(name)) << name << "\n" << text;
    EXPECT_GE(r["by_command"][name].value("compared", 0ULL), static_cast<uint64_t>(2 * kKeys)) << name;
    EXPECT_EQ(r["by_command"][name].value("diverged", 1ULL), 0u) << name;
  }
}

// Counters by command: exact compared counts for each command of a known workload.
TEST_F(DiffTest, CountersByCommand) {
  DiffRig rig(DiffRig::Options{});
  constexpr int kGets = 50;
  constexpr int kHashes = 30;
  {
    Ctx c = mirror_it::connectOrDie(rig.proxyPort());
    for (int i = 0; i < kGets; ++i) run(c.get(), {"SET", "key:" + std::to_string(i), "v" + std::to_string(i)});
    for (int i = 0; i < kHashes; ++i) run(c.get(), {"HSET", "hash:" + std::to_string(i), "a", "1", "b", "2"});
    for (int i = 0; i < kGets; ++i) run(c.get(), {"GET", "key:" + std::to_string(i)});
    for (int i = 0; i < kHashes; ++i) run(c.get(), {"HGETALL", "hash:" + std::to_string(i)});
  }
  const json r = rig.settle(2 * (kGets + kHashes));
  const std::string text = summary(r);
  ASSERT_TRUE(r.contains("by_command")) << text;
  const json& by = r["by_command"];
  for (const auto& [name, count] : std::vector<std::pair<std::string, uint64_t>>{
           {"get", kGets}, {"hgetall", kHashes}, {"set", kGets}, {"hset", kHashes}}) {
    ASSERT_TRUE(by.contains(name)) << name << "\n" << text;
    EXPECT_EQ(by[name].value("compared", 0ULL), count) << name << "\n" << text;
    EXPECT_EQ(by[name].value("diverged", 1ULL), 0u) << name << "\n" << text;
  }
  EXPECT_EQ(r.value("compared", 0ULL), 2u * (kGets + kHashes)) << text;
  EXPECT_EQ(r.value("matched", 0ULL), 2u * (kGets + kHashes)) << text;
  EXPECT_EQ(r["latency_us"]["primary"].value("count", 0ULL), 2u * (kGets + kHashes)) << text;
  EXPECT_EQ(r["latency_us"]["canary"].value("count", 0ULL), 2u * (kGets + kHashes)) << text;
}

}  // namespace
}  // namespace diff_it
