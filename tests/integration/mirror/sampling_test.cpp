// Slot-consistent sampling: at 10% a fresh canary holds about 10% of new keys, all from
// slots that are sampled as a whole; raising the percentage at run time keeps every
// earlier sampled slot sampled.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "mirror_util.h"

namespace mirror_it {
namespace {

class MirrorSampling : public MirrorTest {};

// SETs keys[i] = prefix + i through the proxy, pipelined.
void setAll(redisContext* c, const std::vector<std::string>& keys, const std::string& valuePrefix) {
  constexpr size_t kBatch = 500;
  for (size_t start = 0; start < keys.size(); start += kBatch) {
    const size_t end = std::min(keys.size(), start + kBatch);
    for (size_t i = start; i < end; ++i) {
      const std::string value = valuePrefix + keys[i];
      redisAppendCommand(c, "SET %b %b", keys[i].data(), keys[i].size(), value.data(), value.size());
    }
    for (size_t i = start; i < end; ++i) {
      Reply r = it::getReply(c);
      ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS) << keys[i] << ": " << it::describe(r.get());
    }
  }
}

// Values of keys on a server (MGET in batches); a missing key gives "(nil)".
std::vector<std::string> values(uint16_t port, const std::vector<std::string>& keys) {
  Ctx c = connectOrDie(port);
  std::vector<std::string> out;
  constexpr size_t kBatch = 500;
  for (size_t start = 0; start < keys.size(); start += kBatch) {
    std::vector<std::string> args = {"MGET"};
    for (size_t i = start; i < std::min(keys.size(), start + kBatch); ++i) args.push_back(keys[i]);
    Reply r = run(c.get(), args);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
      ADD_FAILURE() << "MGET failed";
      return out;
    }
    for (size_t i = 0; i < r->elements; ++i) {
      out.push_back(r->element[i]->type == REDIS_REPLY_NIL ? "(nil)" : str(r->element[i]));
    }
  }
  return out;
}

// Checks that sampling is by slot: no slot has a key on the canary and another key
// (among `all`) missing from it. Returns the sampled slots.
std::set<uint16_t> checkSlotConsistent(const std::vector<std::string>& all, const std::set<std::string>& onCanary,
                                       const char* phase) {
  std::set<uint16_t> in, out;
  for (const auto& k : all) (onCanary.count(k) ? in : out).insert(keySlot(k));
  std::vector<uint16_t> both;
  std::set_intersection(in.begin(), in.end(), out.begin(), out.end(), std::back_inserter(both));
  EXPECT_TRUE(both.empty()) << phase << ": " << both.size()
                            << " slots have keys both on and missing from the canary, e.g. slot "
                            << (both.empty() ? 0 : both.front());
  return in;
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

TEST_F(MirrorSampling, TenPercentThenThirtyPercentIsSlotConsistent) {
  Rig::Options options;
  options.yaml = [](const std::vector<uint16_t>& ports) {
    return "sampling_seed: 20240611\n" + oneCanaryYaml(ports[0], 10);
  };
  Rig s(options);
  ASSERT_TRUE(s.waitLinksUp("c1")) << s.admin->canaryList().dump();
  EXPECT_EQ(s.admin->canary("c1").value("percent", -1.0), 10.0);
  const uint16_t canaryPort = s.canaries[0]->port();
  Ctx client = connectOrDie(s.proxyPort());

  // Phase 1: 10,000 new keys at 10%.
  const std::vector<std::string> first = numbered("samp:a:", 10000);
  setAll(client.get(), first, "v1:");
  waitMirrorQuiet(*s.admin, "c1");
  Ctx canary = connectOrDie(canaryPort);
  const std::vector<std::string> k1 = keysOf(canary.get(), 0);
  EXPECT_GE(k1.size(), 800u);
  EXPECT_LE(k1.size(), 1200u);
  const std::set<std::string> k1set(k1.begin(), k1.end());
  for (const auto& k : k1) ASSERT_TRUE(k.rfind("samp:a:", 0) == 0) << "unexpected key on the canary: " << k;
  {
    const auto onPrimary = values(s.primary->port(), k1);
    const auto onCanary = values(canaryPort, k1);
    ASSERT_EQ(onPrimary.size(), k1.size());
    for (size_t i = 0; i < k1.size(); ++i) {
      ASSERT_EQ(onCanary[i], onPrimary[i]) << k1[i];
      ASSERT_EQ(onCanary[i], "v1:" + k1[i]);
    }
  }
  const std::set<uint16_t> slots10 = checkSlotConsistent(first, k1set, "10%");

  // Phase 2: raise to 30% at run time, write 10,000 more keys, then rewrite all 20,000.
  EXPECT_EQ(s.admin->text({"MIRROR", "SET", "c1", "30"}), "OK");
  const std::vector<std::string> second = numbered("samp:b:", 10000);
  setAll(client.get(), second, "v1:");
  std::vector<std::string> all = first;
  all.insert(all.end(), second.begin(), second.end());
  setAll(client.get(), all, "v2:");
  waitMirrorQuiet(*s.admin, "c1");
  const std::vector<std::string> k2 = keysOf(canary.get(), 0);
  const std::set<std::string> k2set(k2.begin(), k2.end());

  // Every key sampled at 10% is still sampled at 30%: it has the new value.
  {
    const auto onCanary = values(canaryPort, k1);
    size_t stale = 0;
    std::string example;
    for (size_t i = 0; i < k1.size(); ++i) {
      if (onCanary[i] != "v2:" + k1[i]) {
        if (stale++ == 0) example = k1[i] + " = " + onCanary[i];
      }
    }
    EXPECT_EQ(stale, 0u) << "keys sampled at 10% no longer mirrored at 30%, e.g. " << example;
  }
  size_t secondOnCanary = 0;
  for (const auto& k : second) secondOnCanary += k2set.count(k);
  EXPECT_GE(secondOnCanary, 2400u);
  EXPECT_LE(secondOnCanary, 3600u);
  // Every key on the canary has the primary's (new) value.
  {
    const auto onPrimary = values(s.primary->port(), k2);
    const auto onCanary = values(canaryPort, k2);
    size_t differ = 0;
    std::string example;
    for (size_t i = 0; i < k2.size(); ++i) {
      if (onCanary[i] != onPrimary[i] && differ++ == 0) example = k2[i] + ": " + onCanary[i] + " vs " + onPrimary[i];
    }
    EXPECT_EQ(differ, 0u) << "e.g. " << example;
  }
  // Keys of the first batch rewritten at 30% are on the canary exactly when their slot is.
  const std::set<uint16_t> slots30 = checkSlotConsistent(all, k2set, "30%");
  std::vector<uint16_t> lost;
  std::set_difference(slots10.begin(), slots10.end(), slots30.begin(), slots30.end(), std::back_inserter(lost));
  EXPECT_TRUE(lost.empty()) << lost.size() << " slots sampled at 10% are not sampled at 30%";
  EXPECT_GT(slots30.size(), slots10.size() * 2);
  const auto status = s.admin->canary("c1");
  EXPECT_EQ(dropsOf(status), 0u) << status.dump();
}

}  // namespace
}  // namespace mirror_it
