#!/usr/bin/env bash
# cli_version.sh — `swarmprune --version` prints the version that checkpoints record and the
# build's options; `inspect` shows the same version for a checkpoint this build wrote.
source "$(dirname "$0")/lib_cli.sh"
expect_ok "--version" "$SP_BIN" --version
v=$(sed -n 's/^swarmprune \([^ ]*\) (checkpoint schema [0-9]*)$/\1/p' "$TMP/out")
[ -n "$v" ] || fail "--version: no 'swarmprune VERSION (checkpoint schema N)' line: $(cat "$TMP/out")"
grep -qE "^build: CUDA backend (on|off).*, NCCL (on|off)" "$TMP/out" || fail "--version: no build line"
expect_ok "version" "$SP_BIN" version
expect_ok "help mentions --version" "$SP_BIN" --help
grep -q -- "--version" "$TMP/out" || fail "help does not mention --version"
if [ -d "$SHARED" ]; then
    G=$SHARED/fixtures/tiny-brown-24L-goldens
    cat >"$TMP/job.json" <<JOB
{"name": "v", "model": "$SHARED/fixtures/tiny-brown-24L",
 "task": {"type": "nll", "path": "$G/mask_nll_goldens.json", "limit": 1},
 "objective": {"type": "nll"}, "k": 1,
 "search": {"algorithm": "random", "budget": 1}, "output": "$TMP/run"}
JOB
    expect_ok "search" "$SP_BIN" search "$TMP/job.json" --quiet
    expect_ok "inspect" "$SP_BIN" inspect "$TMP/run/results.h5"
    grep -q "written by swarmprune $v)" "$TMP/out" || fail "inspect does not show version $v"
fi
finish
