#!/usr/bin/env bash
# cli_sweep.sh — a program-level sweep over k ("k": [2, 3]): `search --resume` continues a
# sweep whose later k never started (only started k need a checkpoint); the output root gets a
# summary.json of every k and a DONE marker; `report DIR` and `inspect DIR` take the sweep's
# output directory (all its k); a directory that is no search output is refused by name.
source "$(dirname "$0")/lib_cli.sh"
require_shared
TINY=$SHARED/fixtures/tiny-brown-24L
G=$SHARED/fixtures/tiny-brown-24L-goldens
cat >"$TMP/sweep.json" <<EOF
{"name": "sweep", "model": "$TINY",
 "task": {"type": "nll", "path": "$G/mask_nll_goldens.json", "limit": 2},
 "objective": {"type": "nll"}, "k": [2, 3],
 "search": {"algorithm": "random", "budget": 6, "enumeration": {"batch": 3}},
 "seed": 5, "output": "$TMP/run"}
EOF
expect_error "--resume before any k started" "no checkpoint of any k" \
    "$SP_BIN" search "$TMP/sweep.json" --resume
expect_ok "sweep" "$SP_BIN" search "$TMP/sweep.json" --quiet
cp "$TMP/run/k3/summary.json" "$TMP/k3.ref"
# As if stopped during k = 2: k = 2 not finished (no DONE), k = 3 never started.
rm -rf "$TMP/run/k3" "$TMP/run/checkpoint.k3.h5"* "$TMP/run/k2/DONE" "$TMP/run/DONE" "$TMP/run/summary.json"
expect_ok "--resume a sweep stopped during its first k" "$SP_BIN" search "$TMP/sweep.json" --resume --quiet
[ -f "$TMP/run/k3/DONE" ] || fail "k = 3 did not run after --resume"
diff <(grep -vE "wall_seconds|\"seconds\"" "$TMP/k3.ref") <(grep -vE "wall_seconds|\"seconds\"" "$TMP/run/k3/summary.json") >/dev/null ||
    fail "k = 3 after --resume differs from the uninterrupted sweep: $(diff <(grep -vE "wall_seconds|\"seconds\"" "$TMP/k3.ref") <(grep -vE "wall_seconds|\"seconds\"" "$TMP/run/k3/summary.json"))"

# The root: summary.json with every k, DONE.
[ -f "$TMP/run/DONE" ] || fail "no DONE at the sweep's root"
S=$TMP/run/summary.json
[ -f "$S" ] || fail "no summary.json at the sweep's root"
[ "$(grep -c '"removed_layers"' "$S")" -eq 2 ] || fail "root summary.json: want 2 runs: $(head -c 400 "$S")"

expect_ok "report DIR" "$SP_BIN" report "$TMP/run" --out "$TMP/rep"
grep -q "(2 inputs)" "$TMP/out" || fail "report on the sweep directory did not take both k: $(cat "$TMP/out")"
expect_ok "inspect DIR --json" "$SP_BIN" inspect "$TMP/run" --json
[ "$(head -c 1 "$TMP/out")" = "[" ] || fail "inspect --json on a sweep should print an array"
[ "$(grep -c '"best_per_k"' "$TMP/out")" -eq 2 ] || fail "inspect DIR: want 2 results"
expect_ok "inspect DIR" "$SP_BIN" inspect "$TMP/run"
[ "$(grep -c '^==> .*/k[23]/results.h5 <==' "$TMP/out")" -eq 2 ] || fail "inspect DIR text: no k headers"
expect_ok "inspect k DIR" "$SP_BIN" inspect "$TMP/run/k2"
mkdir -p "$TMP/empty"
expect_error "report on an empty dir" "not a finished search's output" \
    "$SP_BIN" report "$TMP/empty" --out "$TMP/rep2"
expect_error "inspect on an empty dir" "not a finished search's output" "$SP_BIN" inspect "$TMP/empty"
finish
