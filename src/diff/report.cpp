#include "redmirror/diff/report.h"

#include "redmirror/resp/ascii.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>

namespace redmirror::diff {

// ---------------------------------------------------------------- histogram

size_t LatencyHistogram::bucketOf(uint64_t micros) {
  if (micros < (1u << kSubBits)) return static_cast<size_t>(micros);
  const int exponent = 63 - std::countl_zero(micros);  // >= kSubBits
  const int shift = exponent - kSubBits;
  const uint64_t sub = (micros >> shift) & ((1u << kSubBits) - 1);
  const size_t bucket = (static_cast<size_t>(shift + 1) << kSubBits) + sub;
  const size_t last = ((kMaxExponent + 1) << kSubBits) - 1;
  return bucket < last ? bucket : last;
}

uint64_t LatencyHistogram::upperBound(size_t bucket) {
  if (bucket < (1u << kSubBits)) return bucket;
  const size_t shift = (bucket >> kSubBits) - 1;
  const uint64_t sub = bucket & ((1u << kSubBits) - 1);
  return (((1ull << kSubBits) | sub) << shift) + ((1ull << shift) - 1);
}

void LatencyHistogram::record(uint64_t micros) {
  ++buckets_[bucketOf(micros)];
  ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
}

uint64_t LatencyHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(p / 100.0 * static_cast<double>(count_) + 0.999999));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return upperBound(i);
  }
  return upperBound(buckets_.size() - 1);
}

// ---------------------------------------------------------------- accounting

void ReportData::merge(const ReportData& other, size_t maxSamples) {
  compared += other.compared;
  matched += other.matched;
  diverged += other.diverged;
  for (const auto& [name, count] : other.outcomes) outcomes[name] += count;
  for (const auto& [name, count] : other.skipped) skipped[name] += count;
  primaryErrors += other.primaryErrors;
  canaryErrors += other.canaryErrors;
  primaryLatency.merge(other.primaryLatency);
  canaryLatency.merge(other.canaryLatency);
  for (const auto& [name, counts] : other.byCommand) {
    CommandCounts& mine = byCommand[name];
    mine.compared += counts.compared;
    mine.diverged += counts.diverged;
  }
  samples.insert(samples.end(), other.samples.begin(), other.samples.end());
  std::sort(samples.begin(), samples.end(),
            [](const DivergenceSample& a, const DivergenceSample& b) { return a.atUnixMs < b.atUnixMs; });
  while (samples.size() > maxSamples) samples.pop_front();
}

void CanaryReport::recordComparison(std::string_view command, const Comparison& result,
                                    uint64_t primaryMicros, uint64_t canaryMicros, bool primaryError,
                                    bool canaryError) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++data_.compared;
  // A cold miss is explained (the key predates mirroring): not held against the canary.
  const bool diverged = result.outcome != Outcome::kMatch && result.outcome != Outcome::kColdMiss;
  if (result.outcome == Outcome::kMatch) {
    ++data_.matched;
  } else {
    ++data_.outcomes[toString(result.outcome)];
  }
  if (diverged) ++data_.diverged;
  if (primaryError) ++data_.primaryErrors;
  if (canaryError) ++data_.canaryErrors;
  data_.primaryLatency.record(primaryMicros);
  data_.canaryLatency.record(canaryMicros);
  CommandCounts* counts = lastCounts_;
  if (counts == nullptr || lastCommand_ != command) {
    auto found = data_.byCommand.find(command);
    if (found == data_.byCommand.end()) {
      const std::string_view name = data_.byCommand.size() >= kMaxCommands ? "(other)" : command;
      found = data_.byCommand.try_emplace(std::string(name)).first;
    }
    counts = &found->second;
    // Only a command counted under its own name is cached ("(other)" is not its key).
    const bool own = found->first == command;
    lastCounts_ = own ? counts : nullptr;
    lastCommand_ = own ? std::string_view(found->first) : std::string_view();
  }
  ++counts->compared;
  if (diverged) ++counts->diverged;
}

void CanaryReport::recordSample(DivergenceSample sample) {
  std::lock_guard<std::mutex> lock(mutex_);
  data_.samples.push_back(std::move(sample));
  while (data_.samples.size() > kMaxSamples) data_.samples.pop_front();
}

void CanaryReport::recordSkip(std::string_view reason, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  data_.skipped[std::string(reason)] += count;
}

