// The semantic diff on typical replies: resp::parseValue of a reply, diff::compare
// of two parsed replies, and both together as the mirror does per comparison
// (WorkerMirror::resolve parses the primary's and the canary's reply, then
// compares). items/s is comparisons (or parses) per second, bytes/s the reply
// bytes (one side) handled.
//
//   comparator_bench --benchmark_filter=Compare/
//
// Instruction counts, repeatable where times are not (a shared machine):
//   valgrind --tool=callgrind comparator_bench --benchmark_filter='^BM_ParseAndCompare/5$'
//   callgrind_annotate --inclusive=yes --tree=caller callgrind.out.*
// then divide the inclusive Ir of diff::compare and resp::parseValue by their calls.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "redmirror/diff/comparator.h"
#include "redmirror/resp/value.h"

namespace {

using redmirror::diff::CompareRules;
using redmirror::diff::Outcome;
using redmirror::resp::Value;

// Built by appending (operator+ chains trip GCC 12's -Wrestrict false positive at -O3).
std::string bulk(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  out.append(1, '$').append(std::to_string(s.size())).append("\r\n").append(s).append("\r\n");
  return out;
}

// One reply shape: the primary's bytes, the canary's bytes (same meaning,
// possibly another order or protocol), the command that produced them.
struct Case {
  std::string command;
  std::string primary;
  std::string canary;
  Outcome expected = Outcome::kMatch;
};

std::vector<std::string> fieldValuePairs(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("field:" + std::to_string(i));
    out.push_back("value-" + std::to_string(i * 7919) + std::string(16, 'v'));
  }
  return out;
}

std::string flatArray(const std::vector<std::string>& items) {
  std::string out(1, '*');
  out.append(std::to_string(items.size())).append("\r\n");
  for (const auto& s : items) out.append(bulk(s));
  return out;
}

// Pairs in a shuffled order (HGETALL of the same hash on another server).
std::vector<std::string> shufflePairs(const std::vector<std::string>& flat, std::mt19937& rng) {
  std::vector<size_t> order(flat.size() / 2);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::string> out;
  for (size_t i : order) {
    out.push_back(flat[2 * i]);
    out.push_back(flat[2 * i + 1]);
  }
  return out;
}

std::vector<std::string> setMembers(int n) {
  std::vector<std::string> members;
  for (int i = 0; i < n; ++i) members.push_back("member:" + std::to_string(i * 104729 % 100003));
  return members;
}

Case makeCase(int which) {
  std::mt19937 rng(42);
  Case c;
  switch (which) {
    case 0:  // SET -> +OK
      c.command = "set";
      c.primary = c.canary = "+OK\r\n";
      break;
    case 1:  // GET -> 64-byte bulk
      c.command = "get";
      c.primary = c.canary = bulk(std::string(64, 'v'));
      break;
    case 2:  // INCR -> integer
      c.command = "incr";
      c.primary = c.canary = ":1234567\r\n";
      break;
    case 3: {  // LRANGE 0 9 -> 10 bulks, ordered
      c.command = "lrange";
      std::vector<std::string> items;
      for (int i = 0; i < 10; ++i) items.push_back("item-" + std::to_string(i) + std::string(10, 'x'));
      c.primary = c.canary = flatArray(items);
      break;
    }
    case 4: {  // HGETALL, 20 fields, canary in another order
      c.command = "hgetall";
      const auto pairs = fieldValuePairs(20);
      c.primary = flatArray(pairs);
      c.canary = flatArray(shufflePairs(pairs, rng));
      break;
    }
    case 5: {  // SMEMBERS, 100 members, shuffled
      c.command = "smembers";
      std::vector<std::string> members = setMembers(100);
      c.primary = flatArray(members);
      std::shuffle(members.begin(), members.end(), rng);
      c.canary = flatArray(members);
      break;
    }
    case 6: {  // HGETALL, 20 fields: RESP3 map on the primary, RESP2 flat array (shuffled) on the canary
      c.command = "hgetall";
      const auto pairs = fieldValuePairs(20);
      c.primary.assign(1, '%').append(std::to_string(pairs.size() / 2)).append("\r\n");
      for (const auto& s : pairs) c.primary.append(bulk(s));
      c.canary = flatArray(shufflePairs(pairs, rng));
      break;
    }
    case 7:  // GET, 64-byte bulks differing in the last byte (a divergence: detail text built)
      c.command = "get";
      c.primary = bulk(std::string(64, 'v'));
      c.canary = bulk(std::string(63, 'v') + "w");
      c.expected = Outcome::kValue;
      break;
    case 8:  // SMEMBERS, 100 members, same order (same version and encoding on both)
      c.command = "smembers";
      c.primary = c.canary = flatArray(setMembers(100));
      break;
    case 9: {  // SMEMBERS, 1000 members, shuffled
      c.command = "smembers";
      std::vector<std::string> members = setMembers(1000);
      c.primary = flatArray(members);
      std::shuffle(members.begin(), members.end(), rng);
      c.canary = flatArray(members);
      break;
    }
    case 10: {  // HGETALL, 20 fields in another order, one value differs (a divergence)
      c.command = "hgetall";
      const auto pairs = fieldValuePairs(20);
      c.primary = flatArray(pairs);
      auto changed = shufflePairs(pairs, rng);
      changed[5] += "!";
      c.canary = flatArray(changed);
      c.expected = Outcome::kValue;
      break;
    }
  }
  return c;
}

