#!/usr/bin/env bash
# Builds everything and runs every test: unit, integration (real redis-server
# processes on free loopback ports), and a short run of each fuzzer under
# ASan/UBSan. Prints ctest's summary; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=${JOBS:-2}
fuzz_seconds=${FUZZ_SECONDS:-20}

# Sanitizer build of the fuzz targets (clang's libFuzzer).
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DREDMIRROR_FUZZ=ON -DREDMIRROR_TESTS=OFF -DREDMIRROR_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target request_framer_fuzz reply_framer_fuzz

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DREDMIRROR_FUZZ_DIR="$PWD/build-fuzz" -DREDMIRROR_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build build -j"$jobs"

cd build
ctest --output-on-failure -j"$jobs" --timeout 600
