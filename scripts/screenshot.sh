#!/bin/sh
# Screenshot of the demo dashboard from a real terminal run, for the README:
# tmux runs `connwatch demo` at 120×30, waits until the story has played out (a refusal from
# the other tenant, a revoked grant), selects the shared calendar and opens its detail pane,
# then scripts/ansi2png.py renders the captured cells (colours included) to assets/screenshot.png.
# Needs tmux and python3 with Pillow (pip install pillow).
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet
sock="connwatch-shot-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
tmux -L "$sock" -f /dev/null new-session -d -x 120 -y 30 -s shot "env TERM=xterm-256color ./target/release/connwatch demo"
# The calendar's refresh is refused ~5 s in, the Zoom integration's ~10 s in.
for _ in $(seq 1 200); do
    if tmux -L "$sock" capture-pane -p -t shot | grep -q AADSTS50173; then break; fi
    sleep 0.1
done
tmux -L "$sock" send-keys -t shot j Enter
sleep 1
tmux -L "$sock" capture-pane -e -p -t shot > target/screenshot.ansi
python3 scripts/ansi2png.py target/screenshot.ansi assets/screenshot.png 120 30
echo "wrote assets/screenshot.png"
