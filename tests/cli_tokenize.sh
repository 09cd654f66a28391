#!/usr/bin/env bash
# cli_tokenize.sh — `swarmprune tokenize`: golden ids for one string (tiny model dir and the
# Llama-3.1 tokenizer file, with and without --bos, --text and stdin), the BOS rule (default =
# the tokenizer's post-processor / add_bos_token, --bos / --no-bos), --decode round trip,
# --help, and the error paths (usage errors exit 2, failures exit 1 with a message).
source "$(dirname "$0")/lib_cli.sh"
require_shared
TINY=$SHARED/fixtures/tiny-brown-24L
LLAMA=$SHARED/data/llama3.1-tokenizer/tokenizer.json
S="don't  I'll WE'RE they've" # goldens string 2

expect_out() { # expect_out "description" "expected stdout" cmd args...
    local what=$1 want=$2; shift 2
    expect_ok "$what" "$@"
    [ "$(cat "$TMP/out")" = "$want" ] || fail "$what: got '$(cat "$TMP/out")', want '$want'"
}

expect_out "tiny --bos" "0 69 268 539 222 334 1263 403 38 8 51 38 476 1789" \
    "$SP_BIN" tokenize "$TINY" --bos --text "$S"
expect_out "llama file" "15357 956 220 358 3358 20255 95253 814 3077" \
    "$SP_BIN" tokenize "$LLAMA" --no-bos --text "$S"
printf '%s' "$S" >"$TMP/in.txt"
expect_out "llama stdin" "15357 956 220 358 3358 20255 95253 814 3077" \
    bash -c '"$0" tokenize --no-bos "$1" <"$2"' "$SP_BIN" "$(dirname "$LLAMA")" "$TMP/in.txt"
# The default follows the tokenizer (as eval does): both post-processors prepend BOS...
expect_out "llama default = tokenizer's BOS" "128000 15357 956 220 358 3358 20255 95253 814 3077" \
    "$SP_BIN" tokenize "$LLAMA" --text "$S"
expect_out "tiny default = tokenizer's BOS" "0 69 268 539 222 334 1263 403 38 8 51 38 476 1789" \
    "$SP_BIN" tokenize --text "$S" "$TINY"
# ...and tokenizer_config.json's add_bos_token: false (SmolLM2's) turns it off; --bos forces it.
mkdir -p "$TMP/nobos"
cp "$TINY/tokenizer.json" "$TMP/nobos/"
printf '{"add_bos_token": false, "bos_token": "<|begin_of_text|>"}' >"$TMP/nobos/tokenizer_config.json"
expect_out "add_bos_token false" "69 268 539 222 334 1263 403 38 8 51 38 476 1789" \
    "$SP_BIN" tokenize "$TMP/nobos" --text "$S"
expect_out "add_bos_token false, --bos" "0 69 268 539 222 334 1263 403 38 8 51 38 476 1789" \
    "$SP_BIN" tokenize --bos "$TMP/nobos" --text "$S"
expect_out "decode" "$S" \
    "$SP_BIN" tokenize "$LLAMA" --decode --text "15357 956 220 358 3358 20255 95253 814 3077"
expect_ok "help" "$SP_BIN" tokenize --help
grep -q "usage: swarmprune tokenize" "$TMP/out" || fail "help: no usage line"

usage_error() { # usage_error "description" args... : must exit 2
    local what=$1 rc=0; shift
    "$SP_BIN" tokenize "$@" >/dev/null 2>"$TMP/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2"
    grep -q "swarmprune tokenize:" "$TMP/err" || fail "$what: no message"
}
usage_error "unknown option" "$LLAMA" --frobnicate
usage_error "missing path" --bos
usage_error "missing --text value" "$LLAMA" --text
usage_error "two paths" "$LLAMA" "$LLAMA"
usage_error "--bos with --no-bos" "$LLAMA" --bos --no-bos --text hi

expect_error "missing file" "swarmprune tokenize: error: .*nope" \
    "$SP_BIN" tokenize "$TMP/nope" --text hi
printf '{"model": {"type": "BPE",, }}' >"$TMP/bad.json"
expect_error "malformed json" "invalid JSON at byte 26" "$SP_BIN" tokenize "$TMP/bad.json" --text hi
printf '{"normalizer": null, "decoder": {"type": "ByteLevel"}, "model": {"type": "Unigram"}}' \
    >"$TMP/uni.json"
expect_error "non-BPE" "model.type" "$SP_BIN" tokenize "$TMP/uni.json" --text hi
printf 'ab\377c' >"$TMP/bad.txt"
expect_error "invalid utf-8" "byte offset 2" \
    bash -c '"$0" tokenize "$1" <"$2"' "$SP_BIN" "$LLAMA" "$TMP/bad.txt"
expect_error "decode bad id" "not a token" "$SP_BIN" tokenize "$LLAMA" --decode --text "1 999999"
expect_error "decode junk" "expected token ids" "$SP_BIN" tokenize "$LLAMA" --decode --text "1 x"
finish
