#!/usr/bin/env bash
# Redis's own Tcl test suite through redmirror, with a same-version canary
# mirrored at 100%, against a direct baseline.
#
#   bench/redis-suite.sh [--quick | --full | --units 'unit/type/string unit/expire ...']
#                        [--bin PATH] [--build-dir DIR] [--no-build] [--workers N|default]
#                        [--no-direct] [--timeout SEC] [--tags TAGS] [--runtest-arg ARG]...
#                        [--explained FILE] [--out DIR] [--keep]
#
# Fetches the Redis source matching the installed redis-server from Debian
# (apt-get source --download-only with a private apt state, cached in
# ${REDMIRROR_SUITE_CACHE:-/tmp/redmirror-redis-src}), unpacks it into a
# scratch directory, and runs ./runtest --host/--port unit by unit (external
# mode: tests tagged external:skip skip themselves), each unit twice, in turn:
#   direct  against a plain redis-server (the baseline);
#   proxy   through redmirror (--workers 1 unless --workers), whose primary
#           and canary c1 (mirrored at 100%) are two more redis-servers.
# All servers are the installed binary with the suite's settings that matter
# in external mode (enable-debug-command yes, ...), no persistence, on free
# loopback ports. After each unit the proxy's REPORT c1 is saved and the
# report window RESET, so divergences are attributed to units; a script still
# running on a server after a unit (the canary never got the SCRIPT KILL) is
# killed there and reported as a process event, like a crash (both fail the run).
# Tests that break a plain server in external mode are skipped (SKIP_TESTS).
#
# Units: --quick (data types, expire, keyspace, multi, scripting: ~3 min),
# --units LIST, or --full (default: every unit of the suite's own list).
# Exit status: 0 when no test fails through the proxy that passes directly and
# every divergence is explained (--explained FILE, default
# bench/redis-suite-explained.txt: "CLASS COMMAND UNIT reason", '*' for any);
# 1 otherwise; 2 on usage errors. The summary (markdown) is printed and saved
# as OUT/summary.md; per-unit logs and reports stay in OUT (--out DIR, default
# a fresh /tmp/redmirror-suite.XXXXXX, removed on success unless --keep).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"

BUILD_DIR="$ROOT/build-suite"
BIN=""
NO_BUILD=0
WORKERS=1
DIRECT=1
UNIT_TIMEOUT=300        # runtest --timeout: seconds without progress before it gives up
TAGS=""
RUNTEST_ARGS=()
EXPLAINED="$ROOT/bench/redis-suite-explained.txt"
OUT=""
KEEP=0
MODE=full
UNITS_ARG=""
CACHE=${REDMIRROR_SUITE_CACHE:-/tmp/redmirror-redis-src}

# Tests that, in external mode, fail against a plain server AND leave it broken
# for the tests after them (so both sides would fail in cascade): skipped.
SKIP_TESTS=(
  # needs the server's pid (srv 0 pid) to kill the RDB child: fails with
  # set-max-intset-entries 0 and rdb-key-save-delay 2147483647 left set, so later
  # encoding asserts fail and every later SYNC/BGSAVE hangs.
  "SRANDMEMBER with a dict containing long chain"
)

QUICK_UNITS="unit/type/string unit/type/incr unit/type/list unit/type/hash unit/type/set
  unit/type/zset unit/expire unit/keyspace unit/multi unit/scripting"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --full) MODE=full ;;
    --units) UNITS_ARG=${2:?--units needs a list}; MODE=units; shift ;;
    --bin) BIN=${2:?--bin needs a path}; NO_BUILD=1; shift ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift ;;
    --no-build) NO_BUILD=1 ;;
    --workers) WORKERS=${2:?--workers needs a number or 'default'}; shift ;;
    --no-direct) DIRECT=0 ;;
    --timeout) UNIT_TIMEOUT=${2:?--timeout needs seconds}; shift ;;
    --tags) TAGS=${2:?--tags needs a tag list}; shift ;;
    --runtest-arg) RUNTEST_ARGS+=("${2:?--runtest-arg needs an argument}"); shift ;;
    --explained) EXPLAINED=${2:?--explained needs a file}; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "redis-suite: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case "$WORKERS" in default) ;; ''|*[!0-9]*|0) echo "redis-suite: --workers must be a positive integer or 'default'" >&2; exit 2 ;; esac
