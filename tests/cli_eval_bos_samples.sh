#!/usr/bin/env bash
# cli_eval_bos_samples.sh — lm-evaluation-harness parity of `eval`:
#  * BOS follows the tokenizer: the fixture's post-processor prepends BOS (id 0), so the default
#    equals --bos; a copy whose tokenizer_config.json says "add_bos_token": false (as SmolLM2's)
#    gets none by default, equal to --no-bos; every --json output reports "bos" (id or null);
#  * --samples FILE.jsonl: acc and acc_norm recomputed from the per-item lines (argmax of the
#    log-likelihoods, and of them over the ending lengths) equal the summary; for nll and ppl the
#    per-window NLL sums give the summary's mean NLL;
#  * kl's default window is a job's (128), and its top-K note reads "(KL is a lower bound)".
source "$(dirname "$0")/lib_cli.sh"
require_shared
TINY=$SHARED/fixtures/tiny-brown-24L
G=$SHARED/fixtures/tiny-brown-24L-goldens
DATA=$G/brown_cloze_val.jsonl
head -c 8000 "$SHARED/data/brown/test.txt" >"$TMP/text.txt"

# The fixture with a tokenizer that adds no BOS (weights linked, tokenizer_config.json changed).
mkdir -p "$TMP/nobos"
for f in "$TINY"/*; do ln -s "$f" "$TMP/nobos/"; done
rm "$TMP/nobos/tokenizer_config.json"
printf '{"add_bos_token": false, "bos_token": "<|begin_of_text|>"}\n' >"$TMP/nobos/tokenizer_config.json"

strip() { sed -E 's/,"(model|load_s|wall_s|items_per_s|tokens_per_s|dense_s)":("[^"]*"|[-0-9.e+]+)//g' "$1"; }
run_json() { # run_json OUT args... : eval --json into OUT
    local out=$1; shift
    "$SP_BIN" eval "$@" --json >"$out" 2>"$TMP/err" || fail "eval $*: $(head -c 300 "$TMP/err")"
}

# --- hellaswag: default = the tokenizer's rule
run_json "$TMP/def.json" "$TINY" --task hellaswag --data "$DATA" --limit 40 --samples "$TMP/s.jsonl"
run_json "$TMP/bos.json" "$TINY" --task hellaswag --data "$DATA" --limit 40 --bos
grep -q '"bos":0' "$TMP/def.json" || fail "fixture default: bos should be 0: $(cat "$TMP/def.json")"
[ "$(strip "$TMP/def.json")" = "$(strip "$TMP/bos.json")" ] || fail "fixture: default != --bos"
run_json "$TMP/nb_def.json" "$TMP/nobos" --task hellaswag --data "$DATA" --limit 40
run_json "$TMP/nb_no.json" "$TINY" --task hellaswag --data "$DATA" --limit 40 --no-bos
grep -q '"bos":null' "$TMP/nb_def.json" || fail "add_bos_token false: bos should be null: $(cat "$TMP/nb_def.json")"
[ "$(strip "$TMP/nb_def.json" | sed 's|/nobos||')" = "$(strip "$TMP/nb_no.json")" ] ||
    fail "add_bos_token false default != fixture --no-bos"
[ "$(strip "$TMP/def.json")" != "$(strip "$TMP/nb_no.json")" ] || fail "BOS changed nothing"
run_json "$TMP/nb_bos.json" "$TMP/nobos" --task hellaswag --data "$DATA" --limit 40 --bos
[ "$(strip "$TMP/nb_bos.json" | sed 's|/nobos||')" = "$(strip "$TMP/def.json")" ] ||
    fail "add_bos_token false + --bos != fixture default"

# --- hellaswag --samples: recompute acc / acc_norm from the lines
n=$(wc -l <"$TMP/s.jsonl")
[ "$n" -eq 40 ] || fail "samples: $n lines, want 40"
read -r acc accn < <(awk '
    function arr(key,   s) { s = $0; sub(".*\"" key "\":\\[", "", s); sub("\\].*", "", s); return s }
    { lab = $0; sub(/.*"label":/, "", lab); sub(/,.*/, "", lab)
      m = split(arr("lls"), ll, ","); split(arr("norm_len"), nl, ",")
      b = 1; bn = 1
      for (k = 2; k <= m; k++) { if (ll[k] + 0 > ll[b] + 0) b = k; if (ll[k] / nl[k] > ll[bn] / nl[bn]) bn = k }
      a += (b - 1 == lab); an += (bn - 1 == lab); cnt++ }
    END { printf "%.12f %.12f\n", a / cnt, an / cnt }' "$TMP/s.jsonl")