const char* const kNames[] = {"Ok",
                              "Bulk64",
                              "Integer",
                              "Array10",
                              "Hgetall20Unordered",
                              "Smembers100Shuffled",
                              "Resp3MapVsResp2Array",
                              "Bulk64Diverged",
                              "Smembers100SameOrder",
                              "Smembers1000Shuffled",
                              "Hgetall20Diverged"};
constexpr int kCases = 11;
// Cases whose replies parse like an earlier case's are not parsed again.
constexpr int kParseCases[] = {0, 1, 2, 3, 4, 5, 6, 9};

Value parseOrDie(const std::string& bytes) {
  Value v;
  std::string error;
  if (!redmirror::resp::parseValue(bytes, v, error)) {
    std::fprintf(stderr, "comparator_bench: parse failed: %s\n", error.c_str());
    std::abort();
  }
  return v;
}

CompareRules rulesOf(const Case& c) { return redmirror::diff::rulesFor(c.command, false, false, false); }

bool checkOutcome(benchmark::State& s, const Case& c, const Value& p, const Value& k) {
  const auto result = redmirror::diff::compare(rulesOf(c), p, k);
  if (result.outcome != c.expected) {
    s.SkipWithError(("unexpected outcome " + std::string(redmirror::diff::toString(result.outcome)) + ": " +
                     result.detail).c_str());
    return false;
  }
  return true;
}

// compare() alone on replies parsed once.
void BM_Compare(benchmark::State& s) {
  const Case c = makeCase(static_cast<int>(s.range(0)));
  const Value p = parseOrDie(c.primary), k = parseOrDie(c.canary);
  const CompareRules rules = rulesOf(c);
  if (!checkOutcome(s, c, p, k)) return;
  for (auto _ : s) {
    auto result = redmirror::diff::compare(rules, p, k);
    benchmark::DoNotOptimize(result);
  }
  s.SetItemsProcessed(s.iterations());
  s.SetBytesProcessed(s.iterations() * static_cast<int64_t>(c.primary.size()));
  s.SetLabel(kNames[s.range(0)]);
}

// parseValue() of the primary's reply.
void BM_Parse(benchmark::State& s) {
  const Case c = makeCase(static_cast<int>(s.range(0)));
  std::string error;
  for (auto _ : s) {
    Value v;
    bool ok = redmirror::resp::parseValue(c.primary, v, error);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(v);
  }
  s.SetItemsProcessed(s.iterations());
  s.SetBytesProcessed(s.iterations() * static_cast<int64_t>(c.primary.size()));
  s.SetLabel(kNames[s.range(0)]);
}

// What one comparison costs the mirror: parse both replies, compare.
void BM_ParseAndCompare(benchmark::State& s) {
  const Case c = makeCase(static_cast<int>(s.range(0)));
  const CompareRules rules = rulesOf(c);
  if (!checkOutcome(s, c, parseOrDie(c.primary), parseOrDie(c.canary))) return;
  std::string error;
  for (auto _ : s) {
    Value p, k;
    bool ok = redmirror::resp::parseValue(c.primary, p, error) && redmirror::resp::parseValue(c.canary, k, error);
    benchmark::DoNotOptimize(ok);
    auto result = redmirror::diff::compare(rules, p, k);
    benchmark::DoNotOptimize(result);
  }
  s.SetItemsProcessed(s.iterations());
  s.SetBytesProcessed(s.iterations() * static_cast<int64_t>(c.primary.size()));
  s.SetLabel(kNames[s.range(0)]);
}

// Unordered replies whose members all share one hash (HVALS of equal values),
// one member different: pairing must stay linear in the members (no rescan of
// the taken ones). Google Benchmark fits the complexity and prints it (BigO).
void BM_PairingEqualMembers(benchmark::State& s) {
  const auto members = static_cast<size_t>(s.range(0));
  std::string canaryBytes = "*" + std::to_string(members) + "\r\n";
  for (size_t i = 0; i < members; ++i) canaryBytes += bulk("same");
  std::string primaryBytes = "*" + std::to_string(members) + "\r\n";
  for (size_t i = 0; i < members; ++i) primaryBytes += bulk(i == members / 2 ? "other" : "same");
  const Value primary = parseOrDie(primaryBytes);
  const Value canary = parseOrDie(canaryBytes);
  CompareRules rules = redmirror::diff::rulesFor("hvals", true, false, false);
  rules.command = "hvals";
  for (auto _ : s) {
    auto result = redmirror::diff::compare(rules, primary, canary);
    benchmark::DoNotOptimize(result);
  }
  s.SetComplexityN(static_cast<int64_t>(members));
}

BENCHMARK(BM_Compare)->DenseRange(0, kCases - 1);
BENCHMARK(BM_PairingEqualMembers)->RangeMultiplier(2)->Range(5000, 40000)->Complexity();
BENCHMARK(BM_Parse)->Apply([](benchmark::internal::Benchmark* b) {
  for (const int which : kParseCases) b->Arg(which);
});
BENCHMARK(BM_ParseAndCompare)->DenseRange(0, kCases - 1);

}  // namespace
