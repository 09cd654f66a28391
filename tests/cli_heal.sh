#!/usr/bin/env bash
# cli_heal.sh — `swarmprune heal` end to end on the tiny fixture without layers 3,7,11,15: a short
# heal lowers the held-out NLL; kill -9 after a checkpoint + the same command again gives a
# bit-identical adapter (so do --recompute and --threads 2); the merged export and the runtime adapter (`eval --adapter`) score the
# same NLL; the refusals (empty / binary data, bad jsonl, ctx beyond the positions, rank 0,
# unknown target, not enough memory, ...) each with their message.
source "$(dirname "$0")/lib_cli.sh"
require_shared
M=$SHARED/fixtures/tiny-brown-24L
has() { grep -qF -- "$2" "$TMP/out" || fail "$1: output lacks '$2': $(head -c 400 "$TMP/out")"; }
head -c 30000 "$SHARED/data/brown/train.txt" >"$TMP/train.txt"
head -c 6000 "$SHARED/data/brown/test.txt" >"$TMP/test.txt"
BASE=(--remove 3,7,11,15 --data "$TMP/train.txt" --eval "$TMP/test.txt" --eval-tokens 512
      --ctx 64 --batch-tokens 128 --lr 3e-3)
OPTS=("${BASE[@]}" --steps 24 --threads 1)

expect_ok "--help" "$SP_BIN" heal --help
has "--help" "usage: swarmprune heal MODEL_DIR"

# 1. a short heal lowers the held-out NLL (dropout 0.1, cosine schedule)
expect_ok "heal" "$SP_BIN" heal "$M" "${OPTS[@]}" --out "$TMP/a" --checkpoint-every 0
cp "$TMP/out" "$TMP/heal_a.out"
has "heal" "heal: step 24/24"
read -r before after < <(sed -n 's/^heal: eval nll \([0-9.]*\) -> \([0-9.]*\) .*/\1 \2/p' "$TMP/out")
python3 -c "import sys; b, a = float('$before'), float('$after'); sys.exit(0 if a < b - 0.01 else 1)" ||
    fail "held-out NLL did not drop by 0.01: '$before' -> '$after'"
for f in adapter_config.json adapter_model.safetensors swarmprune_heal.json; do
    [ -f "$TMP/a/$f" ] || fail "adapter lacks $f"
done
[ -e "$TMP/a.heal.h5" ] && fail "checkpoint left behind after success"
python3 -c "
import json; c = json.load(open('$TMP/a/adapter_config.json'))
assert c['peft_type'] == 'LORA' and c['r'] == 8 and c['lora_alpha'] == 16 and c['bias'] == 'none'
assert c['task_type'] == 'CAUSAL_LM' and sorted(c['target_modules']) == ['q_proj', 'v_proj']
assert c['lora_dropout'] == 0.1 and c['base_model_name_or_path'].endswith('tiny-brown-24L')
" || fail "adapter_config.json"

# 2. kill -9 after the first checkpoint, run again: the same adapter, bit for bit
"$SP_BIN" heal "$M" "${OPTS[@]}" --out "$TMP/b" --checkpoint-every 3 >"$TMP/b.out" 2>&1 &
pid=$!
for _ in $(seq 600); do
    grep -q "checkpoint step 3 written" "$TMP/b.out" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
if grep -q "checkpoint step 3 written" "$TMP/b.out" && kill -9 $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    [ -e "$TMP/b" ] && fail "adapter written by a killed run"
    expect_ok "resume" "$SP_BIN" heal "$M" "${OPTS[@]}" --out "$TMP/b" --checkpoint-every 3
    has "resume" "heal: resuming from $TMP/b.heal.h5 at step"
    cmp -s "$TMP/a/adapter_model.safetensors" "$TMP/b/adapter_model.safetensors" ||
        fail "resumed adapter differs from the uninterrupted one"
else
    wait $pid 2>/dev/null
    fail "no checkpoint seen before the run ended: $(tail -c 400 "$TMP/b.out")"
fi

# --recompute and the thread count change nothing, bit for bit
for v in "r1" "r2 --recompute" "r3 --threads 2"; do
    set -- $v
    expect_ok "variant $*" "$SP_BIN" heal "$M" "${BASE[@]}" --steps 2 --out "$TMP/$1" "${@:2}" --quiet
done
cmp -s "$TMP/r1/adapter_model.safetensors" "$TMP/r2/adapter_model.safetensors" ||
    fail "--recompute changes the adapter"
cmp -s "$TMP/r1/adapter_model.safetensors" "$TMP/r3/adapter_model.safetensors" ||
    fail "--threads 2 changes the adapter"

# 3. runtime adapter == merged export, and eval --adapter on the full model with --remove
if "$SP_BIN" eval --help | grep -q -- "--adapter"; then
    expect_ok "merge" "$SP_BIN" heal "$M" "${BASE[@]}" --steps 3 --out "$TMP/m" --merge "$TMP/mm" \
        --checkpoint-every 0
    expect_ok "export" "$SP_BIN" export "$M" --remove 3,7,11,15 --out "$TMP/e" --quiet
    nll() { "$SP_BIN" eval "$@" --task ppl --text "$TMP/test.txt" --ctx 64 --max-tokens 600 --json |
            python3 -c "import json,sys; print(repr(json.load(sys.stdin)['mean_nll']))"; }
    n_merged=$(nll "$TMP/mm") n_runtime=$(nll "$TMP/e" --adapter "$TMP/m")
    n_masked=$(nll "$M" --remove 3,7,11,15 --adapter "$TMP/m") n_plain=$(nll "$TMP/e")
    python3 -c "
