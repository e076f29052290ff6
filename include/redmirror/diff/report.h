#pragma once
// Per-canary accounting of comparisons for REPORT (DESIGN.md "Diff", Report
// JSON): counters by class and by command, latency histograms of both sides,
// error counts, and a bounded ring of divergence samples. Each worker writes its
// own CanaryReport (under a mutex only the control thread also takes, when it
// merges them); nothing here is on the forwarding path.
#include <array>
#include <atomic>
#include <memory>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "redmirror/diff/comparator.h"

namespace redmirror::diff {

// Log-linear histogram of microseconds: 32 sub-buckets per power of two
// (about 3% relative error), from 0 to 2^40 µs.
class LatencyHistogram {
 public:
  void record(uint64_t micros);
  void merge(const LatencyHistogram& other);
  // Upper bound of the bucket holding the p-th percentile (p in 0..100); 0 when empty.
  uint64_t percentile(double p) const;
  uint64_t count() const { return count_; }

 private:
  static constexpr int kSubBits = 5;
  static constexpr int kMaxExponent = 40;
  static size_t bucketOf(uint64_t micros);
  static uint64_t upperBound(size_t bucket);
  std::array<uint64_t, (kMaxExponent + 1) << kSubBits> buckets_{};
  uint64_t count_ = 0;
};

struct DivergenceSample {
  int64_t atUnixMs = 0;
  std::string command;  // rendered, redacted, at most 32 arguments
  std::string key;      // keyed hash unless keys are shown plainly
  Outcome outcome = Outcome::kMatch;
  std::string detail;
  std::string primary;  // rendered reply, truncated
  std::string canary;
};

struct CommandCounts {
  uint64_t compared = 0;
  uint64_t diverged = 0;
};

// What one worker saw of one canary in the current window.
struct ReportData {
  uint64_t compared = 0;
  uint64_t matched = 0;
  uint64_t diverged = 0;
  std::map<std::string, uint64_t> outcomes;  // divergence class -> count (lost_write/cold_miss too)
  std::map<std::string, uint64_t> skipped;   // reason -> count
  uint64_t primaryErrors = 0;
  uint64_t canaryErrors = 0;
  LatencyHistogram primaryLatency;
  LatencyHistogram canaryLatency;
  std::map<std::string, CommandCounts, std::less<>> byCommand;  // found by string_view: no copy per comparison
  std::deque<DivergenceSample> samples;  // newest last

  void merge(const ReportData& other, size_t maxSamples);
};

class CanaryReport {
 public:
  static constexpr size_t kMaxSamples = 64;
  static constexpr size_t kMaxCommands = 512;  // distinct names counted; the rest under "(other)"

  // cold_miss is an explained non-divergence: counted by class but not as diverged.
  void recordComparison(std::string_view command, const Comparison& result, uint64_t primaryMicros,
                        uint64_t canaryMicros, bool primaryError, bool canaryError);
  void recordSample(DivergenceSample sample);
  void recordSkip(std::string_view reason, uint64_t count = 1);
  ReportData snapshot() const;
  void reset();

 private:
  mutable std::mutex mutex_;
  ReportData data_;
  // The counts of the command compared last: most comparisons repeat it.
  CommandCounts* lastCounts_ = nullptr;
  std::string_view lastCommand_;  // the key of lastCounts_'s map node
};

// How reports show keys and values (Principle 5: safe by default).
struct Redaction {
  bool plainKeys = false;    // --report-keys plain
  bool fullValues = false;   // --report-values
  std::string hashKey;       // HMAC key for key hashes (random per start unless configured)
  size_t maxValueBytes = 128;
  size_t maxArguments = 32;

  std::string showKey(std::string_view key) const;
  // A value: printable, escaped, truncated to maxValueBytes unless fullValues.
  std::string showValue(std::string_view value) const;
  // A command for a sample, given its arguments (args[0] = name) and the
  // positions of its keys; secrets of AUTH, HELLO ... AUTH, ACL SETUSER,
  // CONFIG SET *pass*, MIGRATE ... AUTH/AUTH2 are always "(redacted)".
  std::string showCommand(const std::vector<std::string_view>& args,
                          const std::vector<uint32_t>& keyPositions) const;
};

// Renders a parsed reply compactly for a sample (RESP-like, escaped).
// Most bytes a rendered reply takes, whole values included (then cut with "...").
inline constexpr size_t kMaxRenderedBytes = 64 * 1024;
std::string renderReply(const resp::Value& value, const Redaction& redaction);

// The REPORT JSON of DESIGN.md for one canary.
nlohmann::ordered_json reportJson(const std::string& canary, uint32_t percentHundredths, double windowSeconds,
                          uint64_t mirrored, const ReportData& data);

// Bounded set of keys the mirror wrote to a canary in this window (a Bloom
// filter: false positives turn a cold miss into a lost write, never the
// reverse). One per canary, shared by every worker: a key written through one
// worker and read through another must be found. Bits are set with relaxed
// atomic ORs; RESET clears them (a write racing the clear may be forgotten).
class WrittenKeys {
 public:
  explicit WrittenKeys(size_t bytes = 1 << 20);
  void insert(uint64_t keyHash);
  bool mayContain(uint64_t keyHash) const;
  void clear();
  static uint64_t hash(std::string_view key);

 private:
  static constexpr int kProbes = 4;
  std::unique_ptr<std::atomic<uint64_t>[]> bits_;
  size_t words_ = 0;
  uint64_t mask_ = 0;
};

}  // namespace redmirror::diff