case "$UNIT_TIMEOUT" in ''|*[!0-9]*|0) echo "redis-suite: --timeout must be a positive integer" >&2; exit 2 ;; esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac

log() { printf 'redis-suite: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------- tools
need_pkgs=()
command -v tclsh >/dev/null 2>&1 || need_pkgs+=(tcl)
command -v jq >/dev/null 2>&1 || need_pkgs+=(jq)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_pkgs+=(redis-tools)
command -v timeout >/dev/null 2>&1 || need_pkgs+=(coreutils)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing ${need_pkgs[*]} with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null \
      || die "apt-get install ${need_pkgs[*]} failed"
  fi
fi
# runtest looks for tclsh8.5..8.7 by name.
ls /usr/bin/tclsh8.[5-7] >/dev/null 2>&1 || die "runtest needs tclsh 8.5 or newer (package tcl)"

# ---------------------------------------------------------------- the suite's source
REDIS_VERSION=$(redis-server --version | sed -n 's/.*v=\([0-9][0-9.]*\).*/\1/p')
[ -n "$REDIS_VERSION" ] || die "cannot tell the version of redis-server"
TARBALL="$CACHE/redis_${REDIS_VERSION}.orig.tar.gz"
if [ ! -s "$TARBALL" ]; then
  log "downloading the Debian source of redis $REDIS_VERSION into $CACHE"
  mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial" "$CACHE/download"
  cat >"$CACHE/apt/src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # A private apt state: the system's sources, lists and caches are untouched.
  APT_OPTS=(-o "Dir::Etc::SourceList=$CACHE/apt/src.sources" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache=$CACHE/apt/cache"
            -o APT::Sandbox::User=root)
  apt-get "${APT_OPTS[@]}" update -q >"$CACHE/apt-update.log" 2>&1 \
    || { tail -5 "$CACHE/apt-update.log" >&2; die "apt-get update (deb-src, private state) failed"; }
  (cd "$CACHE/download" && apt-get "${APT_OPTS[@]}" source --download-only redis) >"$CACHE/apt-source.log" 2>&1 \
    || { tail -5 "$CACHE/apt-source.log" >&2; die "apt-get source --download-only redis failed"; }
  got=$(ls "$CACHE/download"/redis_*.orig.tar.gz 2>/dev/null | head -1)
  [ -n "$got" ] || die "apt-get source gave no redis_*.orig.tar.gz (see $CACHE/apt-source.log)"
  case "$got" in
    *"redis_${REDIS_VERSION}.orig.tar.gz") mv "$got" "$TARBALL" ;;
    *) die "Debian's source is $(basename "$got"), the installed redis-server is $REDIS_VERSION" ;;
  esac
fi

# ---------------------------------------------------------------- build
if [ -z "$BIN" ]; then BIN="$BUILD_DIR/redmirror"; fi
if [ "$NO_BUILD" -eq 0 ]; then build_redmirror "$BUILD_DIR" 1 suite-build.log; fi
[ -x "$BIN" ] || die "no redmirror binary at $BIN"

# ---------------------------------------------------------------- work area
if [ -n "$OUT" ]; then
  mkdir -p "$OUT"; WORK=$(cd "$OUT" && pwd); KEEP=1
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/redmirror-suite.XXXXXX")
fi
mkdir -p "$WORK/units" "$WORK/servers"
SRC="$WORK/redis-$REDIS_VERSION"
if [ ! -x "$SRC/runtest" ]; then
  tar -xzf "$TARBALL" -C "$WORK" --exclude="redis-$REDIS_VERSION/deps" \
    || die "cannot unpack $TARBALL"
fi
# The suite calls src/redis-server, src/redis-cli, src/redis-benchmark, ...: the installed ones.
for b in redis-server redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
  command -v "$b" >/dev/null 2>&1 && ln -sf "$(command -v "$b")" "$SRC/src/$b"
done

