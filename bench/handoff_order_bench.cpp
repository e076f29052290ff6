// Cross-worker handoffs on a real canary: how many reads the canary answers from
// an older state (bench/handoff-order.sh runs it several times, with or without
// CPU hogs, and sums up). Measures, never gates.
//
//   handoff_order_bench [--pairs N] [--rounds N] [--workers N] [--quiet-ms N]
//
// A primary, a canary (redis-server) and redmirror (--workers N, 100% to the
// canary), as in the integration tests. N pairs of connections: each round, the
// writer sets handoff:i to the round, then the reader (another connection, so
// most often another worker) GETs it and APPENDs "r" to it. Every worker hands
// its turn's commands to the canary's one writer before the turn's replies
// leave (CanaryHub), so the canary runs each read after the write it saw,
// whatever the load: the divergence should stay 0 (the integration test
// asserts it on a quiet machine; this measures it under CPU hogs). Prints one
// line of figures:
//
//   handoff-order: pairs 16 rounds 40 workers 2 compared 1920 diverged 0 rate 0.000% data equal
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mirror_util.h"

namespace {

using namespace mirror_it;

struct Settings {
  int pairs = 16;
  int rounds = 40;
  unsigned workers = 2;
  int quietMs = 600;
};

int measure(const Settings& settings) {
  Rig::Options options;
  options.workers = settings.workers;
  Rig s(options);
  if (!s.waitLinksUp("c1")) {
    std::fprintf(stderr, "handoff-order: the canary's links did not come up\n");
    return 2;
  }
  std::vector<Ctx> writers;
  std::vector<Ctx> readers;
  for (int i = 0; i < settings.pairs; ++i) {
    writers.push_back(connectOrDie(s.proxyPort()));
    readers.push_back(connectOrDie(s.proxyPort()));
  }
  for (int round = 0; round < settings.rounds; ++round) {
    for (int i = 0; i < settings.pairs; ++i) {
      const std::string key = "handoff:" + std::to_string(i);
      const std::string value = std::to_string(round);
      run(writers[i].get(), {"SET", key, value});
      run(readers[i].get(), {"GET", key});
      run(readers[i].get(), {"APPEND", key, "r"});
    }
  }
  waitMirrorQuiet(*s.admin, "c1", Millis(settings.quietMs));
  const nlohmann::json c1 = s.admin->canary("c1");
  const nlohmann::json report = nlohmann::json::parse(s.admin->text({"REPORT", "c1"}), nullptr, false);
  if (!c1.is_object() || report.is_discarded()) {
    std::fprintf(stderr, "handoff-order: no CANARY LIST or REPORT from the admin socket\n");
    return 2;
  }
  const long compared = report.value("compared", 0L);
  const long diverged = report.value("diverged", 0L);
  // Only the last round's APPEND can leave the canary with another value (a
  // later SET overwrites an earlier reordering).
  const std::string diff = compareDb(s.primary->port(), s.canaries[0]->port(), 0);
  std::printf("handoff-order: pairs %d rounds %d workers %u compared %ld diverged %ld rate %.3f%% data %s\n",
              settings.pairs, settings.rounds, settings.workers, compared, diverged,
              compared > 0 ? 100.0 * static_cast<double>(diverged) / static_cast<double>(compared) : 0.0,
              diff.empty() ? "equal" : "differs");
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The harness reports its problems as gtest failures: keep them printed.
  ::testing::InitGoogleTest(&argc, argv);
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool hasValue = i + 1 < argc;
    if (arg == "--pairs" && hasValue) {
      settings.pairs = std::atoi(argv[++i]);
    } else if (arg == "--rounds" && hasValue) {
      settings.rounds = std::atoi(argv[++i]);
    } else if (arg == "--workers" && hasValue) {
      settings.workers = static_cast<unsigned>(std::atoi(argv[++i]));
    } else if (arg == "--quiet-ms" && hasValue) {
      settings.quietMs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--pairs N] [--rounds N] [--workers N] [--quiet-ms N]\n", argv[0]);
      return 2;
    }
  }
  if (settings.pairs <= 0 || settings.rounds <= 0 || settings.workers == 0) {
    std::fprintf(stderr, "handoff-order: --pairs, --rounds and --workers must be positive\n");
    return 2;
  }
  try {
    return measure(settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "handoff-order: %s\n", e.what());
    return 2;
  }
}
