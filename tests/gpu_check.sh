#!/usr/bin/env bash
# gpu_check.sh — the one scripted call for a GPU machine: correctness, then speed, within a
# wall-clock budget (default 480 s: fits one 10-minute device call on an H100, docs/GPU.md has
# the estimate), ending with one table: every check PASS/FAIL, tokens/s and the ratio to
# PyTorch + transformers per shape, HellaSwag items/s and its ratio.
#   correct: the CUDA kernels vs their C references (test_cuda_kernels, test_cuda_attention), the
#            engine vs the HF goldens (test_cuda_engine), `eval --backend cuda` (cli_eval.sh),
#            brown_cloze (600 items: acc / acc_norm must EQUAL the CPU engine's) and HellaSwag
#            (first GPU_CHECK_HS_CORRECT items: within 1 %) CPU vs CUDA, differing items printed
#            with both backends' log-likelihoods (tests/gpu_compare_mc.py);
#   tp:      (only with our Open MPI's mpirun, i.e. not in bundle mode) two ranks on one GPU must
#            be refused by name; with >= 2 GPUs the TP-vs-plain CUDA comparison;
#   speed:   bench_attention, bench_cuda, bench_hellaswag_cuda and the same work in PyTorch +
#            transformers (tests/bench_torch.py).
# Every step is one command run under `timeout` with its output in its own log (no pipeline:
# the status is the command's own); any non-zero status — a crash, a timeout, a test that skips
# (77) for want of a device — marks the step FAIL and makes the exit status 1.
# Usage: bash tests/gpu_check.sh [BUILD_DIR]        builds there (needs every -dev package)
#        bash tests/gpu_check.sh --bundle DIR       programs + libraries + data packed here by
#                                                   tests/gpu_bundle.sh (a device without them)
# Environment: GPU_CHECK_PARTS (default "correct tp speed"), GPU_CHECK_BUDGET_S (480),
# GPU_CHECK_HS_CORRECT (HellaSwag items CPU vs CUDA, 500), GPU_CHECK_HS_SPEED (items timed,
# 500), GPU_CHECK_TORCH_SHAPES (bench_torch.py lm shapes, default all three). $OUT (default
# $BUILD/gpu-check-out) receives two files: summary.txt (the table) and logs.tar.gz (every log).
# Self-test hook: with GPU_CHECK_FAKE=CMD each step runs `CMD STEP_NAME ORIGINAL_COMMAND...`
# instead of its command, and no GPU, build or bundle is needed (tests/cli_gpu_check_selftest.sh).
set -uo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
t0=$(date +%s)
DEADLINE=$(( t0 + ${GPU_CHECK_BUDGET_S:-480} ))
LOGS=$(mktemp -d)
FAKE=${GPU_CHECK_FAKE:-}
status=0
NAMES=() VERDICTS=() NOTES=()

record() { # record NAME PASS|FAIL|SKIP NOTE
  NAMES+=("$1") VERDICTS+=("$2") NOTES+=("$3")
  if [ "$2" = FAIL ]; then status=1; fi
}

# step NAME LIMIT_S CMD...: runs CMD (stdin closed) with its output in $LOGS/NAME.log, at most
# LIMIT_S seconds and never past the budget; prints the log's last lines; records the verdict.
step() {
  local name=$1 limit=$2 rc=0 ts left
  shift 2
  left=$(( DEADLINE - $(date +%s) ))
  if [ "$left" -lt 5 ]; then
    echo "== $name: not run (time budget spent)"
    record "$name" FAIL "not run: time budget spent"
    return 1
  fi
  if [ "$limit" -gt "$left" ]; then limit=$left; fi
  if [ -n "$FAKE" ]; then set -- "$FAKE" "$name" "$@"; fi
  echo "== $name (limit ${limit} s): $*"
  ts=$(date +%s)
  timeout -k 5 "$limit" "$@" >"$LOGS/$name.log" 2>&1 </dev/null || rc=$?
  tail -n "${GPU_CHECK_TAIL:-6}" "$LOGS/$name.log" | cut -c1-200 | sed 's/^/   | /'
  local took="$(( $(date +%s) - ts )) s"
  case $rc in
    0) record "$name" PASS "$took" ;;
    77) record "$name" FAIL "skipped itself (77): $(grep -m1 -io 'skip.*' "$LOGS/$name.log" |
                                                    cut -c1-100)" ;;
    124|137) record "$name" FAIL "timed out after ${limit} s" ;;
    *) record "$name" FAIL "exit $rc after $took: $(grep -v '^ *$' "$LOGS/$name.log" | tail -n 1 |
                                                  cut -c1-100)" ;;
  esac
  return "$rc"
}

