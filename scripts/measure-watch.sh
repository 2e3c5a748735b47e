#!/bin/sh
# Idle cost of `connwatch watch` with N connections (default 20) over SECS (default 60), and
# the same for pizauth's server with N accounts when PIZAUTH names its binary (build it from a
# fetched copy of the public repository ltratt/pizauth: `cargo build --release`).
# CPU ticks are utime+stime from /proc/PID/stat (100 per second); RSS is VmRSS at the end.
# The connections are the demo IdP's generated mailboxes (tokens of 10-60 min, so the idle
# minute has nothing due); the story rows are left out because they fail and refresh on purpose.
#   scripts/measure-watch.sh [SECS] [N]        PIZAUTH=/tmp/pizauth/target/release/pizauth
set -eu
secs=${1:-60}
n=${2:-20}
cd "$(dirname "$0")/.."
cargo build --release --quiet
dir=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir"' EXIT
./target/release/connwatch demo serve --data-dir "$dir/data" --extra-rows "$n" > "$dir/all.toml" 2>/dev/null &
pids="$pids $!"
for _ in $(seq 1 100); do grep -q 'shared-' "$dir/all.toml" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
# Keep the top-level keys and the generated rows only.
awk 'BEGIN{RS=""; ORS="\n\n"} !/^\[\[connection\]\]/ || /name = "shared-/' "$dir/all.toml" > "$dir/config.toml"
count=$(grep -c '^\[\[connection\]\]' "$dir/config.toml")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/{print $2 " kB"}' "/proc/$1/status"; }
measure() {
    sleep 3
    t0=$(ticks "$1"); sleep "$secs"; t1=$(ticks "$1")
    echo "$2: $((t1 - t0)) CPU ticks in ${secs} s, RSS $(rss "$1")"
}
XDG_RUNTIME_DIR="$dir" ./target/release/connwatch --config "$dir/config.toml" watch 2>/dev/null &
w=$!; pids="$pids $w"
measure "$w" "connwatch watch, $count connections"
if [ -n "${PIZAUTH:-}" ]; then
    : > "$dir/pizauth.conf"
    for i in $(seq 1 "$n"); do
        printf 'account "a%s" {\n  auth_uri = "http://127.0.0.1:9/authorize";\n  token_uri = "http://127.0.0.1:9/token";\n  client_id = "c";\n  scopes = ["offline_access"];\n}\n' "$i" >> "$dir/pizauth.conf"
    done
    mkdir -p "$dir/run" && chmod 700 "$dir/run"
    XDG_RUNTIME_DIR="$dir/run" "$PIZAUTH" server -c "$dir/pizauth.conf" -d 2>/dev/null &
    p=$!; pids="$pids $p"
    measure "$p" "pizauth server, $n accounts"
fi
