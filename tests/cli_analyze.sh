#!/usr/bin/env bash
# cli_analyze.sh — `swarmprune analyze` on the real Llama-3.1-70B config (tests/data: 855.65M
# params = 1,632.03 MiB bf16 per layer, 70.55B total), on a config-only directory, on the
# tiny-brown-24L fixture (11,019,456 params, real tensor bytes), and its error paths.
source "$(dirname "$0")/lib_cli.sh"
DATA=$SP_SOURCE_DIR/tests/data
CFG70=$DATA/llama-3.1-70b-config.json

# has "description" "fixed string" : stdout of the last expect_ok must contain it.
has() { grep -qF -- "$2" "$TMP/out" || fail "$1: output lacks '$2'"; }

expect_ok "70B config" "$SP_BIN" analyze "$CFG70"
has "70B" "(from config; no weights)"
has "70B per layer" "855,654,400 params (855.65M)"
has "70B per layer bytes" "1,711,308,800 bytes (1,632.03 MiB)"
has "70B total" "70,553,706,496 params (70.55B)"
has "70B layers" "layers            80"
has "70B heads" "64 / 8"
has "70B rope" "llama3 (theta 500000, factor 8, low 1, high 4, original 8192)"
# 40% of 80 layers = 32 removed: 70,553,706,496 - 32 x 855,654,400 = 43,172,765,696.
grep -qE '40%[[:space:]]+32[[:space:]]+48[[:space:]]+43,172,765,696' "$TMP/out" \
    || fail "70B pruning row for 40% wrong: $(grep '40%' "$TMP/out")"

expect_ok "70B --json" "$SP_BIN" analyze --json "$CFG70"
grep -qE '"total_params":[[:space:]]*70553706496,' "$TMP/out" || fail "70B json total_params"
grep -qE '"num_layers":[[:space:]]*80,' "$TMP/out" || fail "70B json num_layers"
grep -qE '"total_bytes":[[:space:]]*141107412992,' "$TMP/out" || fail "70B json total_bytes"
[ "$(grep -o 855654400 "$TMP/out" | wc -l)" -eq 80 ] || fail "70B json: 80 layer_params entries"

mkdir -p "$TMP/cfgonly" && cp "$CFG70" "$TMP/cfgonly/config.json"
expect_ok "config-only dir" "$SP_BIN" analyze "$TMP/cfgonly"
has "config-only dir" "70,553,706,496 params (70.55B)"

expect_ok "Mistral config" "$SP_BIN" analyze "$DATA/mistral-7b-v0.3-config.json"
has "Mistral total" "7,248,023,552 params (7.25B)"

expect_ok "--help" "$SP_BIN" analyze --help
has "--help" "usage: swarmprune analyze"
expect_error "missing path" "no such file" "$SP_BIN" analyze "$TMP/nope"
expect_error "unknown option" "unknown option" "$SP_BIN" analyze --bogus "$CFG70"
expect_error "no argument" "missing MODEL_DIR_OR_CONFIG" "$SP_BIN" analyze
sed 's/"attention_bias": false/"attention_bias": true/' "$CFG70" >"$TMP/bias.json"
expect_error "bias config" "bias.json: attention_bias" "$SP_BIN" analyze "$TMP/bias.json"

if [ -d "$SHARED/fixtures/tiny-brown-24L" ]; then
    FX=$SHARED/fixtures/tiny-brown-24L
    expect_ok "fixture --json" "$SP_BIN" analyze "$FX" --json
    grep -qE '"total_params":[[:space:]]*11019456,' "$TMP/out" || fail "fixture total_params"
    grep -qE '"num_layers":[[:space:]]*24,' "$TMP/out" || fail "fixture num_layers"
    grep -qE '"total_bytes":[[:space:]]*22038912,' "$TMP/out" || fail "fixture total_bytes"
    grep -qE '"source":[[:space:]]*"weights"' "$TMP/out" || fail "fixture source"
    expect_ok "fixture text" "$SP_BIN" analyze "$FX"
    has "fixture" "11,019,456 params"
    has "fixture layer" "393,600 params (393.60K), 787,200 bytes"
    # A copy whose config claims 25 layers: the weights lack layer 24.
    mkdir -p "$TMP/fx25"
    for f in "$FX"/*.safetensors "$FX"/model.safetensors.index.json; do
        ln -s "$f" "$TMP/fx25/"
    done
    sed 's/"num_hidden_layers": 24/"num_hidden_layers": 25/' "$FX/config.json" \
        >"$TMP/fx25/config.json"
    expect_error "fixture with 25 layers" \
        'missing tensor "model.layers.24.input_layernorm.weight"' "$SP_BIN" analyze "$TMP/fx25"
else
    echo "$TEST_NAME: note: ../shared absent, fixture checks skipped"
fi
finish
