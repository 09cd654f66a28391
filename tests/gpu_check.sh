#!/usr/bin/env bash
# gpu_check.sh — the one scripted call for a GPU machine: configure + build with CUDA, run the
# CUDA tests (kernels vs the C references, engine vs the HF goldens), the CUDA benchmark, then a
# PyTorch + transformers baseline doing the same forward + log-softmax scoring (random weights,
# same shapes and batches, bf16) and the ratio swarmprune / PyTorch in tokens/s per case.
# Usage: bash tests/gpu_check.sh [build dir]   (the baseline is skipped if torch is missing)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$SRC/build-gpu}"
nvidia-smi -L || { echo "gpu_check: no GPU visible (nvidia-smi failed)"; exit 77; }
t0=$(date +%s)
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target test_cuda_kernels test_cuda_engine bench_cuda
echo "gpu_check: build $(( $(date +%s) - t0 )) s"
status=0
for t in test_cuda_kernels test_cuda_engine; do
  "$BUILD/$t" || { rc=$?; echo "gpu_check: $t exit $rc"; status=1; }
done
"$BUILD/bench_cuda" | tee "$BUILD/bench_cuda.out" || status=1

if ! python3 -c "import torch, transformers" 2>/dev/null; then
  echo "gpu_check: PyTorch/transformers not installed: baseline skipped"
  exit $status
fi
python3 - "$BUILD/bench_torch.out" <<'PY'
# Same work as bench_cuda: random bf16 Llama weights, every position of every item scored
# (log_softmax of the logits gathered at the target), one warm-up, 3 timed runs.
import sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
shapes = [("SmolLM2-135M", 576, 30, 9, 3, 64, 1536, 49152, True, None, 1e5),
          ("Llama-3.2-1B", 2048, 16, 32, 8, 64, 8192, 128256, True, "llama3", 5e5),
          ("Llama-3.1-8B", 4096, 32, 32, 8, 128, 14336, 128256, False, "llama3", 5e5)]
out = open(sys.argv[1], "w")
for name, H, L, NH, NKV, D, F, V, tied, rope, theta in shapes:
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192} if rope else None
    cfg = LlamaConfig(hidden_size=H, num_hidden_layers=L, num_attention_heads=NH,
                      num_key_value_heads=NKV, head_dim=D, intermediate_size=F, vocab_size=V,
                      tie_word_embeddings=tied, rope_theta=theta, rope_scaling=scaling,
                      max_position_embeddings=131072)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
    for items, n in ((64, 128), (16, 512)):
        ids = torch.randint(0, V, (items, n), device="cuda")
        def score():
            with torch.inference_mode():
                logits = model(ids).logits[:, :-1].float()
                return torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])
        score(); torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(3): score()
        torch.cuda.synchronize()
        tps = items * n * 3 / (time.perf_counter() - t)
        print(f"torch {name:14s} {items}x{n}: {tps:10.0f} tokens/s", flush=True)
        out.write(f"RESULT {name} {items}x{n} {tps:.1f}\n")
    del model
    torch.cuda.empty_cache()
PY
echo "gpu_check: ratio swarmprune / PyTorch (tokens/s, > 1 = faster)"
join <(grep '^RESULT' "$BUILD/bench_cuda.out" | awk '{print $2"_"$3, $4}' | sort) \
     <(awk '{print $2"_"$3, $4}' "$BUILD/bench_torch.out" | sort) |
  awk '{printf "  %-24s %10.0f vs %10.0f  ratio %.2f\n", $1, $2, $3, $2 / $3}'
exit $status