import sys; a, b, c, d = $n_merged, $n_runtime, $n_masked, $n_plain
sys.exit(0 if abs(a - b) <= 1e-5 and abs(b - c) <= 1e-6 and abs(a - d) > 1e-4 else 1)" ||
        fail "NLL merged $n_merged, runtime $n_runtime, masked+adapter $n_masked, no adapter $n_plain"
    expect_error "adapter on the wrong model" "missing" "$SP_BIN" eval "$M" --adapter "$TMP/m" \
        --task ppl --text "$TMP/test.txt" --ctx 64 --max-tokens 100
else
    echo "$TEST_NAME: note: eval --adapter not available yet, merge check skipped"
fi

# 4. instruction data, --loss response
printf '%s\n' '{"instruction": "Say hi.", "output": "Hi there, friend."}' \
    '{"instruction": "Add", "input": "2 and 3", "output": "5"}' >"$TMP/ins.jsonl"
expect_ok "instruction" "$SP_BIN" heal "$M" --remove 3,7,11,15 --data "$TMP/ins.jsonl" \
    --loss response --ctx 256 --steps 1 --out "$TMP/i" --threads 1
has "instruction" "2 training windows of <= 256 tokens"

# --from: the best mask of a (tiny) search, as `export --from` picks it
cat >"$TMP/job.json" <<JOB
{"name": "h", "model": "$M", "threads": 1,
 "task": {"type": "nll", "path": "$SHARED/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json",
          "limit": 1},
 "objective": {"type": "nll"}, "k": 4, "search": {"algorithm": "random", "budget": 3},
 "seed": 2, "output": "$TMP/run"}
JOB
if "$SP_BIN" search "$TMP/job.json" >"$TMP/search.out" 2>&1; then
    expect_ok "--from" "$SP_BIN" heal "$M" --from "$TMP/run/results.h5" --k 4 --data "$TMP/train.txt" \
        --ctx 64 --batch-tokens 64 --steps 1 --out "$TMP/f"
    best=$(python3 -c "import json; print(','.join(str(l) for l in json.load(open('$TMP/run/summary.json'))['removed_layers']))" 2>/dev/null)
    grep -q "\"removed_layers\": \"$best\"" "$TMP/f/swarmprune_heal.json" ||
        fail "--from: removed_layers is not the search's best ($best): $(grep removed "$TMP/f/swarmprune_heal.json")"
    expect_error "--from wrong k" "removes 4 layers" "$SP_BIN" heal "$M" --from "$TMP/run/results.h5" --k 5 \
        --data "$TMP/train.txt" --out "$TMP/x"
else
    fail "tiny search failed: $(tail -c 400 "$TMP/search.out")"
fi

# 5. refusals
: >"$TMP/empty.txt"
printf 'ab\0cd' >"$TMP/bin.txt"
printf '%s\n' '{"text": "fine"}' '{"text": 3}' >"$TMP/bad.jsonl"
printf '%s\n' '{"text": "fine"}' '{"text": "unterminated' >"$TMP/bad2.jsonl"
B=("$SP_BIN" heal "$M" --remove 3,7,11,15 --out "$TMP/x" --steps 1)
expect_error "empty data" "empty.txt: no tokens (empty text)" "${B[@]}" --data "$TMP/empty.txt"
expect_error "binary data" "bin.txt: binary data (NUL byte at offset 2)" "${B[@]}" --data "$TMP/bin.txt"
expect_error "bad jsonl value" "bad.jsonl:2" "${B[@]}" --data "$TMP/bad.jsonl"
expect_error "bad jsonl syntax" "bad2.jsonl:2" "${B[@]}" --data "$TMP/bad2.jsonl"
expect_error "ctx beyond positions" "longer than the model's 131072 positions" \
    "${B[@]}" --data "$TMP/train.txt" --ctx 200000
expect_error "rank 0" "--rank: " "${B[@]}" --data "$TMP/train.txt" --rank 0
expect_error "unknown target" "unknown target \"lm_head\"" "${B[@]}" --data "$TMP/train.txt" \
    --targets q_proj,lm_head
expect_error "dropout 1" "--dropout" "${B[@]}" --data "$TMP/train.txt" --dropout 1
expect_error "response on text" "--loss response needs instruction" "${B[@]}" \
    --data "$TMP/train.txt" --loss response
expect_error "steps and epochs" "--epochs or --steps" "${B[@]}" --data "$TMP/train.txt" --epochs 2
expect_error "missing data" "missing --data" "${B[@]}"
expect_error "no such data" "nope.txt" "${B[@]}" --data "$TMP/nope.txt"
expect_error "bad schedule" "--schedule: \"exp\"" "${B[@]}" --data "$TMP/train.txt" --schedule exp
expect_error "unknown option" "unknown option \"--bogus\"" "${B[@]}" --data "$TMP/train.txt" --bogus
expect_error "out exists" "already exists" "$SP_BIN" heal "$M" --remove 3,7,11,15 \
    --data "$TMP/train.txt" --out "$TMP/a" --steps 1
SWARMPRUNE_HEAL_MEMORY=1000000 expect_error "memory" "not enough memory: the run needs about" \
    "${B[@]}" --data "$TMP/train.txt"
expect_error "--from missing" "missing.h5" "$SP_BIN" heal "$M" --data "$TMP/train.txt" \
    --from "$TMP/missing.h5" --out "$TMP/x"
expect_error "--k alone" "--k goes with --from" "$SP_BIN" heal "$M" --k 2 --data "$TMP/train.txt" \
    --out "$TMP/x"
expect_error "bad layer" "layer 24 out of range" "$SP_BIN" heal "$M" --remove 3,24 \
    --data "$TMP/train.txt" --out "$TMP/x"
finish
