#!/usr/bin/env bash
# cli_rescore.sh — what a search reports can be reproduced and agrees everywhere:
#  * successive halving (search.fidelities): `inspect`'s best per k, summary.json, `report` and
#    `export --from` name the same full-fidelity mask and fitness (a partial-data score is never
#    "best"), and inspect shows the fidelity of the rows it lists;
#  * `eval --job JOB.json --remove MASK` gives exactly the fitness the search stored for that
#    mask (kl with the tokenizer's BOS rule, hellaswag acc_norm);
#  * summary.json records the BOS the scorer used.
source "$(dirname "$0")/lib_cli.sh"
require_shared
TINY=$SHARED/fixtures/tiny-brown-24L
G=$SHARED/fixtures/tiny-brown-24L-goldens
head -c 20000 "$SHARED/data/brown/val.txt" >"$TMP/calib.txt"

json_num() { # json_num KEY FILE : first numeric value of "KEY" (cJSON prints doubles exactly)
    grep -oE "\"$1\":[[:space:]]*[-0-9.eE+]+" "$2" | head -1 | sed -E 's/.*:[[:space:]]*//'
}
json_list() { # json_list KEY FILE : the integer array of "KEY" as "a,b,c"
    tr -d ' \n\t' <"$2" | grep -oE "\"$1\":\[[0-9,]*\]" | head -1 | sed -E 's/.*\[//; s/\]//'
}

# --- hellaswag acc_norm with successive halving (partial scores on 4 of 16 items are noisy: with
# this seed a partial row ties the full-data best earlier in the history, and an older inspect
# named that partial mask as the best for k = 4).
cat >"$TMP/mc.json" <<EOF
{"name": "rescore-mc", "model": "$TINY",
 "task": {"type": "hellaswag", "path": "$G/brown_cloze_val.jsonl", "limit": 16},
 "objective": {"type": "acc_norm"}, "k": 4,
 "search": {"algorithm": "random", "budget": 24, "fidelities": [0.25, 1],
            "enumeration": {"batch": 8}},
 "seed": 7, "output": "$TMP/mc"}
EOF
expect_ok "hellaswag search" "$SP_BIN" search "$TMP/mc.json" --quiet
S=$TMP/mc/summary.json
best=$(json_num best_fitness "$S")
mask=$(json_list removed_layers "$S")
[ -n "$best" ] && [ -n "$mask" ] || fail "summary.json lacks best_fitness / removed_layers"
grep -q '"bos":[[:space:]]*0' "$S" || fail "summary.json: bos should be 0 (the fixture's tokenizer adds BOS)"

expect_ok "inspect --json" "$SP_BIN" inspect "$TMP/mc/results.h5" --json
cp "$TMP/out" "$TMP/inspect.json"
[ "$(json_num full_fidelity "$TMP/inspect.json")" = 1 ] || fail "inspect: full_fidelity should be 1"
tr -d ' \n\t' <"$TMP/inspect.json" | grep -oE '"best_per_k":\[[^]]*\][^]]*\]' >"$TMP/perk"
grep -q '"fidelity":1' "$TMP/perk" || fail "inspect best_per_k: no full-fidelity row: $(cat "$TMP/perk")"
grep -qE '"fidelity":0[,}]' "$TMP/perk" && fail "inspect best_per_k lists a partial row: $(cat "$TMP/perk")"
[ "$(json_num fitness "$TMP/perk")" = "$best" ] ||
    fail "inspect best per k $(json_num fitness "$TMP/perk") != summary best_fitness $best"
[ "$(json_list removed "$TMP/perk")" = "$mask" ] ||
    fail "inspect best per k mask $(json_list removed "$TMP/perk") != summary $mask"
expect_ok "inspect text" "$SP_BIN" inspect "$TMP/mc/results.h5"
grep -q "best per k at full fidelity" "$TMP/out" || fail "inspect text: no full-fidelity heading"
grep -qE "evaluations +[0-9]+ \([0-9]+ at full fidelity" "$TMP/out" || fail "inspect text: no fidelity count"

expect_ok "export --from" "$SP_BIN" export "$TINY" --from "$TMP/mc/results.h5" --out "$TMP/ex" --quiet
grep -q "removes $mask\$" "$TMP/out" || fail "export --from picked another mask than $mask: $(head -1 "$TMP/out")"
expect_ok "report" "$SP_BIN" report "$TMP/mc/results.h5" --out "$TMP/rep"
grep -qF "| $mask |" "$TMP/rep/report.md" ||
    fail "report.md does not show the best mask $mask"

expect_ok "eval --job (hellaswag)" "$SP_BIN" eval --job "$TMP/mc.json" --remove "$mask" --json
got=$(json_num fitness "$TMP/out")
[ "$got" = "$best" ] || fail "eval --job hellaswag fitness $got != search's $best"
grep -q '"bos":0' "$TMP/out" || fail "eval --job: bos should be 0: $(cat "$TMP/out")"

# --- kl: the same BOS rule in eval --job and in the search's scorer (and plain eval --task kl).
cat >"$TMP/kl.json" <<EOF
{"name": "rescore-kl", "model": "$TINY",
 "task": {"type": "kl", "path": "$TMP/calib.txt", "limit": 256, "ctx": 64},
 "objective": {"type": "kl"}, "k": 4,
 "search": {"algorithm": "random", "budget": 6, "enumeration": {"batch": 6}},
 "seed": 2, "output": "$TMP/kl"}
EOF
expect_ok "kl search" "$SP_BIN" search "$TMP/kl.json" --quiet
best=$(json_num best_fitness "$TMP/kl/summary.json")
mask=$(json_list removed_layers "$TMP/kl/summary.json")
expect_ok "eval --job (kl)" "$SP_BIN" eval --remove "$mask" --job "$TMP/kl.json" --json
got=$(json_num fitness "$TMP/out")
[ "$got" = "$best" ] || fail "eval --job kl fitness $got != search's $best"
expect_ok "eval --task kl" "$SP_BIN" eval "$TINY" --task kl --text "$TMP/calib.txt" \
    --max-tokens 256 --ctx 64 --remove "$mask" --json
got=$(json_num mean_kl "$TMP/out")
[ "$got" = "$best" ] || fail "eval --task kl with the job's settings: $got != search's $best"

# --- usage errors
expect_error "--job with MODEL_DIR" "only --remove" "$SP_BIN" eval "$TINY" --job "$TMP/kl.json"
expect_error "--job missing file" "nope.json" "$SP_BIN" eval --job "$TMP/nope.json"
finish
