// CRC16, hash-tag slots and the seeded slot permutation (DESIGN.md "Mirroring").
#include "redmirror/mirror/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "redis_server.h"

namespace redmirror::mirror {
namespace {

TEST(Crc16, RedisTestVector) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // Redis crc16.c's own check value
  EXPECT_EQ(crc16(""), 0);
  EXPECT_EQ(crc16(std::string_view("\0", 1)), 0);
  EXPECT_EQ(crc16("A"), 0x58E5);
}

// The sliced CRC against the plain bit-by-bit definition, at every length
// around the 8-byte step.
TEST(Crc16, SlicedEqualsBitwiseAtEveryLength) {
  auto bitwise = [](std::string_view bytes) {
    uint16_t crc = 0;
    for (const char c : bytes) {
      crc ^= static_cast<uint16_t>(static_cast<uint8_t>(c) << 8);
      for (int bit = 0; bit < 8; ++bit) {
        crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
      }
    }
    return crc;
  };
  std::mt19937 rng(7);
  for (size_t length = 0; length <= 70; ++length) {
    for (int round = 0; round < 20; ++round) {
      std::string bytes(length, '\0');
      for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
      ASSERT_EQ(crc16(bytes), bitwise(bytes)) << "length " << length;
    }
  }
}

TEST(KeySlot, KnownRedisSlots) {
  EXPECT_EQ(keySlot("foo"), 12182);
  EXPECT_EQ(keySlot("bar"), 5061);
  EXPECT_EQ(keySlot("hello"), 866);
  EXPECT_EQ(keySlot(""), 0);
  EXPECT_EQ(keySlot("123456789"), 0x31C3 & 16383);
}

TEST(KeySlot, HashTags) {
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
  EXPECT_EQ(keySlot("{user1000}.following"), keySlot("user1000"));
  EXPECT_EQ(keySlot("a{foo}b"), keySlot("foo"));
  // Only the first '{' counts, and the first '}' after it.
  EXPECT_EQ(keySlot("foo{bar}{zap}"), keySlot("bar"));
  EXPECT_EQ(keySlot("foo{{bar}}zap"), crc16("{bar") & 16383);
  // An empty tag, or no closing brace, hashes the whole key.
  EXPECT_EQ(keySlot("foo{}{bar}"), crc16("foo{}{bar}") & 16383);
  EXPECT_EQ(keySlot("{}x"), crc16("{}x") & 16383);
  EXPECT_EQ(keySlot("foo{bar"), crc16("foo{bar") & 16383);
  EXPECT_EQ(keySlot("foo}bar{"), crc16("foo}bar{") & 16383);
  EXPECT_EQ(keySlot("}{x}"), keySlot("x"));
}

// The one-pass slot (hash and brace search together, eight bytes at a time)
// against Redis's rule written out plainly, with braces at every position
// around the 8-byte steps.
TEST(KeySlot, OnePassEqualsRedisRuleAtEveryBracePosition) {
  auto redisRule = [](std::string_view key) {
    const size_t open = key.find('{');
    if (open != std::string_view::npos) {
      const size_t close = key.find('}', open + 1);
      if (close != std::string_view::npos && close != open + 1) key = key.substr(open + 1, close - open - 1);
    }
    return static_cast<uint16_t>(crc16(key) & 16383);
  };
  std::mt19937 rng(11);
  for (size_t length = 0; length <= 40; ++length) {
    for (size_t open = 0; open <= length; ++open) {
      for (int round = 0; round < 4; ++round) {
        std::string key(length, '\0');
        for (char& c : key) c = static_cast<char>('a' + rng() % 26);
        if (open < length) key[open] = '{';
        if (round > 0 && length > 0) key[rng() % length] = '}';
        if (round == 3 && length > 0) key[rng() % length] = static_cast<char>('{' ^ 0x80);  // near miss
        ASSERT_EQ(keySlot(key), redisRule(key)) << "key '" << key << "'";
      }
    }
  }
}

// keySlot against CLUSTER KEYSLOT of a real cluster-enabled redis-server.
TEST(KeySlot, MatchesRealRedisClusterKeyslot) {
  testing::RedisServer server({"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"});
  if (!server.ok()) GTEST_SKIP() << "redis-server is not available";
  testing::ContextPtr c = server.connect();
  ASSERT_TRUE(c && c->err == 0);

  std::vector<std::string> keys = {"foo", "bar", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap",
                                   "{}x", "{", "}", "{}", "{{}}", "a{b}c{d}", std::string("bin\0{z}\xff", 8)};
  std::mt19937_64 gen(42);  // only to make test keys; the output is not compared across platforms
  const std::string alphabet = "ab{}xyz019";
  for (int i = 0; i < 2000; ++i) {
    std::string key(gen() % 12, ' ');
    for (char& ch : key) ch = alphabet[gen() % alphabet.size()];
    keys.push_back(key);
  }
  for (const std::string& key : keys) {
    redisAppendCommand(c.get(), "CLUSTER KEYSLOT %b", key.data(), key.size());
  }
  for (const std::string& key : keys) {
    void* raw = nullptr;
    ASSERT_EQ(redisGetReply(c.get(), &raw), REDIS_OK);
    testing::ReplyPtr r(static_cast<redisReply*>(raw));
    ASSERT_EQ(r->type, REDIS_REPLY_INTEGER) << key;
    EXPECT_EQ(keySlot(key), r->integer) << "key '" << key << "'";
  }
}

TEST(SlotSampler, RanksArePermutation) {
  for (uint64_t seed : {0ull, 1ull, 12345ull, ~0ull}) {
    SlotSampler sampler(seed);
    std::vector<bool> seen(kSlotCount, false);
    for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
      const uint16_t rank = sampler.rank(static_cast<uint16_t>(slot));
      ASSERT_LT(rank, kSlotCount);
      ASSERT_FALSE(seen[rank]) << "rank " << rank << " twice for seed " << seed;
      seen[rank] = true;
    }
  }
}

