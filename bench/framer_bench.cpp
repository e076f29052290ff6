// RESP framers beside hiredis's redisReader (redisReaderFeed + redisReaderGetReply,
// default object functions, freeReplyObject per reply) on the same bytes, fed in
// 16 KiB spans as reads would deliver them. Bytes/s and items/s (commands or
// replies) are reported for each.
//
//   framer_bench --benchmark_filter=GetSet
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <span>
#include <string>

#include "redmirror/resp/reply_framer.h"
#include "redmirror/resp/request_framer.h"

namespace {

using redmirror::resp::CommandFrame;
using redmirror::resp::ReplyFrame;
using redmirror::resp::ReplyFramer;
using redmirror::resp::ReplySink;
using redmirror::resp::RequestFramer;
using redmirror::resp::RequestSink;

constexpr size_t kSpan = 16 * 1024;
constexpr size_t kPipelineBytes = 1 << 20;

std::string bulk(std::string_view s) {
  std::string out(1, '$');  // appends: GCC 12 -O3 warns (-Wrestrict) on chained operator+
  out += std::to_string(s.size());
  out += "\r\n";
  out += s;
  out += "\r\n";
  return out;
}

// A pipelined workload and the replies a server would send to it.
struct Workload {
  std::string requests;
  std::string replies;
  int64_t commands = 0;
};

// ~1 MiB of GET/SET (50/50, random order): 16-byte keys, 64-byte values.
const Workload& getSetWorkload() {
  static const Workload w = [] {
    Workload w;
    std::mt19937 rng(42);
    const std::string value(64, 'v');
    char key[32];
    while (w.requests.size() < kPipelineBytes) {
      std::snprintf(key, sizeof key, "key:%012u", static_cast<unsigned>(rng() % 1000000));
      if (rng() % 2 == 0) {
        w.requests += "*3\r\n" + bulk("SET") + bulk(key) + bulk(value);
        w.replies += "+OK\r\n";
      } else {
        w.requests += "*2\r\n" + bulk("GET") + bulk(key);
        w.replies += bulk(value);
      }
      ++w.commands;
    }
    return w;
  }();
  return w;
}

// 8 SETs of 1 MiB values and their GET replies.
const Workload& largeBulkWorkload() {
  static const Workload w = [] {
    Workload w;
    const std::string value(1 << 20, 'x');
    for (int i = 0; i < 8; ++i) {
      w.requests += "*3\r\n" + bulk("SET") + bulk("big:" + std::to_string(i)) + bulk(value);
      w.replies += bulk(value);
      ++w.commands;
    }
    return w;
  }();
  return w;
}

// Reply streams of a single shape, ~1 MiB each.
std::string repeatTo(std::string_view unit, size_t bytes, int64_t& count) {
  std::string out;
  count = 0;
  while (out.size() < bytes) {
    out += unit;
    ++count;
  }
  return out;
}

class CountingRequestSink : public RequestSink {
 public:
  void onCommand(const CommandFrame& f) override {
    ++count;
    argc += f.argc;
  }
  int64_t count = 0;
  uint64_t argc = 0;
};

class CountingReplySink : public ReplySink {
 public:
  void onReply(const ReplyFrame& f) override {
    ++count;
    types += static_cast<unsigned char>(f.top.type);
  }
  int64_t count = 0;
  uint64_t types = 0;
};

void report(benchmark::State& state, size_t bytes, int64_t items) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * items);
}

void runRequestFramer(benchmark::State& state, const std::string& in, int64_t expected) {
  for (auto _ : state) {
    RequestFramer framer;
    CountingRequestSink sink;
    for (size_t at = 0; at < in.size(); at += kSpan) {
      framer.feed(std::span<const char>(in.data() + at, std::min(kSpan, in.size() - at)), sink);
    }
    if (sink.count != expected || framer.failed()) state.SkipWithError("request framer miscounted");
    benchmark::DoNotOptimize(sink.argc);
  }
  report(state, in.size(), expected);
}

