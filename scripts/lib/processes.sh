# Process, port and build helpers shared by scripts/demo.sh, bench/e2e.sh and
# bench/redis-suite.sh (sourced).
# The process and port helpers work on loopback and read /proc.

stop_pid() {     # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Sockets (any state) bound to a local port, from /proc/net/tcp{,6}.
port_hex() { printf ':%04X' "$1"; }
port_used() {    # port_used PORT: any socket bound to this local port?
  awk -v h="$(port_hex "$1")" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
listeners_on() { # listeners_on PORT: how many sockets listen on it
  awk -v h="$(port_hex "$1")" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { n++ } END { print n + 0 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# pick_port: sets PORT to a port below the ephemeral range that nobody has bound
# and that was not picked before. It sets a variable instead of printing, because
# $(pick_port) would run in a subshell and forget what it handed out.
PICKED_PORTS=" "
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    case "$PICKED_PORTS" in *" $p "*) continue ;; esac
    port_used "$p" && continue
    PICKED_PORTS="$PICKED_PORTS$p "
    PORT=$p
    return
  done
}

wait_ping() {    # wait_ping PORT PID [SECONDS]: up to SECONDS (5) for PONG while PID lives
  local i
  for i in $(seq 1 $((${3:-5} * 20))); do
    kill -0 "$2" 2>/dev/null || return 1
    [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ] && return 0
    sleep 0.05
  done
  return 1
}

# build_redmirror BUILD_DIR JOBS LOG_NAME: configures (Release, no tests) and
# builds the redmirror binary, printing the log's tail on failure. Uses log/die
# of the sourcing script.
build_redmirror() {
  local dir=$1 jobs=$2 name=$3
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    log "configuring $dir (Release)"
    cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DREDMIRROR_TESTS=OFF -DREDMIRROR_BENCH=OFF >/dev/null
  fi
  log "building redmirror in $dir"
  cmake --build "$dir" -j"$jobs" --target redmirror >"$dir/$name" 2>&1 \
    || { tail -30 "$dir/$name" >&2; die "build failed"; }
}