# The units, in the suite's own order.
ALL_UNITS=$(cd "$SRC" && tclsh tests/test_helper.tcl --list-tests 2>/dev/null) || true
[ -n "$ALL_UNITS" ] || ALL_UNITS=$(sed -n '/^set ::all_tests {/,/^}/p' "$SRC/tests/test_helper.tcl" | sed '1d;$d' | awk '{ print $1 }')
case "$MODE" in
  quick) UNITS=$QUICK_UNITS ;;
  units) UNITS=$UNITS_ARG ;;
  full) UNITS=$ALL_UNITS ;;
esac
UNITS=$(echo $UNITS)   # one line, single spaces
for u in $UNITS; do
  [ -f "$SRC/tests/$u.tcl" ] || die "no unit '$u' in the suite (see: cd $SRC && ./runtest --list-tests)"
done

# ---------------------------------------------------------------- processes
PIDS=()
RUNTEST_PID=""
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [ -n "$RUNTEST_PID" ]; then kill -TERM -- "-$RUNTEST_PID" 2>/dev/null || true; sleep 1; kill -KILL -- "-$RUNTEST_PID" 2>/dev/null || true; fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ "$rc" -eq 0 ] && [ "$KEEP" -eq 0 ]; then
    rm -rf "$WORK"
  else
    log "logs kept in $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# What tests/assets/default.conf sets that matters against an external server:
# DEBUG, protected configs and MODULE allowed, keyspace events on, latency monitor.
SERVER_ARGS=(--bind 127.0.0.1 --save "" --appendonly no --daemonize no
             --enable-debug-command yes --enable-protected-configs yes --enable-module-command yes
             --notify-keyspace-events KEA --latency-monitor-threshold 1 --repl-diskless-sync-delay 0)

declare -A SPORT SPID
start_redis() {   # start_redis NAME: sets SPORT[NAME], SPID[NAME]
  local name=$1 attempt port pid dir="$WORK/servers/$1"
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5; do
    pick_port; port=$PORT
    redis-server --port "$port" "${SERVER_ARGS[@]}" --dir "$dir" --logfile "$dir/redis.log" >/dev/null 2>&1 &
    pid=$!
    if wait_ping "$port" "$pid"; then
      PIDS+=("$pid"); SPORT[$name]=$port; SPID[$name]=$pid
      return 0
    fi
    stop_pid "$pid"
  done
  die "redis-server ($name) did not start (see $dir/redis.log)"
}

ADMIN="$WORK/admin.sock"
PROXY_PORT=""
PROXY_PID=""
PROXY_STARTS=0
start_proxy() {
  local attempt port pid wflags=()
  [ "$WORKERS" != default ] && wflags=(--workers "$WORKERS")
  rm -f "$ADMIN"
  for attempt in 1 2 3 4 5; do
    pick_port; port=$PORT
    "$BIN" --listen "127.0.0.1:$port" --primary "127.0.0.1:${SPORT[primary]}" \
      --canary "c1=127.0.0.1:${SPORT[canary]}" --mirror c1=100 --admin-socket "$ADMIN" \
      --report-keys plain "${wflags[@]}" --log-level warn >>"$WORK/redmirror.log" 2>&1 &
    pid=$!
    # SO_REUSEPORT would let us share a port with someone else's proxy: insist on one listener.
    if wait_ping "$port" "$pid" && [ "$(listeners_on "$port")" -eq "$([ "$WORKERS" = default ] && nproc || echo "$WORKERS")" ]; then
      PIDS+=("$pid"); PROXY_PORT=$port; PROXY_PID=$pid; PROXY_STARTS=$((PROXY_STARTS + 1))
      break
    fi
    stop_pid "$pid"
  done
  [ -n "$PROXY_PID" ] && kill -0 "$PROXY_PID" 2>/dev/null || die "redmirror did not start (see $WORK/redmirror.log)"
  # The proxy may wait for the canary's command table before it mirrors: a SET
  # through it must reach the canary.
  local i ok=0
  for i in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$PROXY_PORT" set redis-suite:smoke "v$i" >/dev/null
    sleep 0.1
    [ "$(redis-cli -h 127.0.0.1 -p "${SPORT[canary]}" get redis-suite:smoke)" = "v$i" ] && { ok=1; break; }
  done
  [ "$ok" -eq 1 ] || die "a SET through the proxy never reached the canary"
  redis-cli -h 127.0.0.1 -p "$PROXY_PORT" del redis-suite:smoke >/dev/null
  sleep 0.2
  admin RESET c1 >/dev/null
}
admin() { redis-cli -s "$ADMIN" "$@"; }

