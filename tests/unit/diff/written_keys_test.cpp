// The filter of keys the mirror wrote decides lost_write versus cold_miss: a key
// written must always be found, and keys never written must rarely be.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "redmirror/diff/report.h"

namespace redmirror::diff {
namespace {

TEST(WrittenKeysTest, WrittenKeysAreFoundAndOthersRarelyAre) {
  WrittenKeys filter(64 * 1024);  // 524,288 bits for 20,000 keys: about 0.1% false positives expected
  for (int i = 0; i < 20000; ++i) filter.insert(WrittenKeys::hash("key:" + std::to_string(i)));
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(filter.mayContain(WrittenKeys::hash("key:" + std::to_string(i)))) << i;
  }
  int falsePositives = 0;
  for (int i = 20000; i < 120000; ++i) falsePositives += filter.mayContain(WrittenKeys::hash("key:" + std::to_string(i)));
  EXPECT_LT(falsePositives, 500) << "of 100,000 keys never written";
}

TEST(WrittenKeysTest, HashesDifferForSimilarKeysOfEveryLength) {
  std::set<uint64_t> seen;
  std::string key;
  for (int length = 0; length < 40; ++length) {
    for (char last = 'a'; last <= 'z'; ++last) {
      std::string candidate = key + last;
      EXPECT_TRUE(seen.insert(WrittenKeys::hash(candidate)).second) << candidate;
    }
    key += 'x';
  }
  EXPECT_NE(WrittenKeys::hash(""), WrittenKeys::hash(std::string(1, '\0')));
  EXPECT_NE(WrittenKeys::hash("ab"), WrittenKeys::hash("ba"));
  WrittenKeys empty(1024);
  EXPECT_FALSE(empty.mayContain(WrittenKeys::hash("anything")));
  empty.insert(WrittenKeys::hash("anything"));
  empty.clear();
  EXPECT_FALSE(empty.mayContain(WrittenKeys::hash("anything")));
}

}  // namespace
}  // namespace redmirror::diff