TEST(SlotSampler, DeterministicForASeed) {
  SlotSampler a(7), b(7);
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    ASSERT_EQ(a.rank(static_cast<uint16_t>(slot)), b.rank(static_cast<uint16_t>(slot)));
  }
}

// The generator and the bounded draw are our own, so these values hold on every
// platform and standard library; a change here re-shuffles every deployment's sample.
TEST(SlotSampler, GoldenRanks) {
  SlotSampler sampler(0);
  const uint16_t expected[] = {5250, 2955, 11451, 938, 5778, 7930, 3442, 11322,
                               9713, 9282, 277, 11141, 15574, 6913, 10883, 110};
  for (uint16_t slot = 0; slot < std::size(expected); ++slot) {
    EXPECT_EQ(sampler.rank(slot), expected[slot]) << "slot " << slot;
  }
}

TEST(SlotSampler, DiffersAcrossSeeds) {
  SlotSampler a(1), b(2), zero(0);
  uint32_t different = 0, identity = 0;
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    const auto s = static_cast<uint16_t>(slot);
    different += a.rank(s) != b.rank(s);
    identity += zero.rank(s) == s;
  }
  EXPECT_GT(different, kSlotCount * 9 / 10);
  EXPECT_LT(identity, 20u);  // shuffled, not the identity
  // The 10% samples of two seeds overlap about as much as chance says (10% of 10%).
  uint32_t both = 0;
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
    both += a.sampled(static_cast<uint16_t>(slot), 1000) && b.sampled(static_cast<uint16_t>(slot), 1000);
  }
  EXPECT_LT(both, 400u);
}

TEST(SlotSampler, Thresholds) {
  EXPECT_EQ(SlotSampler::threshold(0), 0u);
  EXPECT_EQ(SlotSampler::threshold(1), 1u);  // 0.01% = 1.6384 slots
  EXPECT_EQ(SlotSampler::threshold(1000), 1638u);
  EXPECT_EQ(SlotSampler::threshold(5000), 8192u);
  EXPECT_EQ(SlotSampler::threshold(10000), kSlotCount);
}

TEST(SlotSampler, SampledCountMatchesThreshold) {
  SlotSampler sampler(99);
  for (uint32_t p : {0u, 1u, 10u, 1000u, 2550u, 9999u, 10000u}) {
    uint32_t count = 0;
    for (uint32_t slot = 0; slot < kSlotCount; ++slot) count += sampler.sampled(static_cast<uint16_t>(slot), p);
    EXPECT_EQ(count, SlotSampler::threshold(p)) << "percent*100 = " << p;
  }
  uint32_t tenPercent = 0;
  for (uint32_t slot = 0; slot < kSlotCount; ++slot) tenPercent += sampler.sampled(static_cast<uint16_t>(slot), 1000);
  EXPECT_EQ(tenPercent, 1638u);
}

TEST(SlotSampler, RaisingPercentOnlyAddsSlots) {
  SlotSampler sampler(2024);
  auto sampledSet = [&](uint32_t p) {
    std::vector<bool> in(kSlotCount);
    for (uint32_t slot = 0; slot < kSlotCount; ++slot) in[slot] = sampler.sampled(static_cast<uint16_t>(slot), p);
    return in;
  };
  auto expectSubset = [&](uint32_t p, const std::vector<bool>& small, uint32_t q, const std::vector<bool>& large) {
    for (uint32_t slot = 0; slot < kSlotCount; ++slot) {
      if (small[slot] && !large[slot]) {
        ADD_FAILURE() << "slot " << slot << " sampled at " << p << " but not at " << q;
        return;
      }
    }
  };
  // Consecutive steps over the whole range (subset is transitive, so this covers every p < q)...
  uint32_t previousP = 0;
  std::vector<bool> previous = sampledSet(0);
  for (uint32_t p = 1; p <= 10000; p = (p == 10000 ? 10001 : std::min(10000u, p + (p < 200 ? 1 : 7)))) {
    std::vector<bool> current = sampledSet(p);
    expectSubset(previousP, previous, p, current);
    previousP = p;
    previous = std::move(current);
  }
  EXPECT_EQ(previousP, 10000u);
  // ...and every pair of a few operator-style percentages directly.
  const uint32_t percents[] = {0, 1, 5, 100, 250, 1000, 1001, 2500, 5000, 9999, 10000};
  for (uint32_t p : percents) {
    for (uint32_t q : percents) {
      if (p < q) expectSubset(p, sampledSet(p), q, sampledSet(q));
    }
  }
}

TEST(SlotSampler, KeysSampledAtAboutThePercent) {
  SlotSampler sampler(5);
  uint32_t sampled = 0;
  const uint32_t n = 10000;
  for (uint32_t i = 0; i < n; ++i) {
    const std::string key = "key:" + std::to_string(i);
    sampled += sampler.sampled(keySlot(key), 1000);
  }
  EXPECT_GE(sampled, n * 8 / 100);
  EXPECT_LE(sampled, n * 12 / 100);
}

}  // namespace
}  // namespace redmirror::mirror
