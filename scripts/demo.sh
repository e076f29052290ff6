#!/usr/bin/env bash
# The demo: installs what is missing, builds redmirror (Release, build-demo/),
# starts a local redis-server and redmirror in front of it on free loopback
# ports, drives traffic through the proxy (redis-cli and redis-benchmark),
# prints what it measured, and stops everything it started, on failure too.
#
#   ./scripts/demo.sh   (env: JOBS=N build jobs, default 2; CMAKE_ARGS="..." extra cmake -D options)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
cd "$ROOT"
BUILD_DIR="$ROOT/build-demo"
JOBS=${JOBS:-2}
BENCH_N=${BENCH_N:-50000}   # requests per redis-benchmark test
ROUNDS=2                    # interleaved rounds: direct, proxy, direct, proxy

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

say "installing missing packages (scripts/install-deps.sh)"
./scripts/install-deps.sh

say "building redmirror (Release, $BUILD_DIR)"
read -r -a extra_cmake_args <<<"${CMAKE_ARGS:-}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DREDMIRROR_TESTS=OFF -DREDMIRROR_BENCH=OFF ${extra_cmake_args[@]+"${extra_cmake_args[@]}"} >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target redmirror
BIN="$BUILD_DIR/redmirror"

# ------------------------------------------------------------------ processes
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redmirror-demo.XXXXXX")
PIDS=()   # everything started here, stopped in reverse order on exit

