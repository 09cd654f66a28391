#!/usr/bin/env bash
# cli_export_hf.sh — a pruned export is a real Hugging Face checkpoint: transformers loads it
# (single file and sharded) with no missing or unexpected weights, as LlamaForCausalLM with the
# new layer count, and its fp32 mean NLL of the first 4 golden sequences (64 tokens) matches
# `swarmprune eval` on the same export to 1e-5 relative (both are fp32 forwards of the same
# weights; the goldens show the engine within 5.6e-6 per log-prob of HF). Skipped (77)
# where PyTorch + transformers are not installed (CI installs neither: gigabytes of wheels).
source "$(dirname "$0")/lib_cli.sh"
require_shared
if ! python3 -c "import torch, transformers" >/dev/null 2>&1; then
    echo "$TEST_NAME: SKIPPED: python3 cannot import torch and transformers"
    exit 77
fi
M=$SHARED/fixtures/tiny-brown-24L
G=$SHARED/fixtures/tiny-brown-24L-goldens
python3 -c "
import json; d = json.load(open('$G/mask_nll_goldens.json'))
json.dump([s[:64] for s in d['eval_ids'][:4]], open('$TMP/tok.json', 'w'))"

expect_ok "export" "$SP_BIN" export "$M" --remove 3,7,11,15 --out "$TMP/a" --quiet
expect_ok "export sharded" "$SP_BIN" export "$M" --remove 0,23 --out "$TMP/b" --quiet \
    --shard-size 4MB
for d in a b; do
    expect_ok "eval $d" "$SP_BIN" eval "$TMP/$d" --task nll --tokens "$TMP/tok.json" --json
    cp "$TMP/out" "$TMP/$d.json"
    python3 - "$TMP/$d" "$TMP/tok.json" "$TMP/$d.json" >"$TMP/hf.out" 2>&1 <<'PY' ||
import json, sys
import torch
from transformers import AutoModelForCausalLM
path, seqs, ours = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
model, info = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                   output_loading_info=True)
bad = {k: v for k, v in info.items() if v}
assert not bad, f"loading info: {bad}"
assert type(model).__name__ == "LlamaForCausalLM", type(model).__name__
assert model.config.num_hidden_layers == ours["n_layers"], (model.config.num_hidden_layers, ours)
total, n = 0.0, 0
with torch.inference_mode():
    for s in seqs:
        ids = torch.tensor([s])
        lp = torch.log_softmax(model(ids).logits[0, :-1].double(), -1)
        total -= float(lp.gather(-1, ids[0, 1:, None]).sum())
        n += len(s) - 1
hf = total / n
assert abs(hf - ours["mean_nll"]) <= 1e-5 * hf, (hf, ours["mean_nll"])
print(f"{path}: {model.config.num_hidden_layers} layers, HF mean nll {hf:.7f}, ours "
      f"{ours['mean_nll']:.7f}")
PY
        fail "transformers check of export $d: $(tail -c 600 "$TMP/hf.out")"
    grep "HF mean nll" "$TMP/hf.out"
done
finish
