#!/usr/bin/env bash
# Fuzz the five parsers that take untrusted input, each for SECONDS (default 600 = 10 min),
# two at a time, with a seed corpus built from the test fixtures:
#   explain        pasted error bodies, codes, redirect URLs; raw HTTP answers
#   jwt_decode     anything pasted as a token (headers, responses, XOAUTH2)
#   config         config files
#   token_response token endpoint success / error / device authorization bodies
#   mail_reply     mail servers' replies, probe transcripts and mail clients' logs
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz). Crashes land in
# fuzz/artifacts/TARGET/; turn each into a regression test in tests/ before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
mkdir -p fuzz/corpus/{explain,jwt_decode,config,token_response,mail_reply}
for f in tests/fixtures/errors/*; do cp -n "$f" fuzz/corpus/explain/; cp -n "$f" fuzz/corpus/token_response/; done
for f in tests/fixtures/errors/mail_*; do cp -n "$f" fuzz/corpus/mail_reply/; done
for f in tests/fixtures/tokens/*; do cp -n "$f" fuzz/corpus/jwt_decode/; done
for f in tests/valid_configs/* tests/invalid_configs/* assets/*.toml; do cp -n "$f" fuzz/corpus/config/; done
run() {
  cargo +nightly fuzz run "$1" "fuzz/corpus/$1" -- -max_total_time="$secs" -rss_limit_mb=2048 \
    > "fuzz/$1.log" 2>&1 && echo "$1: no crash — $(grep '^Done' "fuzz/$1.log" | tail -1)" \
    || { echo "$1: FAILED — see fuzz/$1.log and fuzz/artifacts/$1/"; return 1; }
}
status=0
cargo +nightly fuzz build >/dev/null
(run explain) & a=$!; (run jwt_decode) & b=$!
wait $a || status=1; wait $b || status=1
(run config) & a=$!; (run token_response) & b=$!
wait $a || status=1; wait $b || status=1
run mail_reply || status=1
exit $status