ReportData CanaryReport::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return data_;
}

void CanaryReport::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  data_ = ReportData{};
  lastCounts_ = nullptr;
  lastCommand_ = {};
}

// ---------------------------------------------------------------- redaction

namespace {

std::string hex(const unsigned char* bytes, size_t length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < length; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

using resp::equalsIgnoreCase;

bool containsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (equalsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// Which arguments of a command are secrets (always redacted).
std::vector<bool> secretArguments(const std::vector<std::string_view>& args) {
  std::vector<bool> secret(args.size(), false);
  if (args.empty()) return secret;
  const std::string_view name = args[0];
  if (equalsIgnoreCase(name, "auth")) {
    for (size_t i = 1; i < args.size(); ++i) secret[i] = true;
  } else if (equalsIgnoreCase(name, "hello")) {
    for (size_t i = 1; i + 2 < args.size(); ++i) {
      if (equalsIgnoreCase(args[i], "auth")) secret[i + 1] = secret[i + 2] = true;  // AUTH user pass
    }
  } else if (equalsIgnoreCase(name, "acl") && args.size() > 1 && equalsIgnoreCase(args[1], "setuser")) {
    for (size_t i = 3; i < args.size(); ++i) secret[i] = true;  // rules carry >password and #hash
  } else if (equalsIgnoreCase(name, "config") && args.size() > 1 && equalsIgnoreCase(args[1], "set")) {
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      if (containsIgnoreCase(args[i], "pass") || containsIgnoreCase(args[i], "secret") ||
          containsIgnoreCase(args[i], "key")) {
        secret[i + 1] = true;
      }
    }
  } else if (equalsIgnoreCase(name, "migrate")) {
    for (size_t i = 1; i < args.size(); ++i) {
      if (equalsIgnoreCase(args[i], "auth") && i + 1 < args.size()) {
        secret[i + 1] = true;
      } else if (equalsIgnoreCase(args[i], "auth2") && i + 2 < args.size()) {
        secret[i + 1] = secret[i + 2] = true;
      }
    }
  }
  return secret;
}

}  // namespace

std::string Redaction::showKey(std::string_view key) const {
  if (plainKeys) return showValue(key);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), hashKey.data(), static_cast<int>(hashKey.size()),
       reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest, &length);
  return "h:" + hex(digest, 8);
}

