#!/usr/bin/env bash
# Cross-worker handoffs on a real canary, measured: how many reads the canary
# answers from an older state than the primary's (figures; never fails on them).
#
#   bench/handoff-order.sh [--runs N] [--hogs K] [--pairs N] [--rounds N] [--workers N]
#                          [--build-dir DIR] [--no-build] [--bin PATH] [--out FILE]
#
# Runs handoff_order_bench (bench/handoff_order_bench.cpp) N times (default 5):
# each starts a primary, a canary and redmirror (--workers 2) on free loopback
# ports, and N pairs of connections (16) hand a key over from writer to reader
# each round (40): SET by one, GET and APPEND by the other, usually on another
# worker. Every reader's commands reach the canary's one stream after the
# writer's (CanaryHub; asserted by the integration test HandoffsBetweenConnections-
# OfDifferentWorkersStayInOrder and tested in tests/unit/mirror/canary_hub_test);
# this measures the divergence under load, where it should stay 0.
# --hogs K runs K busy loops (yes > /dev/null) meanwhile, a CI machine running
# tests in parallel. Prints each run's figures, then the total and the worst
# run (also to --out FILE). Builds handoff_order_bench in --build-dir (default
# build, Release, tests and benchmarks on) unless --no-build or --bin.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=5 HOGS=0 BUILD_DIR="$ROOT/build" NO_BUILD=0 BIN="" OUT=""
PASS=()
usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
positive() { case "$2" in ''|*[!0-9]*|0) echo "handoff-order: $1 must be a positive integer" >&2; exit 2 ;; esac; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=${2:?--runs needs a number}; positive --runs "$RUNS"; shift ;;
    --hogs) HOGS=${2:?--hogs needs a number}; case "$HOGS" in ''|*[!0-9]*) positive --hogs "$HOGS" ;; esac; shift ;;
    --pairs|--rounds|--workers) positive "$1" "${2:-}"; PASS+=("$1" "$2"); shift ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift ;;
    --no-build) NO_BUILD=1 ;;
    --bin) BIN=${2:?--bin needs a path}; NO_BUILD=1; shift ;;
    --out) OUT=${2:?--out needs a file}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "handoff-order: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac
[ -n "$BIN" ] || BIN="$BUILD_DIR/bench/handoff_order_bench"
command -v redis-server >/dev/null || { echo "handoff-order: redis-server not found (scripts/install-deps.sh)" >&2; exit 1; }

if [ "$NO_BUILD" -eq 0 ]; then
  echo "handoff-order: building handoff_order_bench in $BUILD_DIR" >&2
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DREDMIRROR_TESTS=ON -DREDMIRROR_BENCH=ON >/dev/null
  cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target handoff_order_bench >"$BUILD_DIR/handoff-order-build.log" 2>&1 \
    || { tail -30 "$BUILD_DIR/handoff-order-build.log" >&2; exit 1; }
fi
[ -x "$BIN" ] || { echo "handoff-order: no binary at $BIN" >&2; exit 1; }

HOG_PIDS=()
cleanup() { for pid in "${HOG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq 1 "$HOGS"); do
  yes >/dev/null &
  HOG_PIDS+=($!)
done

RESULTS=$(mktemp /tmp/redmirror-handoff.XXXXXX)
trap 'cleanup; rm -f "$RESULTS"' EXIT
for run in $(seq 1 "$RUNS"); do
  line=$("$BIN" "${PASS[@]}" | grep '^handoff-order:') || { echo "handoff-order: run $run failed" >&2; exit 1; }
  echo "run $run: ${line#handoff-order: }" | tee -a "$RESULTS"
done
cleanup
HOG_PIDS=()

# "run N: pairs P rounds R workers W compared C diverged D rate X% data equal"
summary=$(awk -v hogs="$HOGS" '
  { for (i = 3; i < NF; i += 2) v[$i] = $(i + 1)
    compared += v["compared"]; diverged += v["diverged"]
    rate = v["compared"] > 0 ? 100 * v["diverged"] / v["compared"] : 0
    if (rate > worst) worst = rate
    if (v["data"] != "equal") differs++
    n++ }
  END {
    format = "handoff-order: %d runs, %d hogs: diverged %d of %d comparisons (%.3f%%), worst run %.3f%%, "
    format = format "canary data differed in %d runs\n"
    total = compared > 0 ? 100 * diverged / compared : 0
    printf format, n, hogs, diverged, compared, total, worst, differs
  }' "$RESULTS")
echo "$summary"
if [ -n "$OUT" ]; then { cat "$RESULTS"; echo "$summary"; } >"$OUT"; fi