[ "$DIRECT" -eq 1 ] && start_redis direct
start_redis primary
start_redis canary
start_proxy
log "units: $(echo "$UNITS" | wc -w) ($MODE); work dir $WORK"
log "direct :${SPORT[direct]:--}, primary :${SPORT[primary]}, canary :${SPORT[canary]}, redmirror :$PROXY_PORT (workers $WORKERS, pid $PROXY_PID)"

# ---------------------------------------------------------------- running units
# A unit's log as TSV lines: status <tab> test name <tab> first line of the message.
parse_log() {   # parse_log LOG > TSV
  sed 's/\x1b\[[0-9;]*m//g' "$1" | awk '
    function flush() { if (st != "") { gsub(/\t/, " ", msg); print st "\t" name "\t" msg }; st = "" }
    /^\[ok\]: /        { flush(); s = substr($0, 7); sub(/ \([0-9]+ ms\)$/, "", s); print "ok\t" s "\t"; next }
    /^\[err\]: /       { flush(); st = "err"; name = substr($0, 8); sub(/ in tests\/[^ ]*\.tcl$/, "", name); msg = ""; next }
    /^\[exception\]: / { flush(); st = "exception"; name = "(unit aborted)"; msg = substr($0, 14); next }
    /^\[TIMEOUT\]: /   { flush(); print "timeout\t(unit timed out)\t" $0; next }
    /^\[ignore\]: /    { flush(); next }
    /^\[skip\]: /      { flush(); next }
    /^\[[0-9]+\/[0-9]+ done\]/ { flush(); next }
    st != "" && msg == "" && $0 != "" { msg = $0; next }
    END { flush() }'
}

run_unit() {   # run_unit KIND PORT UNIT: runs one unit, writes units/<unit>.<kind>.{log,tsv}
  local kind=$1 port=$2 unit=$3 base rc=0 t0 t1
  base="$WORK/units/$(echo "$unit" | tr / _).$kind"
  # The suite's own test server listens near --baseport: away from anyone else's run.
  pick_port
  local args=(--host 127.0.0.1 --port "$port" --single "$unit" --clients 1 --timeout "$UNIT_TIMEOUT" --durable
              --baseport $((PORT + 32)))
  [ -n "$TAGS" ] && args+=(--tags "$TAGS")
  local t
  for t in "${SKIP_TESTS[@]}"; do args+=(--skiptest "$t"); done
  t0=$(date +%s.%N)
  # In a session of its own, so that an interrupted run takes the suite's
  # processes (test server, test client, helpers) down with it.
  (cd "$SRC" && exec setsid timeout --kill-after=10 $((UNIT_TIMEOUT * 4)) ./runtest "${args[@]}" "${RUNTEST_ARGS[@]}") \
    >"$base.log" 2>&1 </dev/null &
  RUNTEST_PID=$!
  wait "$RUNTEST_PID" || rc=$?
  RUNTEST_PID=""
  t1=$(date +%s.%N)
  parse_log "$base.log" >"$base.tsv"
  [ "$rc" -eq 124 ] && printf 'timeout\t(unit killed after %ss)\t\n' $((UNIT_TIMEOUT * 4)) >>"$base.tsv"
  if [ "$rc" -ne 0 ] && ! grep -qv '^ok' "$base.tsv"; then
    printf 'exception\t(runtest exited %s)\t%s\n' "$rc" "$(sed 's/\x1b\[[0-9;]*m//g' "$base.log" | grep -v '^\s*$' | tail -1 | tr '\t' ' ')" >>"$base.tsv"
  fi
  printf '%s\t%s\t%s\t%.1f\t%d\t%d\n' "$unit" "$kind" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    "$(grep -c '^ok' "$base.tsv" || true)" "$(grep -vc '^ok' "$base.tsv" || true)" >>"$WORK/units.tsv"
}

