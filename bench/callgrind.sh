#!/usr/bin/env bash
# Instructions per request on the proxy's data path, counted by callgrind: a
# figure that does not move with the machine's load, for before/after
# comparisons of the forwarding and mirror paths.
#
#   bench/callgrind.sh [--bin PATH] [--mirror PERCENT|off] [--canary-stopped] [--pipeline P]
#                      [--requests N] [--tests set,get] [--top K] [-- PROXY-ARGS...]
#
# Starts a primary and a canary redis-server on free loopback ports, runs
# redmirror (--workers 1) under valgrind --tool=callgrind with instrumentation off
# during start-up, switches it on for one redis-benchmark run (50 clients,
# random keys out of 100,000), then prints instructions per request and the
# K most expensive functions (inclusive of nothing: self cost). With
# --canary-stopped the canary is SIGSTOPped once the links are up (the
# isolation case: its budget fills, then commands are dropped). KEEP=1 keeps
# the callgrind output for callgrind_annotate. PROXY-ARGS go
# to redmirror as they are (e.g. --link-batch-delay-us 500).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../scripts/lib/processes.sh
. scripts/lib/processes.sh

BIN=build/redmirror MIRROR=10 PIPELINE=16 REQUESTS=200000 TESTS=set,get TOP=25 STOP_CANARY=0
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --mirror) MIRROR=$2; shift 2 ;;
    --canary-stopped) STOP_CANARY=1; shift ;;
    --pipeline) PIPELINE=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --tests) TESTS=$2; shift 2 ;;
    --top) TOP=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "usage: see the head of $0" >&2; exit 2 ;;
  esac
done
log() { echo "callgrind: $*" >&2; }
die() { log "$*"; exit 1; }
[ -x "$BIN" ] || die "no binary at $BIN (build it: cmake --build build)"
for tool in valgrind callgrind_control callgrind_annotate redis-server redis-benchmark; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh)"
done

WORK=$(mktemp -d /tmp/redmirror-callgrind.XXXXXX)
PIDS=()
CANARY_PID=""
cleanup() {
  [ -n "$CANARY_PID" ] && kill -CONT "$CANARY_PID" 2>/dev/null
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  # KEEP=1 keeps the work directory (callgrind.out) for callgrind_annotate.
  if [ -n "${KEEP:-}" ]; then echo "callgrind: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start_redis() {  # start_redis PORT
  redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$WORK" --logfile "$WORK/redis-$1.log" &
  PIDS+=($!)
  wait_ping "$1" "$!" || die "redis-server on $1 did not start"
}
pick_port; PRIMARY=$PORT; start_redis "$PRIMARY"
pick_port; CANARY=$PORT; start_redis "$CANARY"; CANARY_PID=$!
pick_port; LISTEN=$PORT

args=(--listen "127.0.0.1:$LISTEN" --primary "127.0.0.1:$PRIMARY" --workers 1 --log-level warn)
[ "$MIRROR" = off ] || args+=(--canary "c1=127.0.0.1:$CANARY" --mirror "c1=$MIRROR")
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
  "$BIN" "${args[@]}" "${EXTRA[@]}" 2>"$WORK/valgrind.log" &
PROXY=$!
PIDS=("$PROXY" "${PIDS[@]}")
wait_ping "$LISTEN" "$PROXY" 60 || die "redmirror under valgrind did not start: $(tail -5 "$WORK/valgrind.log")"
sleep 1  # the canary link connects
[ "$STOP_CANARY" -eq 1 ] && kill -STOP "$CANARY_PID"
callgrind_control -i on "$PROXY" >/dev/null
redis-benchmark -h 127.0.0.1 -p "$LISTEN" -c 50 -P "$PIPELINE" -n "$REQUESTS" -r 100000 -t "$TESTS" -q \
  >"$WORK/benchmark.txt" 2>&1 || die "redis-benchmark failed: $(tail -3 "$WORK/benchmark.txt")"
callgrind_control -i off "$PROXY" >/dev/null
stop_pid "$PROXY"
PIDS=("${PIDS[@]:1}")

runs=$(tr ',' '\n' <<<"$TESTS" | grep -c .)
total=$(callgrind_annotate "$WORK/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
[ -n "$total" ] || die "no totals in the callgrind output"
awk -v m="$MIRROR$([ "$STOP_CANARY" -eq 1 ] && echo " (canary stopped)")" -v p="$PIPELINE" -v r="$runs" -v n="$REQUESTS" -v t="$total" 'BEGIN {
  printf "mirror %s, -P %s, %s x %s requests: %d instructions, %.0f per request\n", m, p, r, n, t, t / (r * n) }'
callgrind_annotate --threshold=100 "$WORK/callgrind.out" 2>/dev/null |
  awk -v top="$TOP" '/^ *[0-9,]+ .*[:]/ && n < top { print; n++ }' | sed 's/ (\([^)]*\))$//' | cut -c1-160
