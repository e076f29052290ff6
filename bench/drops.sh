#!/usr/bin/env bash
# Mirror drops under full load: is a healthy canary ever shed?
#
#   bench/drops.sh [--workers "1 2 4"] [--percents "10 100"] [-n REQUESTS] [--rounds N]
#                  [--bin PATH] [--build-dir DIR] [--no-build] [--config-extra "YAML"]
#                  [--out FILE.md]
#
# For each --workers value and mirror percentage: a fresh primary, a fresh canary
# (redis-server, no persistence, free loopback ports) and a redmirror with
# `--workers W --mirror c1=P`, loaded by `redis-benchmark -c 200 -P 16 -n N
# -r 100000 -t set,get -d 64 --threads 2` (issue 10's load). Reports per run:
# throughput (GET, SET), sampled commands (mirrored + dropped), drops by reason
# and per sampled command, comparisons, divergences and the proxy's peak RSS
# (VmHWM). Target: at most 0.1% of sampled commands dropped with a healthy
# canary, whatever the worker count. `--config-extra` adds YAML lines to the
# canary's entry (e.g. "queue_budget_bytes: 268435456").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
BUILD_DIR="$ROOT/build-bench"
BIN=""
NO_BUILD=0
WORKERS="1 2 4"
PERCENTS="10 100"
REQUESTS=1000000
ROUNDS=1
OUT=""
CONFIG_EXTRA=""
RUN_TIMEOUT=300

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) WORKERS=${2:?}; shift ;;
    --percents) PERCENTS=${2:?}; shift ;;
    -n) REQUESTS=${2:?}; shift ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --bin) BIN=${2:?}; NO_BUILD=1; shift ;;
    --build-dir) BUILD_DIR=${2:?}; shift ;;
    --no-build) NO_BUILD=1 ;;
    --config-extra) CONFIG_EXTRA=${2?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "drops: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac

log() { printf 'drops: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
for tool in redis-server redis-cli redis-benchmark jq awk timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (run scripts/install-deps.sh)"
done
if [ -z "$BIN" ]; then BIN="$BUILD_DIR/redmirror"; fi
if [ "$NO_BUILD" -eq 0 ]; then build_redmirror "$BUILD_DIR" 2 drops-build.log; fi
[ -x "$BIN" ] || die "no redmirror binary at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/redmirror-drops.XXXXXX")
PIDS=()
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ "$rc" -ne 0 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_redis() {  # start_redis NAME: sets PORT_OF_REDIS
  local name=$1 attempt pid
  for attempt in 1 2 3 4 5; do
    pick_port
    redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$WORK" --logfile "$WORK/$name.log" --daemonize no >/dev/null 2>&1 &
    pid=$!
    if wait_ping "$PORT" "$pid"; then PIDS+=("$pid"); PORT_OF_REDIS=$PORT; return 0; fi
    stop_pid "$pid"
  done
  die "redis-server ($name) did not start"
}

stop_all() { local i; for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done; PIDS=(); }

ROWS=()
run_one() {  # run_one WORKERS PERCENT ROUND
  local workers=$1 percent=$2 round=$3 primary canary pid port attempt config admin bench list
  start_redis primary; primary=$PORT_OF_REDIS
  start_redis canary; canary=$PORT_OF_REDIS
  admin="$WORK/admin.sock"
  config="$WORK/redmirror.yaml"
  {
    echo "canaries:"
    echo "  - name: c1"
    echo "    address: 127.0.0.1:$canary"
    echo "    percent: $percent"
    [ -n "$CONFIG_EXTRA" ] && printf '    %s\n' "$CONFIG_EXTRA"
  } >"$config"
  for attempt in 1 2 3 4 5; do
    pick_port; port=$PORT
    rm -f "$admin"
    "$BIN" --config "$config" --listen "127.0.0.1:$port" --primary "127.0.0.1:$primary" \
      --workers "$workers" --admin-socket "$admin" --log-level warn >>"$WORK/redmirror.log" 2>&1 &
    pid=$!
    # One listener per worker (SO_REUSEPORT): no one else's on the port.
    if wait_ping "$port" "$pid" && [ "$(listeners_on "$port")" -le "$workers" ]; then PIDS+=("$pid"); break; fi
    stop_pid "$pid"; pid=""
  done
  [ -n "$pid" ] || die "redmirror did not start (see $WORK/redmirror.log)"
  local i
  for i in $(seq 1 100); do
    [ "$(redis-cli -s "$admin" CANARY LIST 2>/dev/null | jq -r '.[0].links_up // 0' 2>/dev/null)" -ge 1 ] 2>/dev/null && break
    sleep 0.05
  done
  bench=$(timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c 200 -P 16 -n "$REQUESTS" \
    -r 100000 -t set,get -d 64 --threads 2 --csv 2>/dev/null) || die "redis-benchmark failed or hung"
  # Replies still on their way: wait until the counters stop moving (at most 10 s).
  local before="" now
  for i in $(seq 1 50); do
    now=$(redis-cli -s "$admin" CANARY LIST 2>/dev/null | jq -c '.[0] | [.mirrored, .compared, .dropped]')
    [ "$now" = "$before" ] && break
    before=$now; sleep 0.2
  done
  list=$(redis-cli -s "$admin" CANARY LIST)
  local hwm set get
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
  set=$(printf '%s\n' "$bench" | awk -F'","' '/^"SET"/ { printf "%d", $2 }')
  get=$(printf '%s\n' "$bench" | awk -F'","' '/^"GET"/ { printf "%d", $2 }')
  ROWS+=("$(jq -r --arg w "$workers" --arg p "$percent" --arg r "$round" --arg set "$set" --arg get "$get" --arg hwm "$hwm" '
    .[0] as $c | ($c.dropped | to_entries | map(.value) | add // 0) as $dropped |
    ($c.mirrored + $dropped) as $sampled |
    "| \($w) | \($p) | \($r) | \($set) | \($get) | \($sampled) | \($c.mirrored) | \($c.dropped.queue_full // 0) | \($c.dropped.disconnected // 0) | \($c.dropped.timeout // 0) | \(if $sampled > 0 then ($dropped * 10000 / $sampled | round / 100) else 0 end)% | \($c.compared) | \($c.diverged) | \(($hwm | tonumber) / 1024 | round) |"
  ' <<<"$list")")
  log "${ROWS[-1]}"
  stop_all
}

for round in $(seq 1 "$ROUNDS"); do
  for workers in $WORKERS; do
    for percent in $PERCENTS; do run_one "$workers" "$percent" "$round"; done
  done
done

REPORT=$(
  echo "redis-benchmark -c 200 -P 16 -n $REQUESTS -r 100000 -t set,get -d 64 --threads 2; $(nproc) CPUs; ${CONFIG_EXTRA:-default budget}"
  echo
  echo "| workers | % | round | SET rps | GET rps | sampled | mirrored | queue_full | disconnected | timeout | dropped/sampled | compared | diverged | peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
)
printf '%s\n' "$REPORT"
if [ -n "$OUT" ]; then printf '%s\n' "$REPORT" >"$OUT"; fi