settle_and_report() {   # settle_and_report UNIT: waits for the canary, saves REPORT c1, RESET
  local unit=$1 base prev="" cur i
  base="$WORK/units/$(echo "$unit" | tr / _)"
  # Mirrored replies still in flight: wait until the counters stop moving (max 5 s).
  for i in $(seq 1 25); do
    cur=$(admin CANARY LIST 2>/dev/null | jq -c '.[] | select(.name == "c1") | [.mirrored, .compared]' 2>/dev/null || true)
    [ -n "$cur" ] && [ "$cur" = "$prev" ] && break
    prev=$cur; sleep 0.2
  done
  admin CANARY LIST >"$base.canaries.json" 2>/dev/null || true
  if admin REPORT c1 >"$base.report.json" 2>/dev/null && jq -e . "$base.report.json" >/dev/null 2>&1; then
    jq -c --arg unit "$unit" '{unit: $unit} + .' "$base.report.json" >>"$WORK/reports.jsonl"
  else
    log "no report after $unit"
  fi
  admin RESET c1 >/dev/null 2>&1 || true
}

: >"$WORK/units.tsv"
: >"$WORK/reports.jsonl"
: >"$WORK/proxy-events.txt"
START=$(date +%s)
n=0; total=$(echo "$UNITS" | wc -w)
for unit in $UNITS; do
  n=$((n + 1))
  if [ "$DIRECT" -eq 1 ]; then run_unit direct "${SPORT[direct]}" "$unit"; fi
  run_unit proxy "$PROXY_PORT" "$unit"
  if ! kill -0 "$PROXY_PID" 2>/dev/null; then
    echo "redmirror died during $unit (restarted)" >>"$WORK/proxy-events.txt"
    log "redmirror died during $unit: restarting it"
    PROXY_PID=""; start_proxy
  else
    settle_and_report "$unit"
  fi
  # A script the primary's client killed (SCRIPT KILL) may still run on the
  # canary: later units would see only BUSY there. Kill it and say so.
  # Several may be queued behind one another on a canary link: kill until PONG.
  for s in primary canary; do
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
      pong=$(timeout 8 redis-cli -h 127.0.0.1 -p "${SPORT[$s]}" ping 2>&1 || true)
      case "$pong" in
        PONG) break ;;
        *BUSY*)
          echo "$s busy after $unit (a script left running: '$pong'): SCRIPT KILL / FUNCTION KILL sent directly" >>"$WORK/proxy-events.txt"
          log "$s busy after $unit: killing the script"
          redis-cli -h 127.0.0.1 -p "${SPORT[$s]}" script kill >/dev/null 2>&1 || true
          redis-cli -h 127.0.0.1 -p "${SPORT[$s]}" function kill >/dev/null 2>&1 || true
          sleep 0.5 ;;
        *) echo "$s answers PING with '$pong' after $unit" >>"$WORK/proxy-events.txt"; break ;;
      esac
    done
  done
  for s in "${!SPID[@]}"; do
    if ! kill -0 "${SPID[$s]}" 2>/dev/null; then
      echo "redis-server $s died during $unit (restarted)" >>"$WORK/proxy-events.txt"
      log "redis-server $s died during $unit: restarting it"
      start_redis "$s"
      [ "$s" = direct ] || { stop_pid "$PROXY_PID"; PROXY_PID=""; start_proxy; }
    fi
  done
  awk -F'\t' -v u="$unit" '$1 == u { printf "%s %s: %s ok, %s failed, %ss; ", $2, $1, $5, $6, $4 }' "$WORK/units.tsv" \
    | sed "s/^/[$n\/$total] /; s/; $//" >&2; echo >&2
done
ELAPSED=$(( $(date +%s) - START ))

