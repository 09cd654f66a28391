#!/usr/bin/env bash
# gpu_check.sh — the one scripted call for a GPU machine (see tests/gpu_stage_shared.sh for the
# data it needs there): configure + build with CUDA, then
#   1. correctness: the CUDA kernels vs their C references (test_cuda_kernels, test_cuda_attention),
#      the engine vs the HF goldens (test_cuda_engine), `eval --backend cuda` (cli_eval), and the
#      HellaSwag accuracy of the CUDA engine vs the CPU engine on the tiny fixture;
#   2. tensor parallelism: two ranks on one GPU must be refused by name (NCCL needs one GPU per
#      rank; with >= 2 GPUs the CPU-vs-CUDA TP comparison runs instead);
#   3. speed: bench_attention, bench_cuda (tokens/s, TFLOP/s, peak memory) and
#      bench_hellaswag_cuda against PyTorch + transformers (tests/bench_torch.py) on the same
#      shapes / the same HellaSwag tokens, printing the ratios last.
# Usage: bash tests/gpu_check.sh [build dir]   (torch baselines skipped if torch is missing)
set -uo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$SRC/build-gpu}"
LOG="${OUT:-$BUILD}"
nvidia-smi -L || { echo "gpu_check: no GPU visible (nvidia-smi failed)"; exit 77; }
t0=$(date +%s)
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$BUILD" -j"$(nproc)" --target swarmprune test_cuda_kernels test_cuda_attention \
    test_cuda_engine bench_cuda bench_attention bench_hellaswag_cuda bench_tp_check >"$LOG/build.log" 2>&1 \
    || { tail -40 "$LOG/build.log"; exit 1; }
echo "gpu_check: build $(( $(date +%s) - t0 )) s"
status=0
step() { echo "== $*"; "$@" || { echo "gpu_check: FAILED (exit $?): $*"; status=1; }; }

# 1. correctness
for t in test_cuda_kernels test_cuda_attention test_cuda_engine; do step "$BUILD/$t"; done
SP_BIN="$BUILD/swarmprune" step bash "$SRC/tests/cli_eval.sh"
SH="${SWARMPRUNE_SHARED:-$SRC/../shared}"
if [ -d "$SH/fixtures/tiny-brown-24L" ]; then
  for b in cpu cuda; do
    "$BUILD/swarmprune" eval "$SH/fixtures/tiny-brown-24L" --task hellaswag --json \
      --data "$SH/data/hellaswag/hellaswag_val_full.txt" --limit 1000 --backend $b \
      >"$LOG/hs_$b.json" 2>"$LOG/hs_$b.err" || { cat "$LOG/hs_$b.err"; status=1; }
  done
  step python3 - "$LOG/hs_cpu.json" "$LOG/hs_cuda.json" <<'PY'
import json, sys
c, g = (json.load(open(p)) for p in sys.argv[1:3])
print(f"hellaswag 1000 items: cpu acc {c['acc']:.4f} acc_norm {c['acc_norm']:.4f} | "
      f"cuda acc {g['acc']:.4f} acc_norm {g['acc_norm']:.4f}")
# bf16 activations may flip a near-tie item; more than 1 % of items would be a bug
assert abs(c["acc"] - g["acc"]) <= 0.01 and abs(c["acc_norm"] - g["acc_norm"]) <= 0.01
PY
fi

# 2. tensor parallelism on CUDA
NGPU=$(nvidia-smi -L | wc -l)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
if [ "$NGPU" -lt 2 ]; then
  SWARMPRUNE_CUDA_DEVICE=0 mpirun -np 2 "$BUILD/bench_tp_check" "$SH/fixtures/tiny-brown-24L" \
    "$SH/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json" cuda >"$LOG/tp.out" 2>&1
  if grep -q "both use GPU" "$LOG/tp.out"; then echo "gpu_check: TP on one GPU refused by name: ok"
  else echo "gpu_check: TP refusal missing:"; tail -5 "$LOG/tp.out"; status=1; fi
else
  step mpirun -np 2 "$BUILD/bench_tp_check" "$SH/fixtures/tiny-brown-24L" \
    "$SH/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json" cuda
fi

# 3. speed
step "$BUILD/bench_attention" | tee "$LOG/bench_attention.out"
step "$BUILD/bench_cuda" | tee "$LOG/bench_cuda.out"
step "$BUILD/bench_hellaswag_cuda" 2000 "$LOG/hs_requests.jsonl" | tee "$LOG/bench_hs.out"
if python3 -c "import torch, transformers" 2>/dev/null; then
  step python3 "$SRC/tests/bench_torch.py" --out "$LOG/torch_lm.out" lm
  step python3 "$SRC/tests/bench_torch.py" --out "$LOG/torch_hs.out" hellaswag "$LOG/hs_requests.jsonl"
  echo "gpu_check: ratio swarmprune / PyTorch+transformers (> 1 = faster)"
  join <(cat "$LOG/bench_cuda.out" "$LOG/bench_hs.out" | grep '^RESULT' | awk '{print $2"_"$3, $4}' | sort) \
       <(cat "$LOG/torch_lm.out" "$LOG/torch_hs.out" | grep '^RESULT' | awk '{print $2"_"$3, $4}' | sort) |
    awk '{printf "  %-28s %12.1f vs %12.1f  ratio %.2f\n", $1, $2, $3, $2 / $3}'
else
  echo "gpu_check: PyTorch/transformers not installed: baselines skipped"
fi
echo "gpu_check: $( [ $status -eq 0 ] && echo ok || echo FAILED ) in $(( $(date +%s) - t0 )) s"
exit $status
