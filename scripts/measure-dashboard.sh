#!/usr/bin/env bash
# Whole-process figures of the demo dashboard, in a real terminal (tmux):
#   - time from start to the first frame on screen (median of N runs);
#   - CPU time used while idle over 60 s (countdowns ticking, one automatic refresh).
# Usage: scripts/measure-dashboard.sh [runs] [idle-seconds]   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
idle=${2:-60}
command -v tmux >/dev/null || { echo "needs tmux (apt-get install tmux)" >&2; exit 1; }
cargo build --release --quiet
bin=$PWD/target/release/connwatch
sock=connwatch-measure-$$
trap 'tmux -L $sock kill-server 2>/dev/null || true' EXIT

times=()
for _ in $(seq "$runs"); do
  tmux -L $sock kill-server 2>/dev/null || true
  sleep 0.2 # let the previous server go before a new one starts on the same socket
  start=$(date +%s%N)
  tmux -L $sock new-session -d -x 150 -y 20 "$bin demo"
  until tmux -L $sock capture-pane -p 2>/dev/null | grep -q "work-mail"; do sleep 0.002; done
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "start to first frame (ms, $runs runs, includes tmux start-up): median $median; all: $(echo $sorted | tr '\n' ' ')"

pid=$(pgrep -f "^$bin demo" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks "$pid")
sleep "$idle"
after=$(ticks "$pid")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "idle over ${idle}s: $(( after - before )) ticks of 1/${hz}s = $(awk -v t=$((after - before)) -v hz="$hz" -v s="$idle" 'BEGIN {printf "%.3f%% of a core", 100 * t / hz / s}'); RSS ${rss} kB"