# ---------------------------------------------------------------- analysis
# Tests that fail through the proxy and pass directly (a test name may repeat in a unit: counted).
: >"$WORK/proxy-only.tsv"   # unit status name message
for unit in $UNITS; do
  base="$WORK/units/$(echo "$unit" | tr / _)"
  [ -f "$base.proxy.tsv" ] || continue
  if [ "$DIRECT" -eq 1 ]; then
    awk -F'\t' -v u="$unit" '
      FNR == NR { if ($1 == "ok") okd[$2]++; else badd[$2]++; next }
      $1 == "ok" { okp[$2]++; next }
      { badp[$2]++; if (badp[$2] > badd[$2] + 0) print u "\t" $1 "\t" $2 "\t" $3 }
      END { for (t in okd) if (okd[t] > okp[t] + 0 && okd[t] + badd[t] > okp[t] + badp[t]) print u "\tnot run\t" t "\t(passed directly; not reached through the proxy)" }' \
      "$base.direct.tsv" "$base.proxy.tsv" | sort -u >>"$WORK/proxy-only.tsv"
  else
    awk -F'\t' -v u="$unit" '$1 != "ok" { print u "\t" $1 "\t" $2 "\t" $3 }' "$base.proxy.tsv" >>"$WORK/proxy-only.tsv"
  fi
done
# "(unit aborted)" and "not run" lines for a unit that died halfway say the same: keep both, they are short.

# Explained divergences: "CLASS COMMAND UNIT reason" ('*' matches anything).
EXPL_JSON='[]'
if [ -f "$EXPLAINED" ]; then
  EXPL_JSON=$(grep -v '^\s*#' "$EXPLAINED" | awk 'NF >= 3 { r = $0; sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]*/, "", r); print $1 "\t" $2 "\t" $3 "\t" r }' \
    | jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {class: .[0], command: (.[1] | ascii_downcase), unit: .[2], reason: .[3]})')
