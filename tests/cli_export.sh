#!/usr/bin/env bash
# cli_export.sh — `swarmprune export` end to end on the tiny fixture: the export without layers
# 3,7,11,15 is a 20-layer model that analyze counts at 11,019,456 - 4 x 393,600 params and that
# eval scores exactly like the source with --remove 3,7,11,15; sharding, --force, and the
# refusals (each with its message). Skips until the lead wires `export` into the binary.
source "$(dirname "$0")/lib_cli.sh"
require_shared
if ! "$SP_BIN" export --help >/dev/null 2>&1; then
    echo "$TEST_NAME: SKIPPED: '$SP_BIN export --help' fails (export not wired into main.c yet)"
    exit 77
fi
M=$SHARED/fixtures/tiny-brown-24L
G=$SHARED/fixtures/tiny-brown-24L-goldens
has() { grep -qF -- "$2" "$TMP/out" || fail "$1: output lacks '$2': $(head -c 400 "$TMP/out")"; }

expect_ok "--help" "$SP_BIN" export --help
has "--help" "usage: swarmprune export MODEL_DIR"

expect_ok "export" "$SP_BIN" export "$M" --remove 3,7,11,15 --out "$TMP/a"
has "export summary" "(24 -> 20 layers), 183 tensors in 1 shard"
has "export progress" "export: tensor 183/183"
for f in config.json model.safetensors model.safetensors.index.json swarmprune_export.json \
         tokenizer.json tokenizer_config.json generation_config.json; do
    [ -f "$TMP/a/$f" ] || fail "export lacks $f"
done
ls "$TMP" | grep -q '\.tmp\.' && fail "temporary directory left behind"
grep -q '"num_hidden_layers": 20,' "$TMP/a/config.json" || fail "config num_hidden_layers"

# analyze: 24 -> 20 layers of 393,600 params each (11,019,456 - 4 x 393,600 = 9,444,056 + ...)
expect_ok "analyze export" "$SP_BIN" analyze "$TMP/a" --json
grep -qE '"num_layers":[[:space:]]*20,' "$TMP/out" || fail "analyze: num_layers"
grep -qE '"total_params":[[:space:]]*9445056,' "$TMP/out" || fail "analyze: total_params"

# eval: the export without a mask == the source with the mask, to the printed digit
python3 -c "
import json; d = json.load(open('$G/mask_nll_goldens.json'))
json.dump([s[:64] for s in d['eval_ids'][:2]], open('$TMP/tok.json', 'w'))"
expect_ok "eval export" "$SP_BIN" eval "$TMP/a" --task nll --tokens "$TMP/tok.json" --json
ex_nll=$(python3 -c "import json,sys; print(repr(json.load(open('$TMP/out'))['mean_nll']))")
expect_ok "eval source masked" "$SP_BIN" eval "$M" --task nll --tokens "$TMP/tok.json" --json \
    --remove 3,7,11,15
src_nll=$(python3 -c "import json,sys; print(repr(json.load(open('$TMP/out'))['mean_nll']))")
[ -n "$ex_nll" ] && [ "$ex_nll" = "$src_nll" ] || fail "eval: export $ex_nll != source $src_nll"

# sharding
expect_ok "shards" "$SP_BIN" export "$M" --remove 0 --out "$TMP/s" --shard-size 2MB --quiet
[ -f "$TMP/s/model-00001-of-00011.safetensors" ] || fail "shards: $(ls "$TMP/s" | tr '\n' ' ')"
has "shards" "in 11 shards"
grep -q "export: tensor" "$TMP/out" && fail "--quiet printed progress"

# --force replaces only after a complete export
expect_error "existing out" "already exists (use --force" "$SP_BIN" export "$M" --remove 1 --out "$TMP/a"
expect_ok "--force" "$SP_BIN" export "$M" --remove 1 --out "$TMP/a" --force --quiet
grep -q '"num_hidden_layers": 23,' "$TMP/a/config.json" || fail "--force did not replace"
expect_error "force onto source" "source model directory" \
    "$SP_BIN" export "$TMP/a" --remove 1 --out "$TMP/a" --force

# refusals
expect_error "out of range" "layer 24 out of range" "$SP_BIN" export "$M" --remove 3,24 --out "$TMP/r"
expect_error "duplicate" "layer 3 listed twice" "$SP_BIN" export "$M" --remove 3,7,3 --out "$TMP/r"
expect_error "all layers" "cannot remove all 24 layers" "$SP_BIN" export "$M" \
    --remove "$(seq -s, 0 23)" --out "$TMP/r"
expect_error "missing model" "$TMP/nope" "$SP_BIN" export "$TMP/nope" --remove 1 --out "$TMP/r"
expect_error "missing --from file" "missing.h5" "$SP_BIN" export "$M" --from "$TMP/missing.h5" --out "$TMP/r"
expect_error "both sources" "exactly one of --remove and --from" \
    "$SP_BIN" export "$M" --remove 1 --from x.h5 --out "$TMP/r"
expect_error "--k alone" "--k goes with --from" "$SP_BIN" export "$M" --remove 1 --k 1 --out "$TMP/r"
expect_error "no --out" "missing --out" "$SP_BIN" export "$M" --remove 1
expect_error "bad size" "unknown unit" "$SP_BIN" export "$M" --remove 1 --out "$TMP/r" --shard-size 5XB
[ -e "$TMP/r" ] && fail "a refused export wrote $TMP/r"
finish