cleanup() {
  local rc=$? i f
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ "$rc" -ne 0 ]; then
    for f in "$WORK"/*.log; do
      if [ -s "$f" ]; then echo "--- $f" >&2; tail -20 "$f" >&2; fi
    done
    echo "demo: logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_redis NAME: a throw-away redis-server (no persistence); sets REDIS_PORT[NAME].
declare -A REDIS_PORT
start_redis() {
  local name=$1 attempt port pid
  for attempt in 1 2 3 4 5; do
    pick_port; port=$PORT
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$WORK" --logfile "$WORK/redis-$name.log" --daemonize no >/dev/null 2>&1 &
    pid=$!
    if wait_ping "$port" "$pid"; then PIDS+=("$pid"); REDIS_PORT[$name]=$port; return 0; fi
    stop_pid "$pid"
  done
  die "redis-server '$name' did not start"
}

# Redis servers: the primary, and (later) one per canary. To add a canary, name it in
# CANARIES and give its mirror percentage in MIRROR_PERCENT: it gets its own
# redis-server and the proxy gets --canary NAME=ADDR --mirror NAME=PERCENT.
CANARIES=(canary)
declare -A MIRROR_PERCENT=([canary]=0)   # safe by default: raised at run time below
start_redis primary
for c in ${CANARIES[@]+"${CANARIES[@]}"}; do start_redis "$c"; done

ADMIN="$WORK/redmirror.sock"
PROXY_ARGS=(--primary "127.0.0.1:${REDIS_PORT[primary]}" --log-level warn --admin-socket "$ADMIN")
for c in ${CANARIES[@]+"${CANARIES[@]}"}; do
  PROXY_ARGS+=(--canary "$c=127.0.0.1:${REDIS_PORT[$c]}" --mirror "$c=${MIRROR_PERCENT[$c]:-0}")
done

PROXY_PORT=""
PROXY_PID=""
for attempt in 1 2 3 4 5; do
  pick_port; port=$PORT
  "$BIN" --listen "127.0.0.1:$port" "${PROXY_ARGS[@]}" >>"$WORK/redmirror.log" 2>&1 &
  pid=$!
  # Workers listen with SO_REUSEPORT: make sure the port is ours alone.
  if wait_ping "$port" "$pid" && [ "$(listeners_on "$port")" -le "$(nproc)" ]; then
    PROXY_PORT=$port; PROXY_PID=$pid; PIDS+=("$pid"); break
  fi
  stop_pid "$pid"
done
[ -n "$PROXY_PORT" ] || die "redmirror did not start"

say "running"
echo "  redis-server (primary)   127.0.0.1:${REDIS_PORT[primary]}"
for c in ${CANARIES[@]+"${CANARIES[@]}"}; do
  echo "  redis-server (canary $c) 127.0.0.1:${REDIS_PORT[$c]}  mirror ${MIRROR_PERCENT[$c]:-0}%"
done
echo "  redmirror                127.0.0.1:$PROXY_PORT -> primary  (pid $PROXY_PID)"

# ------------------------------------------------------------------ traffic
say "redis-cli through the proxy"
cli_proxy() { redis-cli -h 127.0.0.1 -p "$PROXY_PORT" "$@"; }
cli_direct() { redis-cli -h 127.0.0.1 -p "${REDIS_PORT[primary]}" "$@"; }
value="hello from redmirror $(date +%s)"
echo "  SET demo:greeting \"$value\" -> $(cli_proxy set demo:greeting "$value")"
got=$(cli_proxy get demo:greeting)
echo "  GET demo:greeting (proxy)  -> \"$got\""
direct=$(cli_direct get demo:greeting)
echo "  GET demo:greeting (direct) -> \"$direct\""
[ "$got" = "$value" ] && [ "$direct" = "$value" ] || die "the value did not round-trip through the proxy"
echo "  INCR demo:counter x3       -> $(cli_proxy incr demo:counter >/dev/null; cli_proxy incr demo:counter >/dev/null; cli_proxy incr demo:counter)"

say "mirroring: raise the canary's share at run time over the admin socket"
admin() { redis-cli -s "$ADMIN" "$@"; }
json_field() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }
echo "  admin socket $ADMIN (mode $(stat -c %a "$ADMIN"))"
echo "  MIRROR GET                 -> $(admin MIRROR GET)"
echo "  MIRROR SET canary 10       -> $(admin MIRROR SET canary 10)"
redis-benchmark -h 127.0.0.1 -p "$PROXY_PORT" -c 20 -t set -r 100000 -n 20000 -d 32 -q >/dev/null 2>&1 ||
  die "redis-benchmark through the proxy failed"
sleep 0.5
primary_keys=$(redis-cli -p "${REDIS_PORT[primary]}" dbsize)
canary_keys=$(redis-cli -p "${REDIS_PORT[canary]}" dbsize)
echo "  20000 SETs on random keys: primary holds $primary_keys keys, canary $canary_keys" \
  "($(awk -v a="$canary_keys" -v b="$primary_keys" 'BEGIN { printf "%.1f", 100 * a / b }')%: the keys of the sampled slots)"
echo "  MIRROR SET canary 100      -> $(admin MIRROR SET canary 100)"
echo "  RESET canary               -> $(admin RESET canary)"
# One client: redis-benchmark's LPUSH, SADD and HSET each hit one shared key, and
# several clients racing on a key get interleaving-dependent replies (README: Diff).
redis-benchmark -h 127.0.0.1 -p "$PROXY_PORT" -c 1 -t set,get,incr,lpush,sadd,hset -r 100000 -n 5000 -d 32 -q \
  >/dev/null 2>&1 || die "redis-benchmark through the proxy failed"
sleep 0.5
report=$(admin REPORT canary)
echo "  REPORT canary: mirrored $(echo "$report" | json_field mirrored), compared $(echo "$report" | json_field compared)," \
  "matched $(echo "$report" | json_field matched), diverged $(echo "$report" | json_field diverged)"
echo "  divergences by class: $(echo "$report" | grep -o '"divergences":{[^}]*}' | cut -d: -f2-)"
echo "  (cold_miss: reads of keys written before the canary mirrored them, expected while it"
echo "   warms up and not counted as diverged; --warm-canary copies them over)"
echo "  CANARY LIST -> $(admin CANARY LIST | cut -c1-200)..."

admin MIRROR SET canary 0 >/dev/null
say "redis-benchmark: direct vs through redmirror, mirror at 0% (50 clients, GET/SET, 64-byte values, n=$BENCH_N, $ROUNDS interleaved rounds)"
RES="$WORK/bench.tsv"
: >"$RES"
for round in $(seq 1 "$ROUNDS"); do
  for target in direct proxy; do
    if [ "$target" = direct ]; then port=${REDIS_PORT[primary]}; else port=$PROXY_PORT; fi
    timeout 120 redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -P 1 -t set,get -d 64 -n "$BENCH_N" --csv \
      >"$WORK/bench.csv" 2>"$WORK/bench.log" || die "redis-benchmark against $target failed"
    tr -d '"' <"$WORK/bench.csv" | awk -F, -v t="$target" '$1 == "SET" || $1 == "GET" { print t "\t" $1 "\t" $2 "\t" $5 }' >>"$RES"
  done
done
kill -0 "$PROXY_PID" 2>/dev/null || die "redmirror exited during the benchmark"
awk -F'\t' '
  { s[$1 "|" $2] += $3; p[$1 "|" $2] += $4 * 1000; n[$1 "|" $2]++ }
  END {
    printf "  %-5s %14s %14s %8s %14s %14s\n", "test", "direct rps", "proxy rps", "ratio", "direct p50 us", "proxy p50 us"
    split("SET GET", t, " ")
    for (i = 1; i <= 2; i++) {
      d = s["direct|" t[i]] / n["direct|" t[i]]; x = s["proxy|" t[i]] / n["proxy|" t[i]]
      printf "  %-5s %14.0f %14.0f %8.2f %14.0f %14.0f\n", t[i], d, x, x / d,
        p["direct|" t[i]] / n["direct|" t[i]], p["proxy|" t[i]] / n["proxy|" t[i]]
    }
  }' "$RES"
echo "  (means of the rounds; redis-benchmark, Redis and the proxy share $(nproc) CPUs. bench/e2e.sh measures more.)"

say "stopping"
kill -TERM "$PROXY_PID"
rc=0
for i in $(seq 1 100); do kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PROXY_PID" 2>/dev/null; then die "redmirror still running 10 s after SIGTERM"; fi
wait "$PROXY_PID" || rc=$?
[ "$rc" -eq 0 ] || die "redmirror exited $rc after SIGTERM"
echo "  redmirror drained and exited 0 on SIGTERM; stopping redis-server"
echo
echo "demo: OK"