fi
# Per unit and class: divergences, and how many of them are explained. A class
# is fully explained in a unit when an entry with command '*' covers it;
# otherwise each divergence needs a sample (the ring keeps the newest 64 per
# unit) whose command is listed: divergences without a sample count as unexplained.
jq -s --argjson ex "$EXPL_JSON" '
  def base: ascii_downcase | split(" ")[0];
  def explained($cls; $cmd; $unit): any($ex[]; (.class == "*" or .class == $cls) and (.command == "*" or .command == $cmd) and (.unit == "*" or .unit == $unit));
  [ .[] | . as $r | ($r.divergences // {}) | to_entries[] | . as $d
    | ($r.samples // [] | map(select(.class == $d.key))) as $s
    | { unit: $r.unit, class: $d.key, count: $d.value,
        sampled: ($s | length),
        explained_samples: ($s | map(select(explained($d.key; (.command | base); $r.unit))) | length),
        wildcard: explained($d.key; "\u0000any"; $r.unit),
        commands: ($s | map(.command | base) | group_by(.) | map({(.[0]): length}) | add // {}) }
    | . + { unexplained: (if .wildcard then 0 else (.count - .explained_samples) end) } ]
' "$WORK/reports.jsonl" >"$WORK/divergences.json"

# ---------------------------------------------------------------- summary
SUMMARY="$WORK/summary.md"
{
  echo "# Redis test suite through redmirror"
  echo
  echo "redis-server $REDIS_VERSION; redmirror $BIN (workers $WORKERS); mode $MODE, $total units; $(date -u '+%Y-%m-%d %H:%M UTC'); wall time ${ELAPSED}s."
  echo "Options: --clients 1 --timeout $UNIT_TIMEOUT --durable${TAGS:+ --tags '$TAGS'} ${RUNTEST_ARGS[*]:-}; skipped tests: $(printf "'%s' " "${SKIP_TESTS[@]}")"
  [ -s "$WORK/proxy-events.txt" ] && { echo; echo "**Process events:**"; sed 's/^/- /' "$WORK/proxy-events.txt"; }
  echo
  echo "## Units (tests ok / not ok, seconds)"
  echo
  echo "| unit | direct | proxy |"
  echo "|---|---|---|"
  awk -F'\t' '{ k = $1; r[k, $2] = $5 " / " $6 " (" $4 "s" ($3 != 0 ? ", rc " $3 : "") ")"; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    END { for (i = 1; i <= n; i++) { k = order[i]; d = r[k, "direct"]; p = r[k, "proxy"]; if (d == "") d = "-"; printf "| %s | %s | %s |\n", k, d, p } }' "$WORK/units.tsv"
  echo
  awk -F'\t' '$2 == "direct" { dt += $4 } $2 == "proxy" { pt += $4 } END { printf "Suite time: direct %.0fs, proxy %.0fs.\n", dt, pt }' "$WORK/units.tsv"
  echo
  if [ "$DIRECT" -eq 1 ]; then echo "## Tests failing through the proxy that pass directly"; else echo "## Tests failing through the proxy"; fi
  echo
  if [ -s "$WORK/proxy-only.tsv" ]; then
    awk -F'\t' '{ m = $4; if (length(m) > 200) m = substr(m, 1, 200) "..."; printf "- `%s` **%s** [%s]: %s\n", $1, $3, $2, m }' "$WORK/proxy-only.tsv"
  else
    echo "none"
  fi
  if [ "$DIRECT" -eq 1 ]; then
    echo
    echo "Failing directly as well (not held against the proxy): $(cat "$WORK"/units/*.direct.tsv 2>/dev/null | grep -vc '^ok' || true) test(s)."
  fi
  echo
  echo "## Mirroring and diff (REPORT c1, summed over units)"
  echo
  jq -s -r '
    def sum(f): map(f // 0) | add // 0;
    "comparisons \(sum(.compared)), matched \(sum(.matched)), diverged \(sum(.diverged)), mirrored \(sum(.mirrored)); errors primary \(sum(.errors.primary)), canary \(sum(.errors.canary))",
    "",
    "skipped: " + ([.[] | .skipped // {} | to_entries[]] | group_by(.key) | map("\(.[0].key) \(map(.value) | add)") | join(", ")),
    "",
    "divergences by class: " + ([.[] | .divergences // {} | to_entries[]] | group_by(.key) | map("\(.[0].key) \(map(.value) | add)") | join(", ") | if . == "" then "none" else . end),
    "",
    "divergences by command (diverged/compared): " + ([.[] | .by_command // {} | to_entries[] | select(.value.diverged > 0)] | group_by(.key)
        | map({k: .[0].key, d: (map(.value.diverged) | add), c: (map(.value.compared) | add)}) | sort_by(-.d) | map("\(.k) \(.d)/\(.c)") | join(", ") | if . == "" then "none" else . end)
  ' "$WORK/reports.jsonl"
  echo
  echo "### Divergences per unit and class"
  echo
  if [ "$(jq length "$WORK/divergences.json")" -gt 0 ]; then
    echo "| unit | class | count | sampled | explained | commands (from samples) |"
    echo "|---|---|---:|---:|---:|---|"
    jq -r '.[] | "| \(.unit) | \(.class) | \(.count) | \(.sampled) | \(if .wildcard then "all" else .explained_samples end) | \(.commands | to_entries | map("\(.key) \(.value)") | join(", ")) |"' "$WORK/divergences.json"
  else
    echo "none"
  fi
  echo
  echo "### Samples (up to 5 per unit and class; keys plain)"
  echo
  jq -r -s '.[] | .unit as $u | (.samples // []) | group_by(.class)[] | .[:5][]
    | "- `\($u)` \(.class) `\(.command | .[0:160])`: \(.detail); primary `\(.primary | .[0:120])` canary `\(.canary | .[0:120])`"' "$WORK/reports.jsonl"
  echo
  echo "### Explained ($EXPLAINED)"
  echo
  echo "$EXPL_JSON" | jq -r '.[] | "- \(.class) \(.command) \(.unit): \(.reason)"'
} >"$SUMMARY"

cat "$SUMMARY"

PROXY_ONLY=$(wc -l <"$WORK/proxy-only.tsv")
UNEXPLAINED=$(jq '[.[] | .unexplained] | add // 0' "$WORK/divergences.json")
DIED=$(wc -l <"$WORK/proxy-events.txt")
echo
log "$PROXY_ONLY test(s) fail only through the proxy, $UNEXPLAINED unexplained divergence(s), $DIED process event(s); ${ELAPSED}s"
if [ "$PROXY_ONLY" -gt 0 ] || [ "$UNEXPLAINED" -gt 0 ] || [ "$DIED" -gt 0 ]; then exit 1; fi
exit 0
