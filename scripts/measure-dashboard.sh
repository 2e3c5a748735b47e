#!/usr/bin/env bash
# Whole-process figures of the dashboard in a real terminal (tmux), on a config of N
# connections served by `connwatch demo serve` (the demo IdP runs in its own process, so the
# figures are the dashboard's alone):
#   - time from start to the first frame on screen (median of RUNS runs; tmux start-up included);
#   - CPU time used while idle over IDLE seconds (countdowns ticking, automatic refreshes);
#   - resident memory (RSS) at the end.
# Usage: scripts/measure-dashboard.sh [runs=10] [idle-seconds=60] [connections=20]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
idle=${2:-60}
conns=${3:-20}
command -v tmux >/dev/null || { echo "needs tmux (apt-get install tmux)" >&2; exit 1; }
cargo build --release --quiet
bin=$PWD/target/release/connwatch
sock=connwatch-measure-$$
work=$(mktemp -d)
serve_pid=""
cleanup() {
  tmux -L $sock kill-server 2>/dev/null || true
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

extra=$(( conns > 4 ? conns - 4 : 0 ))
"$bin" demo serve --extra-rows "$extra" --data-dir "$work/data" > "$work/config.toml" 2>"$work/serve.log" &
serve_pid=$!
until grep -q "listening" "$work/serve.log" 2>/dev/null; do sleep 0.05; done

times=()
for _ in $(seq "$runs"); do
  tmux -L $sock kill-server 2>/dev/null || true
  sleep 0.2 # let the previous server go before a new one starts on the same socket
  start=$(date +%s%N)
  tmux -L $sock new-session -d -x 150 -y 40 "$bin --config $work/config.toml"
  until tmux -L $sock capture-pane -p 2>/dev/null | grep -q "work-mail"; do sleep 0.001; done
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "connections: $conns"
echo "start to first frame (ms, $runs runs, includes tmux start-up): median $median; all: $(echo $sorted | tr '\n' ' ')"

pid=$(pgrep -f "^$bin --config $work/config.toml" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks "$pid")
sleep "$idle"
after=$(ticks "$pid")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "idle over ${idle}s: $(( after - before )) ticks of 1/${hz}s = $(awk -v t=$((after - before)) -v hz="$hz" -v s="$idle" 'BEGIN {printf "%.3f%% of a core", 100 * t / hz / s}'); RSS ${rss} kB"