void runReplyFramer(benchmark::State& state, const std::string& in, int64_t expected) {
  for (auto _ : state) {
    ReplyFramer framer;
    CountingReplySink sink;
    for (size_t at = 0; at < in.size(); at += kSpan) {
      framer.feed(std::span<const char>(in.data() + at, std::min(kSpan, in.size() - at)), sink);
    }
    if (sink.count != expected || framer.failed()) state.SkipWithError("reply framer miscounted");
    benchmark::DoNotOptimize(sink.types);
  }
  report(state, in.size(), expected);
}

void runRedisReader(benchmark::State& state, const std::string& in, int64_t expected) {
  for (auto _ : state) {
    redisReader* reader = redisReaderCreate();
    int64_t count = 0;
    for (size_t at = 0; at < in.size(); at += kSpan) {
      redisReaderFeed(reader, in.data() + at, std::min(kSpan, in.size() - at));
      void* reply = nullptr;
      while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nullptr) {
        ++count;
        freeReplyObject(reply);
      }
    }
    redisReaderFree(reader);
    if (count != expected) state.SkipWithError("redisReader miscounted");
  }
  report(state, in.size(), expected);
}

// --- pipelined GET/SET ---
void BM_RequestFramer_GetSet(benchmark::State& s) { runRequestFramer(s, getSetWorkload().requests, getSetWorkload().commands); }
void BM_RedisReader_GetSetRequests(benchmark::State& s) { runRedisReader(s, getSetWorkload().requests, getSetWorkload().commands); }
void BM_ReplyFramer_GetSet(benchmark::State& s) { runReplyFramer(s, getSetWorkload().replies, getSetWorkload().commands); }
void BM_RedisReader_GetSetReplies(benchmark::State& s) { runRedisReader(s, getSetWorkload().replies, getSetWorkload().commands); }

// --- single-shape reply streams ---
void BM_ReplyFramer_Ok(benchmark::State& s) {
  static int64_t n = 0;
  static const std::string in = repeatTo("+OK\r\n", kPipelineBytes, n);
  runReplyFramer(s, in, n);
}
void BM_RedisReader_Ok(benchmark::State& s) {
  static int64_t n = 0;
  static const std::string in = repeatTo("+OK\r\n", kPipelineBytes, n);
  runRedisReader(s, in, n);
}
void BM_ReplyFramer_Bulk64(benchmark::State& s) {
  static int64_t n = 0;
  static const std::string in = repeatTo(bulk(std::string(64, 'v')), kPipelineBytes, n);
  runReplyFramer(s, in, n);
}
void BM_RedisReader_Bulk64(benchmark::State& s) {
  static int64_t n = 0;
  static const std::string in = repeatTo(bulk(std::string(64, 'v')), kPipelineBytes, n);
  runRedisReader(s, in, n);
}

// --- large bulk values (1 MiB each) ---
void BM_RequestFramer_LargeBulk(benchmark::State& s) { runRequestFramer(s, largeBulkWorkload().requests, largeBulkWorkload().commands); }
void BM_RedisReader_LargeBulkRequests(benchmark::State& s) { runRedisReader(s, largeBulkWorkload().requests, largeBulkWorkload().commands); }
void BM_ReplyFramer_LargeBulk(benchmark::State& s) { runReplyFramer(s, largeBulkWorkload().replies, largeBulkWorkload().commands); }
void BM_RedisReader_LargeBulkReplies(benchmark::State& s) { runRedisReader(s, largeBulkWorkload().replies, largeBulkWorkload().commands); }

BENCHMARK(BM_RequestFramer_GetSet);
BENCHMARK(BM_RedisReader_GetSetRequests);
BENCHMARK(BM_ReplyFramer_GetSet);
BENCHMARK(BM_RedisReader_GetSetReplies);
BENCHMARK(BM_ReplyFramer_Ok);
BENCHMARK(BM_RedisReader_Ok);
BENCHMARK(BM_ReplyFramer_Bulk64);
BENCHMARK(BM_RedisReader_Bulk64);
BENCHMARK(BM_RequestFramer_LargeBulk);
BENCHMARK(BM_RedisReader_LargeBulkRequests);
BENCHMARK(BM_ReplyFramer_LargeBulk);
BENCHMARK(BM_RedisReader_LargeBulkReplies);

}  // namespace
