#!/usr/bin/env bash
# Whole-command timings for docs/performance.md: powertune beside named baselines on the same
# file, in the same run. Usage: benches/whole_command.sh [SIZE_MB] [RUNS]
# Reports the median wall time of RUNS runs and the peak RSS (from /usr/bin/time -v) of the last.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1024}
runs=${2:-7}
dir=${BENCH_DIR:-/tmp/powertune-bench}
mkdir -p "$dir"
cargo build --release --quiet --bin powertune --example gen-logs --example gunzip
pt=target/release/powertune
log="$dir/mixed-${size}MiB.log"
if [ ! -s "$log" ]; then
  target/release/examples/gen-logs "$size" > "$log"
  gzip -6 -c "$log" > "$log.gz"
fi
cat "$log" "$log.gz" > /dev/null # warm the page cache

# median wall seconds and peak RSS (KB) of a command; its stdout goes to a file, because GNU
# grep stops at the first match when its output is /dev/null.
measure() {
  local times=() rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -v -o "$dir/time.txt" "$@" > "$dir/out.txt"
    times+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, a, ":"); print a[1] * 60 + a[2]}' "$dir/time.txt")")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time.txt")
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  echo "$median $rss"
}

bytes=$(stat -c %s "$log")
row() { # name, command...
  local name=$1; shift
  read -r secs rss < <(measure "$@")
  awk -v n="$name" -v s="$secs" -v r="$rss" -v b="$bytes" \
    'BEGIN { printf "| %s | %.2f s | %.2f GiB/s | %.1f MB |\n", n, s, b / s / 1073741824, r / 1024 }'
}
echo "file: $log ($bytes bytes, $(grep -c 'REPORT RequestId' "$log") REPORT lines), median of $runs runs"
echo
echo "| command | wall time | input throughput | peak RSS |"
echo "|---|---:|---:|---:|"
row "grep -c 'REPORT RequestId' (baseline)" grep -c 'REPORT RequestId' "$log"
row "powertune analyze" "$pt" analyze "$log"
row "powertune parse (JSON Lines out)" "$pt" parse "$log"
row "gunzip example, same decoder (baseline)" target/release/examples/gunzip "$log.gz"
row "gzip -dc (GNU, reference)" gzip -dc "$log.gz"
row "powertune analyze on .gz" "$pt" analyze "$log.gz"
