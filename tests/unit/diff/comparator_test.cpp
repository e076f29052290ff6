// The semantic comparator: every divergence class, RESP2/RESP3 folding, multisets,
// type-only and TTL rules. Values are built from RESP bytes with the real parser.
#include "redmirror/diff/comparator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "redmirror/resp/limits.h"
#include "parse.h"

namespace redmirror::diff {
namespace {

Comparison run(const CompareRules& rules, std::string_view primary, std::string_view canary) {
  return compare(rules, parse(primary), parse(canary));
}

std::string name(const Comparison& comparison) { return toString(comparison.outcome); }

CompareRules rules(std::string_view command) { return rulesFor(command, false, false, false); }

// Outcome name for `command` with default rules (the mirror did not write the key).
std::string outcome(std::string_view command, std::string_view primary, std::string_view canary) {
  return name(run(rules(command), primary, canary));
}

std::string written(std::string_view command, std::string_view primary, std::string_view canary) {
  CompareRules r = rules(command);
  r.keyWrittenByMirror = true;
  return name(run(r, primary, canary));
}

// Bulk string / flat array helpers for readability.
std::string bulk(std::string_view text) {
  return "$" + std::to_string(text.size()) + "\r\n" + std::string(text) + "\r\n";
}
std::string array(char type, const std::vector<std::string>& elements, size_t count = SIZE_MAX) {
  std::string out = type + std::to_string(count == SIZE_MAX ? elements.size() : count) + "\r\n";
  for (const std::string& element : elements) out += element;
  return out;
}
std::string bulks(const std::vector<std::string_view>& texts, char type = '*') {
  std::vector<std::string> elements;
  for (std::string_view text : texts) elements.push_back(bulk(text));
  const size_t count = type == '%' ? elements.size() / 2 : elements.size();
  return array(type, elements, count);
}

TEST(OutcomeNames, AllClasses) {
  EXPECT_STREQ(toString(Outcome::kMatch), "match");
  EXPECT_STREQ(toString(Outcome::kValue), "value");
  EXPECT_STREQ(toString(Outcome::kType), "type");
  EXPECT_STREQ(toString(Outcome::kErrorCanaryOnly), "error_canary_only");
  EXPECT_STREQ(toString(Outcome::kErrorPrimaryOnly), "error_primary_only");
  EXPECT_STREQ(toString(Outcome::kErrorCode), "error_code");
  EXPECT_STREQ(toString(Outcome::kErrorText), "error_text");
  EXPECT_STREQ(toString(Outcome::kLostWrite), "lost_write");
  EXPECT_STREQ(toString(Outcome::kColdMiss), "cold_miss");
}

// One case per class, each with its detail.
TEST(Compare, EveryOutcome) {
  struct Case {
    const char* command;
    std::string primary, canary;
    bool written;
    Outcome expected;
    const char* detail;
  };
  const std::vector<Case> cases = {
      {"get", bulk("v"), bulk("v"), false, Outcome::kMatch, ""},
      {"get", bulk("v1"), bulk("v2"), false, Outcome::kValue, "value differs"},
      {"get", bulk("1"), ":1\r\n", false, Outcome::kType, "string vs integer"},
      {"set", "+OK\r\n", "-ERR unknown command 'set'\r\n", false, Outcome::kErrorCanaryOnly,
       "canary error"},
      {"incr", "-ERR value is not an integer\r\n", ":1\r\n", false, Outcome::kErrorPrimaryOnly,
       "primary error"},
      {"lpush", "-WRONGTYPE Operation against a key\r\n", "-ERR no\r\n", false, Outcome::kErrorCode,
       "WRONGTYPE vs ERR"},
      {"get", "-ERR one text\r\n", "-ERR another text\r\n", false, Outcome::kErrorText,
       "error text differs (ERR)"},
      {"get", bulk("v"), "$-1\r\n", true, Outcome::kLostWrite, "canary null"},
      {"get", bulk("v"), "$-1\r\n", false, Outcome::kColdMiss, "canary null"},
  };
  for (const Case& c : cases) {
    CompareRules r = rules(c.command);
    r.keyWrittenByMirror = c.written;
    const Comparison got = run(r, c.primary, c.canary);
    EXPECT_EQ(got.outcome, c.expected) << c.command << " " << c.primary << " / " << c.canary;
    EXPECT_EQ(got.detail, c.detail) << c.command;
  }
}

TEST(Compare, ErrorsByCode) {
  EXPECT_EQ(outcome("get", "-ERR x\r\n", "-ERR x\r\n"), "match");
  EXPECT_EQ(outcome("get", "!5\r\nERR x\r\n", "-ERR x\r\n"), "match");  // blob vs simple error
  EXPECT_EQ(outcome("get", "-ERR\r\n", "-ERR x\r\n"), "error_text");
  EXPECT_EQ(outcome("get", "-NOSCRIPT x\r\n", "-ERR x\r\n"), "error_code");
  // Errors come before every other rule, including type-only and lost writes.
  EXPECT_EQ(outcome("time", bulks({"1", "2"}), "-ERR x\r\n"), "error_canary_only");
  EXPECT_EQ(written("get", "-ERR x\r\n", "$-1\r\n"), "error_primary_only");
  // A long user-defined error code is clipped in the detail.
  const Comparison long_code =
      run(rules("eval"), "-" + std::string(200, 'A') + " x\r\n", "-B x\r\n");
  EXPECT_EQ(long_code.outcome, Outcome::kErrorCode);
  EXPECT_LE(long_code.detail.size(), 80u);
}

TEST(Compare, NestedOutcomesPropagateWithPosition) {
  // EXEC: the canary refused one command of the transaction.
  const Comparison exec =
      run(rules("exec"), array('*', {"+OK\r\n", ":2\r\n"}), array('*', {"+OK\r\n", "-ERR no\r\n"}));
  EXPECT_EQ(exec.outcome, Outcome::kErrorCanaryOnly);
  EXPECT_EQ(exec.detail, "element 1: canary error");
  const Comparison nested =
      run(rules("exec"), array('*', {":1\r\n", array('*', {bulk("a"), bulk("b")})}),
          array('*', {":1\r\n", array('*', {bulk("a"), bulk("c")})}));
  EXPECT_EQ(nested.outcome, Outcome::kValue);
  EXPECT_EQ(nested.detail, "element 1.1 differs");
  const Comparison type = run(rules("exec"), array('*', {":1\r\n"}), array('*', {bulk("1")}));
  EXPECT_EQ(type.outcome, Outcome::kType);
  EXPECT_EQ(type.detail, "element 0: integer vs string");
}

TEST(Compare, MissingValueIsLostWriteOrColdMiss) {
  for (const char* null : {"$-1\r\n", "*-1\r\n", "_\r\n"}) {
    EXPECT_EQ(outcome("get", bulk("v"), null), "cold_miss") << null;
    EXPECT_EQ(written("get", bulk("v"), null), "lost_write") << null;
  }
  EXPECT_EQ(outcome("zscore", ",1.5\r\n", "_\r\n"), "cold_miss");
  EXPECT_EQ(outcome("zrank", ":3\r\n", "$-1\r\n"), "cold_miss");
  // Empty aggregate on the canary while the primary's is not.
  EXPECT_EQ(written("lrange", bulks({"a"}), "*0\r\n"), "lost_write");
  EXPECT_EQ(outcome("hgetall", bulks({"f", "v"}, '%'), "%0\r\n"), "cold_miss");
  EXPECT_EQ(outcome("smembers", bulks({"a"}, '~'), "*0\r\n"), "cold_miss");
  // Existence-like integers.
  for (const char* command : {"exists", "scard", "llen", "hlen", "zcard", "strlen", "xlen"}) {
    EXPECT_EQ(written(command, ":3\r\n", ":0\r\n"), "lost_write") << command;
  }
  EXPECT_EQ(outcome("sismember", ":1\r\n", ":0\r\n"), "cold_miss");
  EXPECT_EQ(outcome("hexists", "#t\r\n", ":0\r\n"), "cold_miss");
  EXPECT_EQ(outcome("exists", ":2\r\n", ":1\r\n"), "value");  // one of two keys: not "no value"
  EXPECT_EQ(outcome("incrby", ":3\r\n", ":0\r\n"), "value");  // not an existence command
  EXPECT_EQ(outcome("exists", ":0\r\n", ":1\r\n"), "value");  // canary has more, not less
  EXPECT_EQ(written("type", "+hash\r\n", "+none\r\n"), "lost_write");
  EXPECT_EQ(outcome("type", "+hash\r\n", "+set\r\n"), "value");
  // Not "no value": the primary has none, or the primary's answer is a status.
  EXPECT_EQ(outcome("get", "$-1\r\n", bulk("v")), "value");
  EXPECT_EQ(outcome("get", "$-1\r\n", "_\r\n"), "match");
  EXPECT_EQ(outcome("set", "+OK\r\n", "$-1\r\n"), "value");    // SET NX: the canary had the key
  EXPECT_EQ(outcome("lrange", "*0\r\n", "*-1\r\n"), "value");  // empty is not null
  // MGET: keys the canary lacks; any other difference is a value difference.
  EXPECT_EQ(outcome("mget", array('*', {bulk("a"), "$-1\r\n", bulk("c")}),
                    array('*', {"$-1\r\n", "$-1\r\n", bulk("c")})),
            "cold_miss");
  EXPECT_EQ(outcome("mget", array('*', {bulk("a"), bulk("b")}), array('*', {"$-1\r\n", bulk("x")})),
            "value");
  EXPECT_EQ(
      written("hmget", array('*', {bulk("a"), "$-1\r\n"}), array('*', {"$-1\r\n", "$-1\r\n"})),
      "lost_write");
  EXPECT_EQ(
      outcome("hmget", array('*', {bulk("a"), bulk("b")}), array('*', {"$-1\r\n", bulk("b")})),
      "value");
  EXPECT_EQ(
      outcome("smismember", array('*', {":1\r\n", ":0\r\n"}), array('*', {":0\r\n", ":0\r\n"})),
      "cold_miss");
}

TEST(Fold, NullForms) {
  for (const char* a : {"$-1\r\n", "*-1\r\n", "_\r\n"}) {
    for (const char* b : {"$-1\r\n", "*-1\r\n", "_\r\n"}) EXPECT_EQ(outcome("get", a, b), "match");
  }
}

TEST(Fold, HgetallMapVersusFlatArray) {
  const std::string resp2 = bulks({"f1", "v1", "f2", "v2"});
  EXPECT_EQ(outcome("hgetall", resp2, bulks({"f2", "v2", "f1", "v1"}, '%')), "match");
  EXPECT_EQ(outcome("hgetall", bulks({"f1", "v1", "f2", "v2"}, '%'), resp2), "match");
  EXPECT_EQ(outcome("hgetall", resp2, bulks({"f1", "v1", "f2", "vX"}, '%')), "value");
  // Map order is never significant, even for commands with ordered replies.
  EXPECT_EQ(outcome("xinfo", bulks({"a", "1", "b", "2"}, '%'), bulks({"b", "2", "a", "1"})),
            "match");
  EXPECT_EQ(outcome("config", bulks({"a", "1"}, '%'), bulks({"a", "1", "b"})), "value");
  // RESP3 XREAD map against RESP2 array of [stream, entries] pairs.
  const std::string entries = array('*', {array('*', {bulk("1-0"), bulks({"f", "v"})})});
  EXPECT_EQ(outcome("xread", array('%', {bulk("s"), entries}, 1),
                    array('*', {array('*', {bulk("s"), entries})})),
            "match");
}

TEST(Fold, HgetallComparesPairsNotElements) {
  // Same multiset of elements, different pairs: f1=a,f2=b vs f1=b,f2=a.
  const Comparison swapped =
      run(rules("hgetall"), bulks({"f1", "a", "f2", "b"}), bulks({"f1", "b", "f2", "a"}));
  EXPECT_EQ(swapped.outcome, Outcome::kValue);
  EXPECT_EQ(swapped.detail, "2 of 2 pairs unmatched");
  // Field and value exchanged.
  EXPECT_EQ(outcome("hgetall", bulks({"f", "v"}), bulks({"v", "f"}, '%')), "value");
  EXPECT_EQ(outcome("hgetall", bulks({"f", "v"}, '%'), bulks({"v", "f"}, '%')), "value");
  EXPECT_EQ(outcome("hgetall", bulks({"f1", "v", "f2", "v"}), bulks({"f2", "v", "f1", "v"})),
            "match");
  EXPECT_EQ(run(rules("hgetall"), bulks({"f", "v"}), bulks({"f", "v", "g", "w"})).detail,
            "pairs 1 vs 2");
}

TEST(Fold, SetVersusArrayIsUnordered) {
  EXPECT_EQ(outcome("smembers", bulks({"a", "b", "c"}), bulks({"c", "a", "b"}, '~')), "match");
  // A set is unordered whatever the command.
  EXPECT_EQ(outcome("sunknown", bulks({"a", "b"}, '~'), bulks({"b", "a"})), "match");
  EXPECT_EQ(outcome("smembers", bulks({"a", "b"}), bulks({"a", "c"}, '~')), "value");
  EXPECT_EQ(outcome("smembers", bulks({"a", "b"}, '~'), bulks({"a", "b"}, '%')), "type");
}

TEST(Fold, DoublesNumerically) {
  EXPECT_EQ(outcome("zscore", ",1.5\r\n", bulk("1.5")), "match");
  EXPECT_EQ(outcome("zscore", ",1.5\r\n", bulk("1.50")), "match");
  EXPECT_EQ(outcome("zscore", bulk("1.5"), bulk("1.50")), "match");  // a double-answering command
  EXPECT_EQ(outcome("zscore", bulk("0.1"), bulk("0.10000000000000001")), "match");
  EXPECT_EQ(outcome("zscore", ",1.5\r\n", ",1.6\r\n"), "value");
  EXPECT_EQ(outcome("zscore", ",inf\r\n", bulk("inf")), "match");
  EXPECT_EQ(outcome("zscore", ",-inf\r\n", bulk("-inf")), "match");
  EXPECT_EQ(outcome("zscore", ",inf\r\n", ",-inf\r\n"), "value");
  EXPECT_EQ(outcome("zscore", ",nan\r\n", ",nan\r\n"), "match");
  EXPECT_EQ(outcome("zscore", ",nan\r\n", ",1\r\n"), "value");
  EXPECT_EQ(outcome("zscore", ",1e300\r\n", bulk("1.0000000000001e300")), "match");  // relative
  EXPECT_EQ(outcome("zincrby", ",3\r\n", bulk("3")), "match");
  // For other commands a bulk string is text: "1.5" and "1.50" are different values.
  EXPECT_EQ(outcome("get", bulk("1.5"), bulk("1.50")), "value");
  EXPECT_EQ(outcome("get", ",1.5\r\n", bulk("abc")), "value");
}

TEST(Fold, ScalarShapes) {
  EXPECT_EQ(outcome("hexists", "#t\r\n", ":1\r\n"), "match");
  EXPECT_EQ(outcome("hexists", "#f\r\n", ":0\r\n"), "match");
  EXPECT_EQ(outcome("hexists", "#t\r\n", ":0\r\n"), "cold_miss");
  EXPECT_EQ(outcome("foo", "#f\r\n", ":1\r\n"), "value");
  EXPECT_EQ(outcome("info", "=9\r\ntxt:hello\r\n", bulk("hello")), "match");
  EXPECT_EQ(outcome("lolwut", "=9\r\ntxt:hello\r\n", bulk("hellO")), "value");
  EXPECT_EQ(outcome("big", "(12345678901234567890\r\n", bulk("12345678901234567890")), "match");
  EXPECT_EQ(outcome("ping", "+PONG\r\n", bulk("PONG")), "match");
  EXPECT_EQ(outcome("get", "+a\r\n", ":1\r\n"), "type");
}

TEST(Fold, PairsArrayVersusFlatArray) {
  // ZRANGE WITHSCORES: RESP3 [[m, score], ...] against RESP2 [m, "score", ...].
  const std::string resp3 =
      array('*', {array('*', {bulk("a"), ",1.5\r\n"}), array('*', {bulk("b"), ",2\r\n"})});
  EXPECT_EQ(outcome("zrange", resp3, bulks({"a", "1.5", "b", "2"})), "match");
  EXPECT_EQ(outcome("zrange", bulks({"a", "1.5", "b", "2"}), resp3), "match");
  const Comparison order = run(rules("zrange"), resp3, bulks({"b", "2", "a", "1.5"}));
  EXPECT_EQ(order.outcome, Outcome::kValue);
  EXPECT_EQ(order.detail, "element 0 differs");
  EXPECT_EQ(outcome("zrange", resp3, bulks({"a", "1.5", "b"})), "value");
}

TEST(Unordered, MultisetsKeepDuplicates) {
  EXPECT_EQ(outcome("sunion", bulks({"a", "a", "b"}), bulks({"a", "b", "b"})), "value");
  EXPECT_EQ(outcome("hvals", bulks({"a", "a", "b"}), bulks({"b", "a", "a"})), "match");
  EXPECT_EQ(outcome("keys", bulks({"a", "b"}), bulks({"a", "b", "c"})), "value");
  const Comparison detail = run(rules("sunion"), bulks({"a", "a", "b"}), bulks({"a", "b", "b"}));
  EXPECT_EQ(detail.detail, "1 of 3 elements unmatched");
}

TEST(Unordered, TipAndNestedRules) {
  // A command tipped nondeterministic_output_order.
  const CompareRules tipped = rulesFor("cluster|shards", true, false, false);
  EXPECT_EQ(name(run(tipped, bulks({"x", "y"}), bulks({"y", "x"}))), "match");
  // Inside an unordered reply, nested arrays stay ordered...
  const std::string ab = bulks({"a", "b"});
  const std::string ba = bulks({"b", "a"});
  EXPECT_EQ(name(run(tipped, array('*', {ab, bulk("z")}), array('*', {bulk("z"), ab}))), "match");
  EXPECT_EQ(name(run(tipped, array('*', {ab, bulk("z")}), array('*', {bulk("z"), ba}))), "value");
  // ...except sets and maps, which fold against arrays even when nested.
  EXPECT_EQ(name(run(tipped, array('*', {bulks({"a", "b"}, '~'), bulk("z")}),
                     array('*', {bulk("z"), ba}))),
            "match");
  // Doubles against bulks inside a multiset.
  EXPECT_EQ(
      name(run(tipped, array('*', {",1.5\r\n", bulk("x")}), array('*', {bulk("x"), bulk("1.5")}))),
      "match");
}

TEST(Unordered, LargeSetsCompareInAnyOrder) {
  std::vector<std::string> forward, backward;
  for (int i = 0; i < 5000; ++i) forward.push_back(bulk("member:" + std::to_string(i)));
  backward.assign(forward.rbegin(), forward.rend());
  EXPECT_EQ(outcome("smembers", array('*', forward), array('~', backward)), "match");
  backward[17] = bulk("other");
  const Comparison differ = run(rules("smembers"), array('*', forward), array('~', backward));
  EXPECT_EQ(differ.outcome, Outcome::kValue);
  EXPECT_EQ(differ.detail, "1 of 5000 elements unmatched");
}

TEST(Ordered, OrderMatters) {
  const Comparison order = run(rules("lrange"), bulks({"a", "b"}), bulks({"b", "a"}));
  EXPECT_EQ(order.outcome, Outcome::kValue);
  EXPECT_EQ(order.detail, "element 0 differs");
  const Comparison length =
      run(rules("lrange"), bulks({"a", "b", "c"}), bulks({"a", "b", "c", "d"}));
  EXPECT_EQ(length.outcome, Outcome::kValue);
  EXPECT_EQ(length.detail, "length 3 vs 4");
  EXPECT_EQ(outcome("lrange", bulks({"a", "b"}), bulks({"a", "b"})), "match");
  // Push and array are the same shape.
  EXPECT_EQ(outcome("subscribe", array('>', {bulk("message"), bulk("c")}), bulks({"message", "c"})),
            "match");
}

TEST(TypeOnly, NondeterministicCommands) {
  EXPECT_EQ(outcome("srandmember", bulk("a"), bulk("b")), "match");
  EXPECT_EQ(outcome("srandmember", bulks({"a", "b"}), bulks({"c"}, '~')), "match");
  EXPECT_EQ(outcome("srandmember", bulk("a"), bulks({"a"})), "type");
  EXPECT_EQ(outcome("randomkey", bulk("k1"), bulk("k2")), "match");
  EXPECT_EQ(outcome("randomkey", bulk("k1"), "$-1\r\n"), "cold_miss");  // empty canary
  EXPECT_EQ(outcome("randomkey", "$-1\r\n", bulk("k1")), "value");
  EXPECT_EQ(outcome("time", bulks({"1700000000", "1"}), bulks({"1700000001", "999999"})), "match");
  EXPECT_EQ(outcome("time", bulks({"1700000000", "1"}), ":1\r\n"), "type");
  EXPECT_EQ(outcome("zrandmember", ",1.5\r\n", bulk("x")), "match");  // double folds to bulk
  EXPECT_EQ(outcome("object", bulk("listpack"), bulk("hashtable")), "match");
  // A policy or the command table's tip makes any command type-only.
  EXPECT_EQ(name(run(rulesFor("get", false, false, true), bulk("a"), bulk("b"))), "match");
  EXPECT_EQ(name(run(rulesFor("x", false, true, false), ":1\r\n", ":2\r\n")), "match");
}

TEST(Ttl, Tolerance) {
  EXPECT_EQ(outcome("ttl", ":100\r\n", ":99\r\n"), "match");
  EXPECT_EQ(outcome("ttl", ":100\r\n", ":102\r\n"), "match");  // 2000 ms → 2 s
  const Comparison far = run(rules("ttl"), ":100\r\n", ":90\r\n");
  EXPECT_EQ(far.outcome, Outcome::kValue);
  EXPECT_EQ(far.detail, "ttl differs by 10s");
  EXPECT_EQ(outcome("pttl", ":100000\r\n", ":98500\r\n"), "match");
  EXPECT_EQ(outcome("pttl", ":100000\r\n", ":97000\r\n"), "value");
  EXPECT_EQ(outcome("expiretime", ":1700000100\r\n", ":1700000101\r\n"), "match");
  EXPECT_EQ(outcome("pexpiretime", ":1700000100000\r\n", ":1700000103000\r\n"), "value");
  CompareRules tight = rules("ttl");
  tight.ttlToleranceMs = 1;  // rounds up to one second
  EXPECT_EQ(name(run(tight, ":100\r\n", ":99\r\n")), "match");
  EXPECT_EQ(name(run(tight, ":100\r\n", ":98\r\n")), "value");
}

TEST(Ttl, NegativeRepliesMustBeEqual) {
  EXPECT_EQ(outcome("ttl", ":-1\r\n", ":-1\r\n"), "match");
  const Comparison noExpire = run(rules("ttl"), ":-1\r\n", ":100\r\n");
  EXPECT_EQ(noExpire.outcome, Outcome::kValue);
  EXPECT_EQ(noExpire.detail, "primary no expire, canary expire");
  EXPECT_EQ(outcome("ttl", ":100\r\n", ":-1\r\n"), "value");
  EXPECT_EQ(outcome("ttl", ":-2\r\n", ":-2\r\n"), "match");
  EXPECT_EQ(outcome("ttl", ":-2\r\n", ":1\r\n"), "value");  // canary kept a key the primary lost
  // No key on the canary only.
  EXPECT_EQ(outcome("ttl", ":100\r\n", ":-2\r\n"), "cold_miss");
  EXPECT_EQ(written("ttl", ":100\r\n", ":-2\r\n"), "lost_write");
  EXPECT_EQ(written("pttl", ":-1\r\n", ":-2\r\n"), "lost_write");
}

TEST(Details, ShortAndValueFree) {
  const std::string secret = "s3cr3t-" + std::string(300, 'x');
  const Comparison value = run(rules("get"), bulk(secret), bulk(secret + "y"));
  EXPECT_EQ(value.outcome, Outcome::kValue);
  EXPECT_EQ(value.detail.find("s3cr3t"), std::string::npos);
  const Comparison nested = run(rules("lrange"), bulks({"a", secret}), bulks({"a", "b"}));
  EXPECT_EQ(nested.detail.find("s3cr3t"), std::string::npos);
  const Comparison errors = run(rules("get"), "-ERR " + secret + "\r\n", "-ERR x\r\n");
  EXPECT_EQ(errors.outcome, Outcome::kErrorText);
  EXPECT_EQ(errors.detail.find("s3cr3t"), std::string::npos);
  // Deep nesting keeps the detail within bounds.
  std::string deepP = bulk("a"), deepC = bulk("b");
  for (int i = 0; i < 60; ++i) {
    deepP = array('*', {":1\r\n", deepP});
    deepC = array('*', {":1\r\n", deepC});
  }
  const Comparison deep = run(rules("x"), deepP, deepC);
  EXPECT_EQ(deep.outcome, Outcome::kValue);
  EXPECT_LE(deep.detail.size(), 80u);
}

TEST(Attributes, Ignored) {
  EXPECT_EQ(outcome("get", "|1\r\n+key-popularity\r\n:1\r\n" + bulk("v"), bulk("v")), "match");
}

TEST(RulesFor, Flags) {
  for (const char* command :
       {"smembers", "sinter", "sunion", "sdiff", "hkeys", "hvals", "hgetall", "keys"}) {
    const CompareRules r = rulesFor(command, false, false, false);
    EXPECT_TRUE(r.unordered) << command;
    EXPECT_FALSE(r.typeOnly) << command;
    EXPECT_FALSE(r.ttlLike) << command;
  }
  for (const char* command : {"get", "lrange", "zrange", "zrangebyscore", "sdiffstore", "ttl"}) {
    EXPECT_FALSE(rulesFor(command, false, false, false).unordered) << command;
  }
  EXPECT_TRUE(rulesFor("pubsub|channels", true, false, false).unordered);
  for (const char* command :
       {"randomkey", "srandmember", "hrandfield", "zrandmember", "spop", "time", "lastsave", "info",
        "object", "memory|usage", "object|freq", "scan"}) {
    EXPECT_TRUE(rulesFor(command, false, false, false).typeOnly) << command;
  }
  EXPECT_FALSE(rulesFor("get", false, false, false).typeOnly);
  EXPECT_TRUE(rulesFor("get", false, true, false).typeOnly);
  EXPECT_TRUE(rulesFor("get", false, false, true).typeOnly);
  const CompareRules ttl = rulesFor("ttl", false, false, false);
  EXPECT_TRUE(ttl.ttlLike);
  EXPECT_TRUE(ttl.ttlInSeconds);
  EXPECT_TRUE(rulesFor("expiretime", false, false, false).ttlInSeconds);
  const CompareRules pttl = rulesFor("pttl", false, false, false);
  EXPECT_TRUE(pttl.ttlLike);
  EXPECT_FALSE(pttl.ttlInSeconds);
  EXPECT_TRUE(rulesFor("pexpiretime", false, false, false).ttlLike);
  EXPECT_FALSE(rulesFor("pexpiretime", false, false, false).ttlInSeconds);
  EXPECT_FALSE(rulesFor("expire", false, false, false).ttlLike);
  EXPECT_EQ(ttl.ttlToleranceMs, 2000);
  EXPECT_FALSE(ttl.keyWrittenByMirror);
  EXPECT_EQ(rulesFor("hgetall", false, false, false).command, "hgetall");
}

// Replies as deep as the parser follows (a Lua script's nested tables) compare
// like any other: equal ones match, a change deep inside is found.
TEST(Comparator, RepliesAsDeepAsTheParserAllowsAreCompared) {
  std::string same;
  for (size_t i = 0; i + 1 < resp::kMaxReplyDepth; ++i) same += "*1\r\n";
  EXPECT_EQ(outcome("eval", same + ":1\r\n", same + ":1\r\n"), "match");
  EXPECT_EQ(outcome("eval", same + ":1\r\n", same + ":2\r\n"), "value");
}

}  // namespace
}  // namespace redmirror::diff
