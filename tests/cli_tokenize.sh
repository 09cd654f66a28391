#!/usr/bin/env bash
# cli_tokenize.sh — `swarmprune tokenize`: golden ids for one string (tiny model dir and the
# Llama-3.1 tokenizer file, with and without --bos, --text and stdin), --decode round trip,
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
    "$SP_BIN" tokenize "$LLAMA" --text "$S"
printf '%s' "$S" >"$TMP/in.txt"
expect_out "llama stdin" "15357 956 220 358 3358 20255 95253 814 3077" \
    bash -c '"$0" tokenize "$1" <"$2"' "$SP_BIN" "$(dirname "$LLAMA")" "$TMP/in.txt"
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
