#!/usr/bin/env bash
# Does reading the control plane move the data path? One client's latency
# through redmirror (a canary at 10%, --http on), with and without a scraper
# that fetches /metrics and the status page 10 times a second each, in
# alternating rounds so both see the same machine noise.
#
#   bench/scrape.sh --bin PATH [--rounds N] [-n REQUESTS]
#
# Prints per round p50/p99 (ms, redis-benchmark -c 1 --precision 3, GET/SET,
# -r 100000) quiet and scraped, then the medians and the ratio scraped/quiet.
# A statistical figure for the README, not a gating test.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
BIN=""
ROUNDS=5
REQUESTS=20000
log() { echo "scrape: $*" >&2; }
die() { log "$*"; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=${2:?--bin needs a path}; shift ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    -n) REQUESTS=${2:?}; shift ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done
[ -x "$BIN" ] || die "--bin PATH (a Release redmirror) is required"
command -v curl >/dev/null || die "curl is needed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/redmirror-scrape.XXXXXX")
PIDS=()
SCRAPER=""
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  [ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ "$rc" -ne 0 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_redis() {  # start_redis NAME: sets PORT_OF_REDIS
  local name=$1 pid
  pick_port
  redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/$name.log" --daemonize no >/dev/null 2>&1 &
  pid=$!
  wait_ping "$PORT" "$pid" || die "redis-server ($name) did not start"
  PIDS+=("$pid"); PORT_OF_REDIS=$PORT
}

start_redis primary; primary=$PORT_OF_REDIS
start_redis canary; canary=$PORT_OF_REDIS
pick_port; port=$PORT
pick_port; http=$PORT
"$BIN" --listen "127.0.0.1:$port" --primary "127.0.0.1:$primary" --canary "c1=127.0.0.1:$canary" \
  --mirror c1=10 --workers 1 --http "127.0.0.1:$http" --admin-socket "$WORK/admin.sock" \
  --log-level warn >"$WORK/redmirror.log" 2>&1 &
pid=$!
wait_ping "$port" "$pid" || die "redmirror did not start (see $WORK/redmirror.log)"
PIDS+=("$pid")

scrape() {  # 10 fetches a second of each page until killed
  while :; do
    curl -s -o /dev/null "http://127.0.0.1:$http/metrics" || true
    curl -s -o /dev/null "http://127.0.0.1:$http/" || true
    sleep 0.1
  done
}

# "p50 p99" in ms of one single-client run (the SET and GET rows averaged).
measure() {
  redis-benchmark -h 127.0.0.1 -p "$port" -c 1 -n "$REQUESTS" -r 100000 -t set,get --precision 3 --csv 2>/dev/null |
    awk -F, 'NR > 1 { gsub(/"/, ""); p50 += $5; p99 += $7; n++ } END { printf "%.3f %.3f\n", p50 / n, p99 / n }'
}

printf '| round | p50 quiet | p50 scraped | p99 quiet | p99 scraped |\n|---|---|---|---|---|\n'
QUIET=(); SCRAPED=()
for round in $(seq 1 "$ROUNDS"); do
  read -r q50 q99 < <(measure)
  scrape & SCRAPER=$!
  sleep 0.3
  read -r s50 s99 < <(measure)
  kill "$SCRAPER" 2>/dev/null; wait "$SCRAPER" 2>/dev/null || true; SCRAPER=""
  QUIET+=("$q99"); SCRAPED+=("$s99")
  printf '| %d | %s | %s | %s | %s |\n' "$round" "$q50" "$s50" "$q99" "$s99"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mq=$(median "${QUIET[@]}"); ms=$(median "${SCRAPED[@]}")
echo
echo "median p99: quiet $mq ms, scraped $ms ms, ratio $(awk -v a="$ms" -v b="$mq" 'BEGIN { printf "%.2f", a / b }')"
