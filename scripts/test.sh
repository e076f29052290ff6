#!/usr/bin/env bash
# Builds everything and runs every test twice: once built with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer (with the libFuzzer targets),
# and once in the Release build that users, the demo and the benchmarks run,
# which also runs each fuzzer briefly. Unit and integration tests (real
# redis-server processes on free loopback ports) in both. Prints ctest's
# summaries, the Release one last; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=${JOBS:-2}
fuzz_seconds=${FUZZ_SECONDS:-20}

echo "== sanitized build (clang, ASan + UBSan, fuzz targets): build-san"
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DREDMIRROR_SANITIZE=ON -DREDMIRROR_FUZZ=ON -DREDMIRROR_BENCH=OFF >/dev/null
cmake --build build-san -j"$jobs"

echo "== release build (gcc): build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
  -DREDMIRROR_FUZZ_DIR="$PWD/build-san" -DREDMIRROR_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build build -j"$jobs"

status=0
echo "== tests under ASan/UBSan"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build-san && ctest --output-on-failure -j"$jobs" --timeout 600) || status=1

echo "== tests, release build"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600) || status=1
exit $status
