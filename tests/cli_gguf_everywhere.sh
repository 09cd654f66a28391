#!/usr/bin/env bash
# cli_gguf_everywhere.sh — "wherever a command takes MODEL_DIR, a .gguf file works too": analyze
# and tokenize on the quick-start GGUF (SmolLM2-135M-Instruct Q4_1, converted once into a
# private cache) agree with the same commands on the converted directory. Skipped when the
# GGUF has not been downloaded (jobs/fetch_default_model.sh puts it in the cache).
source "$(dirname "$0")/lib_cli.sh"
CACHE=${SWARMPRUNE_CACHE:-$HOME/.cache/swarmprune}
GGUF=$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$GGUF" ]; then
    echo "$TEST_NAME: SKIPPED: $GGUF not found (bash jobs/fetch_default_model.sh downloads it)"
    exit 77
fi
export SWARMPRUNE_CACHE=$TMP/cache
expect_ok "analyze GGUF" "$SP_BIN" analyze "$GGUF" --json
grep -q '"num_layers":[[:space:]]*30' "$TMP/out" || fail "analyze GGUF: not 30 layers: $(head -c 300 "$TMP/out")"
dir=$(ls -d "$TMP"/cache/gguf/*/ 2>/dev/null | head -1)
[ -n "$dir" ] || fail "analyze GGUF: no converted directory under \$SWARMPRUNE_CACHE/gguf"
expect_ok "tokenize GGUF" "$SP_BIN" tokenize "$GGUF" --text "Hello world"
gg=$(cat "$TMP/out")
expect_ok "tokenize converted dir" "$SP_BIN" tokenize "$dir" --text "Hello world"
[ -n "$gg" ] && [ "$gg" = "$(cat "$TMP/out")" ] || fail "tokenize GGUF '$gg' != directory '$(cat "$TMP/out")'"
expect_ok "tokenize GGUF --bos" "$SP_BIN" tokenize --bos "$GGUF" --text "Hello world"
[ "$(cat "$TMP/out")" != "$gg" ] || fail "--bos changed nothing on the GGUF's tokenizer (add_bos_token false)"
finish
