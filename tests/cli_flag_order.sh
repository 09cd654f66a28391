#!/usr/bin/env bash
# cli_flag_order.sh — every command accepts its options, flags and positionals in any order, and
# flags take no value: each row of the table below is run as written and in 3 seeded shuffles
# of its argument units; exit status and output (timings removed) must be identical. A new
# command (heal, plan, ...) is covered by adding one row.
source "$(dirname "$0")/lib_cli.sh"
require_shared
TINY=$SHARED/fixtures/tiny-brown-24L
G=$SHARED/fixtures/tiny-brown-24L-goldens
head -c 6000 "$SHARED/data/brown/test.txt" >"$TMP/text.txt"
cat >"$TMP/job.json" <<EOF
{"name": "order", "model": "$TINY", "task": {"type": "nll", "path": "$G/mask_nll_goldens.json",
 "limit": 2}, "objective": {"type": "nll"}, "k": 2,
 "search": {"algorithm": "random", "budget": 4, "enumeration": {"batch": 4}}, "seed": 3,
 "output": "$TMP/run"}
EOF
"$SP_BIN" search "$TMP/job.json" --quiet >/dev/null 2>&1 || fail "setup search failed"
RES=$TMP/run/results.h5

# One row per command line: the command, then its argument units separated by "|"; a unit
# "--opt value" stays together when shuffled.
ROWS=(
    "analyze|$TINY|--json"
    "tokenize|$TINY|--no-bos|--text hello"
    "tokenize|$TINY|--bos|--text hello"
    "eval|$TINY|--task nll|--tokens $G/mask_nll_goldens.json|--limit 2|--remove 3,7|--no-bos|--json"
    "eval|$TINY|--task hellaswag|--data $G/brown_cloze_val.jsonl|--limit 3|--no-bos|--plain|--json"
    "eval|$TINY|--task ppl|--text $TMP/text.txt|--ctx 32|--max-tokens 40|--bos|--json"
    "eval|$TINY|--task kl|--text $TMP/text.txt|--max-tokens 40|--ctx 32|--top-k 16|--bound|--remove 5|--json"
    "eval|--job $TMP/job.json|--remove 3,7|--json"
    "search|$TMP/job.json|--quiet|--resume"
    "inspect|$RES|--json|--top 3"
    "report|$RES|--out $TMP/report"
    "export|$TINY|--remove 3,7|--out $TMP/export|--force|--quiet"
    "export|$TINY|--from $RES|--k 2|--out $TMP/export2|--force|--quiet"
    "convert|$TMP/absent.gguf|--out $TMP/conv|--dtype bf16"
    "plan|$TMP/job.json|--gpu h100-80|--nodes 1|--gpus-per-node 2|--json"
    "heal|$TINY|--remove 3,7|--data $TMP/text.txt|--out $TMP/heal|--steps 2|--ctx 32|--batch-tokens 64|--quiet|--force"
)

# Timings and paths of temporary outputs differ from run to run: drop them.
normalize() {
    sed -E 's/"(wall_s|load_s|dense_s|items_per_s|tokens_per_s|seconds|wall_seconds)":[^,}]*//g' |
        grep -vE 'wall time|throughput|evals/s|took|[0-9.]+ s\b'
}

run_units() { # run_units UNIT... : runs swarmprune with the units split into words
    local args=() u
    for u in "$@"; do
        if [[ "$u" == --*" "* ]]; then args+=("${u%% *}" "${u#* }"); else args+=("$u"); fi
    done
    local rc=0
    "$SP_BIN" "${args[@]}" >"$TMP/o" 2>&1 || rc=$?
    echo "exit $rc"
    normalize <"$TMP/o"
}

row=0
for spec in "${ROWS[@]}"; do
    row=$((row + 1))
    IFS='|' read -r -a parts <<<"$spec"
    cmd=${parts[0]}
    units=("${parts[@]:1}")
    want=$(run_units "$cmd" "${units[@]}")
    [ -n "${SP_TEST_VERBOSE:-}" ] && echo "row $row: $(echo "$want" | tr "\n" " " | head -c 200)"
    case "$want" in "exit 2"*) fail "row $row ($cmd) as written: usage error: $want" ;; esac
    for seed in 1 2 3; do
        mapfile -t shuffled < <(printf '%s\n' "${units[@]}" |
            awk -v s=$((row * 10 + seed)) 'BEGIN{srand(s)} {print rand() "\t" $0}' |
            sort -k1,1 | cut -f2-)
        got=$(run_units "$cmd" "${shuffled[@]}")
        if [ "$got" != "$want" ]; then
            fail "row $row ($cmd) shuffled as: ${shuffled[*]}"
            diff <(echo "$want") <(echo "$got") | head -8 >&2
        fi
    done
done
finish