# Bundle mode: unpack programs + libraries + data, and run each program through the bundled
# loader and C library (the device's may be older) with the CUDA libraries the bundle leaves
# out: the toolkit's, else the pip wheels' (torch's).
unpack_bundle() {
  UNPACK=$(mktemp -d)
  tar xJf "$1/programs.tar.xz" -C "$UNPACK" && mkdir -p "$UNPACK/shared" &&
    tar xJf "$1/shared.tar.xz" -C "$UNPACK/shared" || { echo "gpu_check: bad bundle $1"; return 1; }
  export SWARMPRUNE_SHARED="$UNPACK/shared"
  local libdirs="$UNPACK/lib" lib d p
  for lib in libcublas.so.13 libcublasLt.so.13 libnccl.so.2 libcuda.so.1; do
    for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
             /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
             $(python3 -c 'import glob, site
for p in site.getsitepackages(): print(*glob.glob(p + "/nvidia/*/lib"))' 2>/dev/null); do
      if [ -e "$d/$lib" ]; then libdirs="$libdirs:$d"; break; fi
    done
  done
  mkdir -p "$UNPACK/run"
  for p in "$UNPACK"/bin/*; do
    printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' \
      "$UNPACK/lib/ld-linux-x86-64.so.2" "$libdirs" "$p" >"$UNPACK/run/$(basename "$p")"
    chmod +x "$UNPACK/run/$(basename "$p")"
  done
  BUILD="$UNPACK/run"
  if "$UNPACK/lib/ld-linux-x86-64.so.2" --library-path "$libdirs" --list \
       "$UNPACK/bin/test_cuda_engine" | grep "not found"; then
    echo "gpu_check: libraries missing (searched $libdirs)"; return 1
  fi
}

# The programs: unpacked from the bundle, or built here (the fake needs none).
prepare() {
  if [ -n "$FAKE" ]; then BUILD=/nonexistent-fake-build; return 0; fi
  if [ "${1:-}" = "--bundle" ]; then
    unpack_bundle "${2:?--bundle needs a directory}"
  else
    BUILD="${1:-$SRC/build-gpu}"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null || return 1
    cmake --build "$BUILD" -j"$(nproc)" --target swarmprune test_cuda_kernels \
        test_cuda_attention test_cuda_engine bench_cuda bench_attention bench_hellaswag_cuda \
        bench_tp_check >"$LOGS/build.log" 2>&1 || { tail -40 "$LOGS/build.log"; return 1; }
  fi
}

if prepare "$@"; then record programs PASS "ready in $(( $(date +%s) - t0 )) s"
else record programs FAIL "no programs (bundle or build failed)"; fi
OUT_DIR="${OUT:-$PWD/gpu-check-out}"
SH="${SWARMPRUNE_SHARED:-$SRC/../shared}"
PARTS=" ${GPU_CHECK_PARTS:-correct tp speed} "
part() { [ "${VERDICTS[0]}" = PASS ] && [[ "$PARTS" == *" $1 "* ]]; }
step gpu_visible 20 nvidia-smi -L
FX="$SH/fixtures/tiny-brown-24L" BROWN="$SH/fixtures/tiny-brown-24L-goldens/brown_cloze_val.jsonl"
HS_DATA="$SH/data/hellaswag/hellaswag_val_full.txt"

# 1. correctness
if part correct; then
  step kernels 90 "$BUILD/test_cuda_kernels"
  step attention 90 "$BUILD/test_cuda_attention"
  step engine 120 "$BUILD/test_cuda_engine"
  step eval_cli 120 env SP_BIN="$BUILD/swarmprune" bash "$SRC/tests/cli_eval.sh"
  for b in cpu cuda; do
    step "brown_$b" 90 "$BUILD/swarmprune" eval "$FX" --task hellaswag --json --data "$BROWN" \
      --backend $b --samples "$LOGS/brown_$b.lls"
    step "hs_$b" 150 "$BUILD/swarmprune" eval "$FX" --task hellaswag --json --data "$HS_DATA" \
      --limit "${GPU_CHECK_HS_CORRECT:-500}" --backend $b --samples "$LOGS/hs_$b.lls"
  done
  step memory_report 5 grep "cuda device memory" "$LOGS/brown_cuda.log"
  step brown_equal 20 python3 "$SRC/tests/gpu_compare_mc.py" --name brown_cloze --exact \
    "$LOGS/brown_cpu.lls" "$LOGS/brown_cuda.lls"
  step hs_within_1pct 20 python3 "$SRC/tests/gpu_compare_mc.py" --name hellaswag --within 0.01 \
    "$LOGS/hs_cpu.lls" "$LOGS/hs_cuda.lls"
fi

# 2. tensor parallelism on CUDA (needs the mpirun of the Open MPI we link)
if part tp; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_rmaps_base_oversubscribe=1
  TP_ARGS=("$BUILD/bench_tp_check" "$FX" "$SH/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json" cuda)
  if [ -z "$FAKE" ] && { [ -n "${UNPACK:-}" ] || ! command -v mpirun >/dev/null; }; then
    record tp SKIP "no mpirun of our Open MPI here (bundle mode)"
  elif [ -z "$FAKE" ] && [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
    step tp 120 mpirun -np 2 "${TP_ARGS[@]}"
  else # one GPU: the two ranks must be refused by name
    # shellcheck disable=SC2016
    step tp_refused_by_name 60 bash -c 'out=$(SWARMPRUNE_CUDA_DEVICE=0 mpirun -np 2 "$@" 2>&1)
      echo "$out"; grep -q "both use GPU" <<<"$out"' tp "${TP_ARGS[@]}"
  fi
fi

# 3. speed (each benchmark prints "RESULT <name> <case> <value>" lines; the table joins them)
if part speed; then
  step bench_attention 60 "$BUILD/bench_attention"
  step bench_cuda 150 "$BUILD/bench_cuda"
  step bench_hellaswag 120 "$BUILD/bench_hellaswag_cuda" "${GPU_CHECK_HS_SPEED:-500}" \
    "$LOGS/hs_requests.jsonl"
  if [ -n "$FAKE" ] || python3 -c "import torch, transformers" 2>/dev/null; then
    # shellcheck disable=SC2086
    step torch_lm 150 python3 "$SRC/tests/bench_torch.py" --out "$LOGS/torch_lm.out" lm \
      --shapes ${GPU_CHECK_TORCH_SHAPES:-SmolLM2-135M Llama-3.2-1B Llama-3.1-8B}
    step torch_hellaswag 150 python3 "$SRC/tests/bench_torch.py" --out "$LOGS/torch_hs.out" \
      hellaswag "$LOGS/hs_requests.jsonl" --batches 64 128 --probe 100
  else
    record torch_baselines SKIP "PyTorch/transformers not installed: no ratios"
  fi
fi

# The table: checks, then speed (ours vs PyTorch + transformers, same shapes and tokens).
mkdir -p "$OUT_DIR"
{
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  echo "gpu_check summary ($(date -u '+%F %T') UTC, GPU: ${gpu:-none}, $(( $(date +%s) - t0 )) s)"
  printf '%-22s %-7s %s\n' check verdict note
  for i in "${!NAMES[@]}"; do printf '%-22s %-7s %s\n' "${NAMES[$i]}" "${VERDICTS[$i]}" "${NOTES[$i]}"; done
  echo "speed: swarmprune vs PyTorch + transformers (> 1 = faster)"
  ours=$(cat "$LOGS/bench_cuda.log" "$LOGS/bench_hellaswag.log" 2>/dev/null | awk '$1 == "RESULT"')
  theirs=$(cat "$LOGS/torch_lm.out" "$LOGS/torch_hs.out" 2>/dev/null | awk '$1 == "RESULT"')
  awk -v theirs="$theirs" '
    BEGIN { n = split(theirs, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], f, " "); t[f[2] " " f[3]] = f[4] } }
    NF { k = $2 " " $3; u = ($2 ~ /^hellaswag/) ? "items/s" : "tokens/s"; seen[k] = 1
      if (k in t) printf "  %-34s %12.1f vs %12.1f %-8s ratio %.2f\n", k, $4, t[k], u, $4 / t[k]
      else printf "  %-34s %12.1f vs %12s %-8s ratio -\n", k, $4, "-", u }
    END { for (k in t) if (!(k in seen)) printf "  %-34s %12s vs %12.1f\n", k, "-", t[k] }' <<<"$ours"
  [ -n "$ours" ] || echo "  (no swarmprune timings)"
  nfail=0
  for v in "${VERDICTS[@]}"; do [ "$v" = FAIL ] && nfail=$((nfail + 1)); done
  echo "gpu_check: $([ $status -eq 0 ] && echo ok || echo "FAILED ($nfail of ${#NAMES[@]} checks)") in $(( $(date +%s) - t0 )) s"
} >"$LOGS/summary.txt"
cp "$LOGS/summary.txt" "$OUT_DIR/summary.txt"
tar czf "$OUT_DIR/logs.tar.gz" -C "$LOGS" . 2>/dev/null || echo "gpu_check: could not pack the logs"
echo
cat "$OUT_DIR/summary.txt"
echo "gpu_check: table in $OUT_DIR/summary.txt, logs in $OUT_DIR/logs.tar.gz"
rm -rf "$LOGS" "${UNPACK:-}"
exit $status