std::string Redaction::showValue(std::string_view value) const {
  std::string out;
  const size_t limit = fullValues ? value.size() : std::min(value.size(), maxValueBytes);
  for (size_t i = 0; i < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (limit < value.size()) out += "...(" + std::to_string(value.size()) + " bytes)";
  return out;
}

std::string Redaction::showCommand(const std::vector<std::string_view>& args,
                                   const std::vector<uint32_t>& keyPositions) const {
  const std::vector<bool> secret = secretArguments(args);
  std::string out;
  const size_t shown = std::min(args.size(), maxArguments);
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += ' ';
    if (secret[i]) {
      out += "(redacted)";
    } else if (i > 0 && std::find(keyPositions.begin(), keyPositions.end(), i) != keyPositions.end()) {
      out += showKey(args[i]);
    } else if (i == 0) {
      for (char c : args[0]) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else {
      out += showValue(args[i]);
    }
  }
  if (shown < args.size()) out += " ...(" + std::to_string(args.size() - shown) + " more)";
  return out;
}

std::string renderReply(const resp::Value& value, const Redaction& redaction) {
  std::string out;
  // Whole values (--report-values) too stop here: a sample of an 8 MiB reply
  // would otherwise be kept whole in every worker's ring.
  const size_t limit = redaction.fullValues ? kMaxRenderedBytes : redaction.maxValueBytes * 4;
  std::function<void(const resp::Value&)> render = [&](const resp::Value& v) {
    if (out.size() > limit) return;
    if (v.isNull) {
      out += "(nil)";
      return;
    }
    switch (v.type) {
      case ':':
        out += std::to_string(v.integer);
        break;
      case '-': case '!':
        out += "(error) " + redaction.showValue(v.text);
        break;
      case '*': case '%': case '~': case '>': {
        out += v.type == '%' ? "{" : v.type == '~' ? "(" : "[";
        for (size_t i = 0; i < v.elements.size(); ++i) {
          if (out.size() > limit) {
            out += ", ...";
            break;
          }
          if (i > 0) out += ", ";
          render(v.elements[i]);
        }
        out += v.type == '%' ? "}" : v.type == '~' ? ")" : "]";
        break;
      }
      default:
        out += '"' + redaction.showValue(v.text) + '"';
    }
  };
  render(value);
  return out;
}

nlohmann::ordered_json reportJson(const std::string& canary, uint32_t percentHundredths, double windowSeconds,
                          uint64_t mirrored, const ReportData& data) {
  using json = nlohmann::ordered_json;
  auto latency = [](const LatencyHistogram& histogram) {
    return json{{"p50", histogram.percentile(50)},
                {"p90", histogram.percentile(90)},
                {"p99", histogram.percentile(99)},
                {"count", histogram.count()}};
  };
  json divergences = json::object();
  for (const auto& [name, count] : data.outcomes) divergences[name] = count;
  json skipped = json::object();
  for (const auto& [name, count] : data.skipped) skipped[name] = count;
  json byCommand = json::object();
  for (const auto& [name, counts] : data.byCommand) {
    byCommand[name] = json{{"compared", counts.compared}, {"diverged", counts.diverged}};
  }
  json samples = json::array();
  for (const DivergenceSample& sample : data.samples) {
    samples.push_back(json{{"at", sample.atUnixMs},
                           {"command", sample.command},
                           {"key", sample.key},
                           {"class", toString(sample.outcome)},
                           {"detail", sample.detail},
                           {"primary", sample.primary},
                           {"canary", sample.canary}});
  }
  return json{{"canary", canary},
              {"percent", percentHundredths / 100.0},
              {"window_seconds", windowSeconds},
              {"mirrored", mirrored},
              {"compared", data.compared},
              {"matched", data.matched},
              {"diverged", data.diverged},
              {"divergences", divergences},
              {"skipped", skipped},
              {"errors", json{{"primary", data.primaryErrors}, {"canary", data.canaryErrors}}},
              {"latency_us", json{{"primary", latency(data.primaryLatency)}, {"canary", latency(data.canaryLatency)}}},
              {"by_command", byCommand},
              {"samples", samples}};
}

// ---------------------------------------------------------------- written keys

WrittenKeys::WrittenKeys(size_t bytes) {
  size_t words = 1;
  while (words * 8 < bytes) words <<= 1;
  bits_ = std::make_unique<std::atomic<uint64_t>[]>(words);
  words_ = words;
  mask_ = words * 64 - 1;
  clear();
}

uint64_t WrittenKeys::hash(std::string_view key) {
  // Eight bytes at a time (every mirrored write hashes its keys), each word
  // mixed in by a multiply and a shift, then murmur3's finaliser: the filter
  // needs two independent-looking halves for double hashing.
  const auto* bytes = reinterpret_cast<const unsigned char*>(key.data());
  size_t left = key.size();
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (key.size() * 0xff51afd7ed558ccdULL);
  for (; left >= 8; left -= 8, bytes += 8) {
    uint64_t word;
    std::memcpy(&word, bytes, sizeof word);
    h = (h ^ word) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < left; ++i) tail |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

void WrittenKeys::insert(uint64_t keyHash) {
  const uint64_t h2 = (keyHash >> 32) | 1;
  for (int i = 0; i < kProbes; ++i) {
    const uint64_t bit = (keyHash + static_cast<uint64_t>(i) * h2) & mask_;
    std::atomic<uint64_t>& word = bits_[bit >> 6];
    const uint64_t flag = 1ULL << (bit & 63);
    // Most writes repeat keys already in the filter: read before paying for the locked OR.
    if ((word.load(std::memory_order_relaxed) & flag) == 0) word.fetch_or(flag, std::memory_order_relaxed);
  }
}

bool WrittenKeys::mayContain(uint64_t keyHash) const {
  const uint64_t h2 = (keyHash >> 32) | 1;
  for (int i = 0; i < kProbes; ++i) {
    const uint64_t bit = (keyHash + static_cast<uint64_t>(i) * h2) & mask_;
    if ((bits_[bit >> 6].load(std::memory_order_relaxed) & (1ULL << (bit & 63))) == 0) return false;
  }
  return true;
}

void WrittenKeys::clear() {
  for (size_t i = 0; i < words_; ++i) bits_[i].store(0, std::memory_order_relaxed);
}

}  // namespace redmirror::diff
