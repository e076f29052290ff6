#!/usr/bin/env bash
# End-to-end benchmark: redis-benchmark directly against Redis and through
# redmirror (--no-observe, the pure byte pipe, and the normal observing mode),
# interleaved round by round so that the modes see the same machine noise.
#
#   bench/e2e.sh [--quick] [--rounds N] [--out FILE.md] [--bin PATH] [--build-dir DIR]
#                [--no-build] [--keep] [--mirror | --no-mirror] [--mirror-args "FLAGS"]
#
# Starts its own redis-server (no persistence) and two redmirror processes
# (--workers 1, nothing pinned) on free loopback ports, and stops all of them on
# exit, failure included. Prints a markdown report (also written to --out FILE):
# median rps, ratios proxy/direct and proxy/no-observe, added p50/p99 for one
# client, proxy CPU seconds per million requests (utime+stime from
# /proc/PID/stat) and system calls per request (strace -c -f -p PID over one
# extra, untimed run per proxy mode).
# With --mirror (the default; --no-mirror skips it) a second redis-server is the
# canary c1 and five more proxies run, one per mode, in the same rounds:
# mirror-off (c1 at 0%), mirror-10, mirror-100, canary-stopping (10%, canary
# SIGSTOPped as each of its runs starts: the proxy mirrors as to a healthy
# canary until the reply timeout shows the canary is gone, and queues up to
# its budget) and canary-stopped (10%, canary SIGSTOPped and each run started
# once the proxy's links to it are down: the stopped state itself). GET/SET
# with -r 100000 random keys, so
# that sampling by slot applies. Reported beside mirror-off: throughput, p50/p99
# (50 clients), proxy CPU per request, peak RSS (VmHWM, one process per mode),
# counters from the admin socket (CANARY LIST), the canary links' own system
# calls per mirrored command (link_writes + link_reads, during the timed runs),
# and whole-process system calls per mirrored command (strace, untimed), with
# the targets of issues 3 and 4.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
BUILD_DIR="$ROOT/build-bench"
BIN=""
ROUNDS=""
QUICK=0
OUT=""
NO_BUILD=0
KEEP=0
MIRROR=1
MIRROR_ARGS=""   # extra redmirror flags for the mirror modes, e.g. "--link-batch-delay-us 5000"

usage() { sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
    --out) OUT=${2:?--out needs a file}; shift ;;
    --bin) BIN=${2:?--bin needs a path}; NO_BUILD=1; shift ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift ;;
    --no-build) NO_BUILD=1 ;;
    --keep) KEEP=1 ;;
    --mirror) MIRROR=1 ;;
    --no-mirror) MIRROR=0 ;;
    --mirror-args) MIRROR_ARGS=${2?--mirror-args needs flags}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "e2e: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [ "$QUICK" -eq 1 ]; then
  : "${ROUNDS:=1}"
  N_P1=100000 N_P16=500000 N_LAT=20000 N_ST_P1=20000 N_ST_P16=200000
  N_M_P1=60000 N_M_P16=300000 N_MST_P1=10000 N_MST_P16=100000
else
  : "${ROUNDS:=3}"
  N_P1=200000 N_P16=1000000 N_LAT=50000 N_ST_P1=50000 N_ST_P16=500000
  N_M_P1=120000 N_M_P16=500000 N_MST_P1=20000 N_MST_P16=200000
fi
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac
case "$ROUNDS" in ''|*[!0-9]*|0) echo "e2e: --rounds must be a positive integer" >&2; exit 2 ;; esac
CLIENTS=50
VALUE_SIZE=64
QUEUE_BUDGET_MIB=16   # a canary's default queue budget (control/config.h queueBudgetBytes)
KEYSPACE=100000   # -r for the mirror workloads: keys key:000000000000 .. key:000000099999
RUN_TIMEOUT=300   # seconds; a run that takes longer is a hang