want_acc=$(grep -oE '"acc":[-0-9.e+]+' "$TMP/def.json" | sed 's/.*://')
want_accn=$(grep -oE '"acc_norm":[-0-9.e+]+' "$TMP/def.json" | sed 's/.*://')
awk -v a="$acc" -v b="$want_acc" -v c="$accn" -v d="$want_accn" \
    'BEGIN { exit !((a - b) ^ 2 < 1e-20 && (c - d) ^ 2 < 1e-20) }' ||
    fail "samples: acc $acc / acc_norm $accn recomputed, summary $want_acc / $want_accn"

# --- nll and ppl --samples: sum of window NLLs / tokens scored = mean_nll; "bos" reported
lm_check() { # lm_check NAME json samples
    local mean sum
    mean=$(grep -oE '"mean_nll":[-0-9.e+]+' "$2" | sed 's/.*://')
    sum=$(awk '{ s = $0; sub(/.*"nll_sum":/, "", s); sub(/,.*/, "", s); t = $0
                 sub(/.*"scored":/, "", t); sub(/,.*/, "", t); ns += s; nt += t }
               END { printf "%.15g", ns / nt }' "$3")
    awk -v a="$mean" -v b="$sum" 'BEGIN { exit !((a - b) ^ 2 < 1e-18) }' ||
        fail "$1 samples: mean of lines $sum != summary $mean"
}
run_json "$TMP/nll.json" "$TINY" --task nll --tokens "$G/mask_nll_goldens.json" --limit 3 --samples "$TMP/nll.jsonl"
[ "$(wc -l <"$TMP/nll.jsonl")" -eq 3 ] || fail "nll --limit 3: $(wc -l <"$TMP/nll.jsonl") sample lines"
grep -q '"bos":null' "$TMP/nll.json" || fail "nll: bos should be null"
lm_check nll "$TMP/nll.json" "$TMP/nll.jsonl"
run_json "$TMP/ppl.json" "$TINY" --task ppl --text "$TMP/text.txt" --ctx 64 --samples "$TMP/ppl.jsonl"
grep -q '"bos":0' "$TMP/ppl.json" || fail "ppl: bos should be 0"
lm_check ppl "$TMP/ppl.json" "$TMP/ppl.jsonl"
run_json "$TMP/pplnb.json" "$TMP/nobos" --task ppl --text "$TMP/text.txt" --ctx 64 --stride 48 --samples "$TMP/pplnb.jsonl"
grep -q '"bos":null' "$TMP/pplnb.json" || fail "ppl without BOS: bos should be null"
lm_check "ppl no BOS" "$TMP/pplnb.json" "$TMP/pplnb.jsonl"
text_tokens=$(grep -oE '"text_tokens":[0-9]+' "$TMP/pplnb.json" | sed 's/.*://')
scored=$(grep -oE '"tokens_scored":[0-9]+' "$TMP/pplnb.json" | sed 's/.*://')
[ "$scored" -eq $((text_tokens - 1)) ] || fail "ppl without BOS scored $scored of $text_tokens tokens (want all but the first)"
run_json "$TMP/kl.json" "$TINY" --task kl --text "$TMP/text.txt" --max-tokens 64
grep -q '"bos":0' "$TMP/kl.json" || fail "kl: bos should be 0"
grep -q '"ctx":128' "$TMP/kl.json" || fail "kl: default ctx should be 128 (a job's default)"

expect_ok "kl top-k text" "$SP_BIN" eval "$TINY" --task kl --text "$TMP/text.txt" --max-tokens 32 --top-k 16
grep -q "(KL is a lower bound)$" "$TMP/out" || fail "kl --top-k text: $(grep 'dense cache' "$TMP/out")"
grep -q "^bos: *0 " "$TMP/out" || fail "kl text: no bos line"

# --- errors
expect_error "--bos with --no-bos" "exclude each other" \
    "$SP_BIN" eval "$TINY" --task hellaswag --data "$DATA" --bos --no-bos
expect_error "nll --bos" "no meaning" "$SP_BIN" eval "$TINY" --task nll --tokens "$G/mask_nll_goldens.json" --bos
expect_error "kl --samples" "not available" \
    "$SP_BIN" eval "$TINY" --task kl --text "$TMP/text.txt" --max-tokens 8 --samples "$TMP/x.jsonl"
expect_error "samples unwritable" "cannot create" \
    "$SP_BIN" eval "$TINY" --task nll --tokens "$G/mask_nll_goldens.json" --limit 1 --samples "$TMP/no/dir/x.jsonl"
printf '{"add_bos_token": "yes"}' >"$TMP/badcfg.json"
mkdir -p "$TMP/badtok" && cp "$TINY/tokenizer.json" "$TMP/badtok/" && cp "$TMP/badcfg.json" "$TMP/badtok/tokenizer_config.json"
expect_error "bad add_bos_token" "add_bos_token: expected true or false" "$SP_BIN" tokenize "$TMP/badtok" --text hi
finish
