#!/usr/bin/env bash
# Runs each framer fuzzer for SECONDS on a scratch copy of its corpus (so the
# checked-in corpus only changes on purpose). Exits non-zero on any crash; the
# crashing input is printed and left in the scratch directory: add it to
# tests/fuzz/corpus/<target>/ for good.
#   tests/fuzz/run_fuzzers.sh BUILD_FUZZ_DIR SECONDS
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_FUZZ_DIR SECONDS" >&2
  exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/redmirror-fuzz.XXXXXX")
status=0

for target in request reply; do
  bin="$build/tests/fuzz/${target}_framer_fuzz"
  if [ ! -x "$bin" ]; then
    bin=$(find "$build" -type f -name "${target}_framer_fuzz" -perm -u+x | head -n1)
  fi
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "run_fuzzers: ${target}_framer_fuzz not found under $build" >&2
    exit 2
  fi
  corpus="$scratch/$target/corpus"
  artifacts="$scratch/$target/artifacts/"
  mkdir -p "$corpus" "$artifacts"
  cp "$here/corpus/$target/"* "$corpus/"
  echo "run_fuzzers: $target for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -dict="$here/resp.dict" -artifact_prefix="$artifacts" -print_final_stats=1 \
      "$corpus" >"$scratch/$target/log" 2>&1; then
    status=1
    echo "run_fuzzers: $target FAILED; log and artifacts in $scratch/$target" >&2
    tail -n 40 "$scratch/$target/log" >&2
    for f in "$artifacts"*; do [ -f "$f" ] && { echo "--- $f" >&2; xxd "$f" | head -n 20 >&2; }; done
  else
    grep -E "stat::number_of_executed_units|cov:" "$scratch/$target/log" | tail -n 2
  fi
done

if [ $status -eq 0 ]; then rm -rf "$scratch"; fi
exit $status