log() { printf 'e2e: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

TOOLS="redis-server redis-cli redis-benchmark awk timeout"
[ "$MIRROR" -eq 1 ] && TOOLS="$TOOLS jq"
for tool in $TOOLS; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (run scripts/install-deps.sh)"
done
HAVE_STRACE=1
command -v strace >/dev/null 2>&1 || { HAVE_STRACE=0; log "strace not found: no system call counts"; }
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- build
if [ -z "$BIN" ]; then BIN="$BUILD_DIR/redmirror"; fi
if [ "$NO_BUILD" -eq 0 ]; then build_redmirror "$BUILD_DIR" 2 e2e-build.log; fi
[ -x "$BIN" ] || die "no redmirror binary at $BIN"

# ---------------------------------------------------------------- processes
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redmirror-e2e.XXXXXX")
PIDS=()          # everything we started, in start order
STRACE_PID=""
CANARY_PID=""    # the canary redis-server (--mirror)
FAILED=1

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [ -n "$STRACE_PID" ]; then kill -INT "$STRACE_PID" 2>/dev/null || true; wait "$STRACE_PID" 2>/dev/null || true; fi
  if [ -n "$CANARY_PID" ]; then kill -CONT "$CANARY_PID" 2>/dev/null || true; fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ "$FAILED" -eq 1 ] || [ "$rc" -ne 0 ]; then
    log "logs kept in $WORK"
    for f in "$WORK"/*.log; do [ -s "$f" ] && { log "--- tail of $f"; tail -5 "$f" >&2; }; done
    [ "$rc" -eq 0 ] && rc=1
  elif [ "$KEEP" -eq 0 ]; then
    rm -rf "$WORK"
  else
    log "logs kept in $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_redis() {   # start_redis [NAME]: sets REDIS_PORT/REDIS_PID (primary) or CANARY_PORT/CANARY_PID (canary)
  local name=${1:-redis} attempt port pid
  for attempt in 1 2 3 4 5; do
    pick_port; port=$PORT
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$WORK" --logfile "$WORK/$name.log" --daemonize no >/dev/null 2>&1 &
    pid=$!
    if wait_ping "$port" "$pid"; then
      PIDS+=("$pid")
      if [ "$name" = canary ]; then CANARY_PORT=$port CANARY_PID=$pid; else REDIS_PORT=$port REDIS_PID=$pid; fi
      return 0
    fi
    stop_pid "$pid"
  done
  die "redis-server ($name) did not start (see $WORK/$name.log)"
}

declare -A PPORT PPID_OF
start_proxy() {  # start_proxy MODE [extra redmirror flags...]
  local mode=$1 attempt port pid; shift
  for attempt in 1 2 3 4 5; do
    pick_port; port=$PORT
    "$BIN" --listen "127.0.0.1:$port" --primary "127.0.0.1:$REDIS_PORT" --workers 1 \
      --log-level warn "$@" >>"$WORK/redmirror-$mode.log" 2>&1 &
    pid=$!
    # SO_REUSEPORT would let us share a port with someone else's proxy: insist on one listener.
    if wait_ping "$port" "$pid" && [ "$(listeners_on "$port")" -eq 1 ]; then
      PIDS+=("$pid"); PPORT[$mode]=$port; PPID_OF[$mode]=$pid; return 0
    fi
    stop_pid "$pid"
  done
  die "redmirror ($mode) did not start (see $WORK/redmirror-$mode.log)"
}

declare -A ADMIN
MIRROR_MODES=(mirror-off mirror-10 mirror-100 canary-stopping canary-stopped)
percent_of() { case "$1" in mirror-off) echo 0 ;; mirror-100) echo 100 ;; *) echo 10 ;; esac; }
start_mirror_proxy() {  # start_mirror_proxy MODE: a proxy of its own with the canary c1 at the mode's percentage
  local mode=$1
  ADMIN[$mode]="$WORK/admin-$mode.sock"
  # shellcheck disable=SC2086 # MIRROR_ARGS is a list of flags
  start_proxy "$mode" --canary "c1=127.0.0.1:$CANARY_PORT" --mirror "c1=$(percent_of "$mode")" \
    --admin-socket "${ADMIN[$mode]}" $MIRROR_ARGS
}
# mirrored compared matched diverged dropped(all reasons) links_up link-syscalls of c1,
# tab-separated; link-syscalls = the links' gather writes + reads (counted by the
# proxy itself, so the figure holds at full speed, unlike strace's)
canary_counters() {
  redis-cli -s "${ADMIN[$1]}" CANARY LIST 2>/dev/null \
    | jq -r '.[] | select(.name == "c1") | [.mirrored, .compared, .matched, .diverged, ([.dropped[]] | add // 0), .links_up,
             ((.link_writes // 0) + (.link_reads // 0))] | @tsv' 2>/dev/null
}
# With the canary stopped, sends sampled traffic through MODE's proxy until its
# links to the canary are down (the reply timeout, 2 s by default, has expired).
await_links_down() {
  local mode=$1 i
  for i in $(seq 1 40); do
    [ "$(canary_counters "$mode" | cut -f6)" = 0 ] && return 0
    redis-benchmark -h 127.0.0.1 -p "${PPORT[$mode]}" -c 5 -n 2000 -t set -d "$VALUE_SIZE" -r "$KEYSPACE" -q >/dev/null 2>&1 || true
    sleep 0.25
  done
  die "$mode: the proxy's links to the stopped canary are still up after 10 s: $(canary_counters "$mode")"
}
vm_hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

cpu_ticks() {    # utime + stime of all threads of PID
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
busy_compilers() { pgrep -c -x 'cc1plus|ld|clang\+\+|clang' 2>/dev/null || true; }

start_redis
start_proxy no-observe --no-observe
start_proxy observe
MODES=(direct no-observe observe)
port_of() { if [ "$1" = direct ]; then echo "$REDIS_PORT"; else echo "${PPORT[$1]}"; fi; }
log "redis-server :$REDIS_PORT (pid $REDIS_PID), redmirror --no-observe :${PPORT[no-observe]} (pid ${PPID_OF[no-observe]}), redmirror :${PPORT[observe]} (pid ${PPID_OF[observe]})"
if [ "$MIRROR" -eq 1 ]; then
  start_redis canary
  for mode in "${MIRROR_MODES[@]}"; do start_mirror_proxy "$mode"; done
  log "canary redis-server :$CANARY_PORT (pid $CANARY_PID); $(for m in "${MIRROR_MODES[@]}"; do printf 'redmirror %s :%s (pid %s)  ' "$m" "${PPORT[$m]}" "${PPID_OF[$m]}"; done)"
  for mode in "${MIRROR_MODES[@]}"; do
    [ -n "$(canary_counters "$mode")" ] || die "admin socket of $mode: CANARY LIST gave no c1"
  done
  # Smoke test: at 100% a SET through the proxy reaches the canary (the proxy may
  # wait for the canaries' command tables before it mirrors: retry for a while).
  ok=0
  for i in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "${PPORT[mirror-100]}" set e2e:mirror "v$i" >/dev/null
    sleep 0.1
    [ "$(redis-cli -h 127.0.0.1 -p "$CANARY_PORT" get e2e:mirror)" = "v$i" ] && { ok=1; break; }
  done
  [ "$ok" -eq 1 ] || die "SET through mirror-100 never reached the canary: $(canary_counters mirror-100)"
fi

# Smoke test: a value written through each proxy reads back directly, and vice versa.
SMOKE_MODES=(no-observe observe)
[ "$MIRROR" -eq 1 ] && SMOKE_MODES+=("${MIRROR_MODES[@]}")
for mode in "${SMOKE_MODES[@]}"; do
  redis-cli -h 127.0.0.1 -p "${PPORT[$mode]}" set "e2e:$mode" "v-$mode" >/dev/null
  [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" get "e2e:$mode")" = "v-$mode" ] || die "SET through $mode not visible directly"
  [ "$(redis-cli -h 127.0.0.1 -p "${PPORT[$mode]}" get "e2e:$mode")" = "v-$mode" ] || die "GET through $mode wrong"
done

# ---------------------------------------------------------------- runs
RESULTS="$WORK/results.tsv"   # workload mode round rps p50_ms p99_ms proxy_ticks redis_ticks n
: >"$RESULTS"
WARNINGS="$WORK/warnings.txt"
: >"$WARNINGS"
MAX_COMPILERS=0

MRESULTS="$WORK/mirror-results.tsv"  # as RESULTS + mirrored compared matched diverged dropped canary_ticks link_syscalls
: >"$MRESULTS"
bench_once() {   # bench_once WORKLOAD MODE ROUND TEST PIPELINE CLIENTS N [KEYSPACE]
  local wl=$1 mode=$2 round=$3 test=$4 pipe=$5 clients=$6 n=$7 keyspace=${8:-}
  local port ppid="" p0=0 p1=0 r0 r1 k0=0 k1=0 out="$WORK/run.csv" err="$WORK/run.err" line c rc=0
  local admin=${ADMIN[$mode]:-} m0="" m1="" extra="" rargs=()
  port=$(port_of "$mode")
  [ "$mode" != direct ] && ppid=${PPID_OF[$mode]}
  [ -n "$keyspace" ] && rargs=(-r "$keyspace")
  c=$(busy_compilers); [ "${c:-0}" -gt "$MAX_COMPILERS" ] && MAX_COMPILERS=$c
  case $mode in
    canary-stopping) kill -STOP "$CANARY_PID" ;;
    canary-stopped) kill -STOP "$CANARY_PID"; await_links_down "$mode" ;;
  esac
  if [ -n "$admin" ]; then
    m0=$(canary_counters "$mode"); [ -n "$m0" ] || die "$mode: no counters from the admin socket"
    k0=$(cpu_ticks "$CANARY_PID")
  fi
  [ -n "$ppid" ] && p0=$(cpu_ticks "$ppid")
  r0=$(cpu_ticks "$REDIS_PID")
  timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$clients" -P "$pipe" \
    -t "$test" -d "$VALUE_SIZE" -n "$n" "${rargs[@]}" --csv >"$out" 2>"$err" || rc=$?
  r1=$(cpu_ticks "$REDIS_PID")
  [ -n "$ppid" ] && kill -0 "$ppid" 2>/dev/null && p1=$(cpu_ticks "$ppid")
  if [ "$mode" = canary-stopping ] || [ "$mode" = canary-stopped ]; then
    kill -CONT "$CANARY_PID"
    sleep 0.5   # let the canary work off what was queued for it, away from the next run
  fi
  [ "$rc" -eq 124 ] && die "$wl via $mode: redis-benchmark hung (> ${RUN_TIMEOUT}s)"
  [ "$rc" -ne 0 ] && die "$wl via $mode: redis-benchmark exited $rc: $(head -c 300 "$err")"
  if [ -n "$ppid" ]; then kill -0 "$ppid" 2>/dev/null || die "redmirror ($mode) died during $wl"; fi
  if [ -n "$admin" ]; then
    m1=$(canary_counters "$mode"); [ -n "$m1" ] || die "$mode: no counters from the admin socket after $wl"
    k1=$(cpu_ticks "$CANARY_PID")
    extra=$(paste <(echo "$m0" | tr '\t' '\n') <(echo "$m1" | tr '\t' '\n') | head -5 \
      | awk '{ printf "\t%d", $2 - $1 }')
    extra="$extra	$((k1 - k0))	$(( $(cut -f7 <<<"$m1") - $(cut -f7 <<<"$m0") ))"
  fi
  if [ -s "$err" ]; then printf '%s via %s round %s: %s\n' "$wl" "$mode" "$round" "$(tr '\r\n' '  ' <"$err" | head -c 200)" >>"$WARNINGS"; fi
  line=$(grep -i "^\"$test\"," "$out" | head -1 | tr -d '"') || true
  [ -n "$line" ] || die "$wl via $mode: no result line in redis-benchmark output: $(head -c 300 "$out")"
  # test,rps,avg,min,p50,p95,p99,max
  echo "$line" | awk -F, -v wl="$wl" -v m="$mode" -v r="$round" -v pt=$((p1 - p0)) -v rt=$((r1 - r0)) -v n="$n" -v x="$extra" \
    'BEGIN { OFS = "\t" } { print wl, m, r, $2, $5, $7, pt, rt, n x }' >>"$([ -n "$admin" ] && echo "$MRESULTS" || echo "$RESULTS")"
  printf '  %-10s %-14s %12s rps  p50 %s ms%s\n' "$wl" "$mode" "$(echo "$line" | cut -d, -f2)" "$(echo "$line" | cut -d, -f5)" \
    "$([ -n "$extra" ] && echo "$extra" | awk -F'\t' '{ printf "  mirrored %d dropped %d", $2, $6 }')" >&2
}

WORKLOADS=("P1-SET set 1 $CLIENTS $N_P1" "P1-GET get 1 $CLIENTS $N_P1"
           "P16-SET set 16 $CLIENTS $N_P16" "P16-GET get 16 $CLIENTS $N_P16"
           "LAT-GET get 1 1 $N_LAT")
# Mirror modes: random keys (-r) so that sampling by slot applies; SET first, so that GETs hit.
MWORKLOADS=("P1-SET set 1 $CLIENTS $N_M_P1" "P1-GET get 1 $CLIENTS $N_M_P1"
            "P16-SET set 16 $CLIENTS $N_M_P16" "P16-GET get 16 $CLIENTS $N_M_P16")
declare -A HWM_START HWM_END
PROXY_MODES=(no-observe observe)
[ "$MIRROR" -eq 1 ] && PROXY_MODES+=("${MIRROR_MODES[@]}")
for mode in "${PROXY_MODES[@]}"; do HWM_START[$mode]=$(vm_hwm_kib "${PPID_OF[$mode]}"); done
START=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS"
  for w in "${WORKLOADS[@]}"; do
    read -r wl test pipe clients n <<<"$w"
    for mode in "${MODES[@]}"; do bench_once "$wl" "$mode" "$round" "$test" "$pipe" "$clients" "$n"; done
  done
  if [ "$MIRROR" -eq 1 ]; then
    # The mirror modes' order rotates from round to round, so that no mode always runs first.
    rot=$(( (round - 1) % ${#MIRROR_MODES[@]} ))
    ORDER=("${MIRROR_MODES[@]:rot}" "${MIRROR_MODES[@]:0:rot}")
    for w in "${MWORKLOADS[@]}"; do
      read -r wl test pipe clients n <<<"$w"
      for mode in "${ORDER[@]}"; do bench_once "R-$wl" "$mode" "$round" "$test" "$pipe" "$clients" "$n" "$KEYSPACE"; done
    done
  fi
done
# Peak RSS of each proxy over its timed runs (before the strace runs).
for mode in "${PROXY_MODES[@]}"; do HWM_END[$mode]=$(vm_hwm_kib "${PPID_OF[$mode]}"); done

# System calls per request: one untimed GET run per proxy mode and pipeline depth under strace.
SYSCALLS="$WORK/syscalls.tsv"  # workload mode calls n top
: >"$SYSCALLS"
strace_once() {  # strace_once WORKLOAD MODE PIPELINE N [TESTS KEYSPACE]: appends to SYSCALLS, sets ST_TOTAL
  local wl=$1 mode=$2 pipe=$3 n=$4 tests=${5:-get} keyspace=${6:-} pid file="$WORK/strace-$1-$2.txt" i total top rargs=()
  ST_TOTAL=""
  [ -n "$keyspace" ] && rargs=(-r "$keyspace")
  pid=${PPID_OF[$mode]}
  strace -c -f -p "$pid" -o "$file" 2>"$WORK/strace-$wl-$mode.log" &
  STRACE_PID=$!
  for i in $(seq 1 60); do grep -q attached "$WORK/strace-$wl-$mode.log" 2>/dev/null && break; sleep 0.05; done
  sleep 0.2
  if ! kill -0 "$STRACE_PID" 2>/dev/null; then
    wait "$STRACE_PID" 2>/dev/null || true; STRACE_PID=""
    echo "strace could not attach to $mode: $(head -c 200 "$WORK/strace-$wl-$mode.log")" >>"$WARNINGS"
    return 0
  fi
  timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "${PPORT[$mode]}" -c "$CLIENTS" -P "$pipe" \
    -t "$tests" -d "$VALUE_SIZE" -n "$n" "${rargs[@]}" --csv >/dev/null 2>>"$WORK/strace-$wl-$mode.log" \
    || die "$wl via $mode under strace: redis-benchmark failed"
  kill -INT "$STRACE_PID" 2>/dev/null || true
  wait "$STRACE_PID" 2>/dev/null || true
  STRACE_PID=""
  total=$(awk '$NF == "total" { print $4 }' "$file")
  top=$(awk 'NR > 2 && $1 ~ /^[0-9.]+$/ && $NF != "total" { printf "%s %s\n", $4, $NF }' "$file" \
        | sort -rn | head -4 | awk -v n="$n" '{ printf "%s%s %.2f", (NR > 1 ? ", " : ""), $2, $1 / n }')
  [ -n "$total" ] || { echo "strace $wl $mode: no total line" >>"$WARNINGS"; return 0; }
  printf '%s\t%s\t%s\t%s\t%s\n' "$wl" "$mode" "$total" "$n" "$top" >>"$SYSCALLS"
  ST_TOTAL=$total
  log "  strace $wl $mode: $total calls / $n requests"
}
# Mirror modes: SET then GET (-t set,get: 2 x N requests) in one strace window,
# mirrored commands counted from CANARY LIST around it.
MSYSCALLS="$WORK/mirror-syscalls.tsv"  # workload mode calls requests mirrored
: >"$MSYSCALLS"
strace_mirror() {  # strace_mirror WORKLOAD MODE PIPELINE N
  local wl=$1 mode=$2 pipe=$3 n=$4 m0 m1
  m0=$(canary_counters "$mode" | cut -f1)
  strace_once "$wl" "$mode" "$pipe" "$n" set,get "$KEYSPACE"
  m1=$(canary_counters "$mode" | cut -f1)
  [ -n "$ST_TOTAL" ] || return 0
  printf '%s\t%s\t%s\t%s\t%s\n' "$wl" "$mode" "$ST_TOTAL" "$((2 * n))" "$((m1 - m0))" >>"$MSYSCALLS"
  log "  strace $wl $mode: $((m1 - m0)) mirrored"
}
if [ "$HAVE_STRACE" -eq 1 ]; then
  log "counting system calls (strace; untimed)"
  for mode in no-observe observe; do
    strace_once P1-GET "$mode" 1 "$N_ST_P1"
    strace_once P16-GET "$mode" 16 "$N_ST_P16"
  done
  if [ "$MIRROR" -eq 1 ]; then
    for mode in mirror-off mirror-10 mirror-100; do
      strace_mirror R-P1-SETGET "$mode" 1 "$N_MST_P1"
      strace_mirror R-P16-SETGET "$mode" 16 "$N_MST_P16"
    done
  fi
fi
ELAPSED=$(( $(date +%s) - START ))

# Clean shutdown: SIGTERM must drain and exit 0.
SHUTDOWN=""
for mode in "${PROXY_MODES[@]}"; do
  pid=${PPID_OF[$mode]}
  kill -TERM "$pid"
  rc=0
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then SHUTDOWN+="$mode: still running 10 s after SIGTERM; "; stop_pid "$pid"
  else wait "$pid" || rc=$?; SHUTDOWN+="$mode: exit $rc; "
  fi
done

# ---------------------------------------------------------------- report
REPORT="$WORK/report.md"
{
  echo "## redmirror end-to-end benchmark"
  echo
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -r)"
  echo "- $(redis-server --version | cut -d' ' -f1-3), $(redis-benchmark --version 2>/dev/null | head -1 || echo redis-benchmark)"
  echo "- redmirror $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || echo ' (+ uncommitted changes)') (binary $BIN), --workers 1, not pinned; redis-benchmark, Redis and the proxy share the CPUs"
  echo "- $ROUNDS interleaved round(s) (direct, no-observe, observe per workload); $CLIENTS clients, ${VALUE_SIZE}-byte values; n = $N_P1 (P1), $N_P16 (P16), $N_LAT (1 client); ${ELAPSED}s"
  [ "$MIRROR" -eq 1 ] && echo "- mirror modes (same rounds): mirror-off, mirror-10, mirror-100, canary-stopping, canary-stopped, each its own proxy with canary c1 (a second redis-server)${MIRROR_ARGS:+, extra flags: $MIRROR_ARGS}; GET/SET with -r $KEYSPACE; n = $N_M_P1 (P1), $N_M_P16 (P16)"
  echo "- load average before: $LOAD_BEFORE; most compiler processes seen at a run start: $MAX_COMPILERS$([ "$MAX_COMPILERS" -gt 0 ] && echo ' (figures are noisy)')"
  echo "- redmirror on SIGTERM: ${SHUTDOWN%; }"
  echo
} >"$REPORT"

# Statistics over the rounds, shared by the report's awk programs: add(k, x)
# records a value; med/lo/hi summarise them; ratio and check format.
AWK_STATS='
function med(k,   n, i, j, a, t) {
  n = cnt[k]; if (n == 0) return ""
  for (i = 1; i <= n; i++) a[i] = v[k, i] + 0
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(k,   i, m) { m = v[k, 1] + 0; for (i = 2; i <= cnt[k]; i++) if (v[k, i] + 0 < m) m = v[k, i] + 0; return m }
function hi(k,   i, m) { m = v[k, 1] + 0; for (i = 2; i <= cnt[k]; i++) if (v[k, i] + 0 > m) m = v[k, i] + 0; return m }
function add(k, x) { v[k, ++cnt[k]] = x }
function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.3f", a / b) : "-" }
function check(ok) { return ok ? "met" : "**not met**" }
'

awk -F'\t' -v tck="$CLK_TCK" -v report="$REPORT" "$AWK_STATS"'
FILENAME == ARGV[1] {
  wl = $1; m = $2
  add("rps|" wl "|" m, $4); add("p50|" wl "|" m, $5 * 1000); add("p99|" wl "|" m, $6 * 1000)
  add("pcpu|" wl "|" m, $7 / tck / $9 * 1e6); add("rcpu|" wl "|" m, $8 / tck / $9 * 1e6)
  next
}
{ sc[$1 "|" $2] = $3 / $4; top[$1 "|" $2] = $5; nsc++ }
END {
  split("P1-SET P1-GET P16-SET P16-GET", wls, " "); split("direct no-observe observe", ms, " ")
  print "### Throughput (50 clients)" >> report; print "" >> report
  print "| workload | mode | rps (median) | min-max | / direct | / no-observe | proxy CPU us/req | redis CPU us/req | syscalls/req |" >> report
  print "|---|---|---:|---:|---:|---:|---:|---:|---:|" >> report
  for (i = 1; i <= 4; i++) for (j = 1; j <= 3; j++) {
    wl = wls[i]; m = ms[j]; k = wl "|" m
    r = med("rps|" k); d = med("rps|" wl "|direct"); no = med("rps|" wl "|no-observe")
    printf "| %s | %s | %.0f | %.0f-%.0f | %s | %s | %s | %.2f | %s |\n", wl, m, r, lo("rps|" k), hi("rps|" k),
      (m == "direct" ? "1" : ratio(r, d)), (m == "observe" ? ratio(r, no) : "-"),
      (m == "direct" ? "-" : sprintf("%.2f", med("pcpu|" k))), med("rcpu|" k),
      ((k in sc) ? sprintf("%.2f", sc[k]) : "-") >> report
  }
  print "" >> report
  print "### Latency, 1 client, GET, -P 1 (microseconds)" >> report; print "" >> report
  print "| mode | rps | p50 | p99 | added p50 | added p99 | proxy CPU us/req |" >> report
  print "|---|---:|---:|---:|---:|---:|---:|" >> report
  d50 = med("p50|LAT-GET|direct"); d99 = med("p99|LAT-GET|direct")
  for (j = 1; j <= 3; j++) {
    m = ms[j]; k = "LAT-GET|" m
    printf "| %s | %.0f | %.0f | %.0f | %s | %s | %s |\n", m, med("rps|" k), med("p50|" k), med("p99|" k),
      (m == "direct" ? "-" : sprintf("%+.0f", med("p50|" k) - d50)), (m == "direct" ? "-" : sprintf("%+.0f", med("p99|" k) - d99)),
      (m == "direct" ? "-" : sprintf("%.2f", med("pcpu|" k))) >> report
  }
  print "" >> report
  if (nsc > 0) {
    print "System calls counted with `strace -c -f -p PID` over one untimed GET run per mode (strace slows the proxy, which reduces batching: counts are an upper bound). Largest per request:" >> report
    print "" >> report
    for (i = 2; i <= 4; i += 2) for (j = 2; j <= 3; j++) { k = wls[i] "|" ms[j]; if (k in top) printf "- %s %s: %s\n", wls[i], ms[j], top[k] >> report }
    print "" >> report
  }
  print "### Targets (issue 2; GET, observing mode)" >> report; print "" >> report
  print "| target | measured | |" >> report; print "|---|---:|---|" >> report
  for (i = 1; i <= 2; i++) {
    wl = (i == 1) ? "P1-GET" : "P16-GET"; k = wl "|observe"
    x = med("rps|" k) / med("rps|" wl "|no-observe")
    printf "| %s throughput >= 0.95 x no-observe | %.3f | %s |\n", wl, x, check(x >= 0.95) >> report
    lim = (i == 1) ? 11 : 0.8; x = med("pcpu|" k)
    printf "| %s proxy CPU <= %s us/req | %.2f | %s |\n", wl, lim, x, check(x <= lim) >> report
    lim = (i == 1) ? 4.1 : 0.3
    if (k in sc) printf "| %s syscalls <= %s /req | %.2f | %s |\n", wl, lim, sc[k], check(sc[k] <= lim) >> report
  }
  x = med("p50|LAT-GET|observe") - d50
  printf "| added p50, 1 client <= 16 us | %+.0f | %s |\n", x, check(x <= 16) >> report
}' "$RESULTS" "$SYSCALLS"

if [ "$MIRROR" -eq 1 ]; then
  HWMS="$WORK/hwm.tsv"
  for mode in "${MIRROR_MODES[@]}"; do printf '%s\t%s\t%s\t%s\n' "$mode" "$(percent_of "$mode")" "${HWM_START[$mode]}" "${HWM_END[$mode]}"; done >"$HWMS"
  awk -F'\t' -v tck="$CLK_TCK" -v report="$REPORT" -v budget="$QUEUE_BUDGET_MIB" "$AWK_STATS"'
FILENAME == ARGV[1] {   # mirror runs
  wl = $1; m = $2; k = wl "|" m
  add("rps|" k, $4); add("p50|" k, $5); add("p99|" k, $6)
  add("pcpu|" k, $7 / tck / $9 * 1e6); add("kcpu|" k, $15 / tck / $9 * 1e6)
  add("mir|" k, $10 / $9); add("drop|" k, $14 / $9)
  if ($10 > 0) add("lsc|" k, $16 / $10)
  byRound[k, $3] = $4; rounds[$3] = 1
  tot[m, "mirrored"] += $10; tot[m, "compared"] += $11; tot[m, "matched"] += $12; tot[m, "diverged"] += $13; tot[m, "dropped"] += $14
  next
}
FILENAME == ARGV[2] { pct[$1] = $2; h0[$1] = $3; h1[$1] = $4; next }
{ sc[$1 "|" $2] = $3; rq[$1 "|" $2] = $4; mi[$1 "|" $2] = $5 }
END {
  nw = split("R-P1-SET R-P1-GET R-P16-SET R-P16-GET", wls, " "); nm = split("mirror-off mirror-10 mirror-100 canary-stopping canary-stopped", ms, " ")
  print "### Mirroring: canary c1 beside mirror-off (GET/SET, random keys, 50 clients)" >> report; print "" >> report
  print "*/ mirror-off* is the ratio of the medians; *paired* the median of each round'"'"'s ratio to the mirror-off run of the same round (runs minutes apart see different machine noise; a round'"'"'s runs are adjacent)." >> report; print "" >> report
  print "| workload | mode | rps (median) | min-max | / mirror-off | paired | p50 ms | p99 ms | proxy CPU us/req | / mirror-off | canary CPU us/req | mirrored/req | dropped/req | link syscalls/mirrored |" >> report
  print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" >> report
  for (i = 1; i <= nw; i++) for (j = 1; j <= nm; j++) {
    wl = wls[i]; m = ms[j]; k = wl "|" m; o = wl "|mirror-off"
    if (!cnt["rps|" k]) continue
    r = med("rps|" k); c = med("pcpu|" k)
    rr[k] = r / med("rps|" o); cr[k] = c / med("pcpu|" o)
    ls[k] = cnt["lsc|" k] ? med("lsc|" k) : -1
    for (rd in rounds) if (((k, rd) in byRound) && ((o, rd) in byRound) && byRound[o, rd] > 0) add("pr|" k, byRound[k, rd] / byRound[o, rd])
    pr[k] = med("pr|" k)
    printf "| %s | %s | %.0f | %.0f-%.0f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f | %.2f | %.3f | %.3f | %s |\n", substr(wl, 3), m, r, lo("rps|" k), hi("rps|" k),
      rr[k], pr[k], med("p50|" k), med("p99|" k), c, cr[k], med("kcpu|" k), med("mir|" k), med("drop|" k),
      (ls[k] >= 0 ? sprintf("%.3f", ls[k]) : "-") >> report
  }
  print "" >> report
  print "Peak RSS (VmHWM of each mode'"'"'s own proxy: at start, after all its timed runs) and admin-socket counters (CANARY LIST, summed over the timed runs):" >> report
  print "" >> report
  print "| mode | percent | VmHWM start MiB | VmHWM end MiB | mirrored | compared | matched | diverged | dropped |" >> report
  print "|---|---:|---:|---:|---:|---:|---:|---:|---:|" >> report
  for (j = 1; j <= nm; j++) { m = ms[j]
    printf "| %s | %s | %.1f | %.1f | %d | %d | %d | %d | %d |\n", m, pct[m], h0[m] / 1024, h1[m] / 1024,
      tot[m, "mirrored"], tot[m, "compared"], tot[m, "matched"], tot[m, "diverged"], tot[m, "dropped"] >> report
  }
  print "" >> report
  nsw = split("R-P1-SETGET R-P16-SETGET", sws, " ")
  have = 0; for (k in sc) have = 1
  if (have) {
    print "System calls (`strace -c -f -p PID`, one untimed SET+GET run per mode, -r random keys, 50 clients; strace slows the proxy and so reduces batching: upper bounds). *Extra* = syscalls minus the same run'"'"'s mirror-off count:" >> report
    print "" >> report
    print "| workload | mode | syscalls | requests | syscalls/req | mirrored | syscalls/mirrored | extra syscalls/mirrored |" >> report
    print "|---|---|---:|---:|---:|---:|---:|---:|" >> report
    for (i = 1; i <= nsw; i++) for (j = 1; j <= 3; j++) {
      k = sws[i] "|" ms[j]; if (!(k in sc)) continue
      o = sws[i] "|mirror-off"
      ex = ""; if (ms[j] != "mirror-off" && mi[k] > 0 && (o in sc)) { ex = (sc[k] - sc[o] * rq[k] / rq[o]) / mi[k]; xs[k] = ex }
      printf "| %s | %s | %d | %d | %.2f | %d | %s | %s |\n", substr(sws[i], 3), ms[j], sc[k], rq[k], sc[k] / rq[k], mi[k],
        (mi[k] > 0 ? sprintf("%.2f", sc[k] / mi[k]) : "-"), (ex != "" ? sprintf("%.3f", ex) : "-") >> report
    }
    print "" >> report
  }
  print "### Targets (issues 3 and 4; mirror modes)" >> report; print "" >> report
  print "| target | measured | |" >> report; print "|---|---|---|" >> report
  row("mirror-10 throughput >= 0.90 x mirror-off", "mirror-10", "rr", 0.90, 1)
  row("canary-stopped throughput >= 0.95 x mirror-off", "canary-stopped", "rr", 0.95, 1)
  row("(the same two, paired by round) mirror-10 >= 0.90 x mirror-off", "mirror-10", "pr", 0.90, 1)
  row("(paired by round) canary-stopped >= 0.95 x mirror-off", "canary-stopped", "pr", 0.95, 1)
  for (j = 4; j <= 5; j++) {
    m = ms[j]; g = (h1[m] - h1["mirror-10"]) / 1024
    printf "| %s memory flat: VmHWM - mirror-10 VmHWM <= 16 MiB | %+.1f MiB (%.1f -> %.1f MiB over its runs) | %s |\n", m, g,
      h0[m] / 1024, h1[m] / 1024, check(g <= 16) >> report
    printf "| %s memory bounded: VmHWM - mirror-10 VmHWM <= queue budget (%d MiB) + 16 MiB | %+.1f MiB | %s |\n", m, budget, g, check(g <= budget + 16) >> report
  }
  row("mirror-100 proxy CPU/req <= 2.5 x mirror-off", "mirror-100", "cr", 2.5, 0)
  for (j = 2; j <= 3; j++) {
    s = ""; ok = 1; n = 0
    for (i = 1; i <= nw; i++) { k = wls[i] "|" ms[j]; if (ls[k] >= 0) { s = s (n++ ? ", " : "") substr(wls[i], 3) " " sprintf("%.3f", ls[k]); if (ls[k] > 0.25) ok = 0 } }
    if (n) printf "| %s: link system calls (gather writes + reads, counted by the proxy) per mirrored command <= 0.25 | %s | %s |\n", ms[j], s, check(ok) >> report
    s = ""; ok = 1; n = 0
    for (i = 1; i <= nsw; i++) { k = sws[i] "|" ms[j]; if (k in xs) { s = s (n++ ? ", " : "") substr(sws[i], 3) " " sprintf("%.3f", xs[k]); if (xs[k] > 0.25) ok = 0 } }
    if (n) printf "| %s: extra syscalls per mirrored command <= 0.25 | %s | %s |\n", ms[j], s, check(ok) >> report
  }
}
function row(label, m, what, lim, atLeast,   i, k, s, ok, x) {
  s = ""; ok = 1
  for (i = 1; i <= nw; i++) {
    k = wls[i] "|" m; x = (what == "rr") ? rr[k] : (what == "pr") ? pr[k] : cr[k]
    s = s (i > 1 ? ", " : "") substr(wls[i], 3) " " sprintf("%.3f", x)
    if (atLeast ? x < lim : x > lim) ok = 0
  }
  printf "| %s | %s | %s |\n", label, s, check(ok) >> report
}' "$MRESULTS" "$HWMS" "$MSYSCALLS"
fi

{
  echo
  echo "<details><summary>Every run</summary>"
  echo
  echo "| round | workload | mode | rps | p50 ms | p99 ms | proxy CPU ticks | redis CPU ticks |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|"
  awk -F'\t' '{ printf "| %s | %s | %s | %.0f | %s | %s | %s | %s |\n", $3, $1, $2, $4, $5, $6, $7, $8 }' "$RESULTS"
  if [ "$MIRROR" -eq 1 ]; then
    echo
    echo "| round | workload | mode | rps | p50 ms | p99 ms | proxy CPU ticks | redis CPU ticks | canary CPU ticks | mirrored | compared | matched | diverged | dropped |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{ printf "| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $3, $1, $2, $4, $5, $6, $7, $8, $15, $10, $11, $12, $13, $14 }' "$MRESULTS"
  fi
  echo
  echo "</details>"
} >>"$REPORT"

if [ -s "$WARNINGS" ]; then
  { echo; echo "### Warnings"; echo; sed 's/^/- /' "$WARNINGS"; } >>"$REPORT"
fi

cat "$REPORT"
if [ -n "$OUT" ]; then cp "$REPORT" "$OUT"; log "report written to $OUT"; fi
FAILED=0
