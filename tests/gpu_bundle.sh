#!/usr/bin/env bash
# gpu_bundle.sh — prepares a GPU check for a device machine that has CUDA, cuBLAS and NCCL but
# none of our other libraries (Open MPI, HDF5, cJSON, OpenBLAS, PCRE2) and no way to install
# them: builds the CUDA programs HERE (sm_90 for H100/H200, plus sm_80), copies them with every
# shared library they need except glibc and the CUDA libraries the device provides into the
# git-ignored folder gpu-bundle/ as programs.tar.xz (bin/, lib/), and packs the ../shared files
# the checks read (tests/gpu_stage_shared.sh) as gpu-bundle/shared.tar.xz. Then, with the device
# `run` tool: carry ["gpu-bundle"], command:  bash tests/gpu_check.sh --bundle gpu-bundle
# (33.7 MiB on 2026-12-06: programs 15.6 MB + shared 19.7 MB; the checkout's limit per call is
# 64 MiB, the issue's cap 48 MiB; packing takes ~1 minute on an idle machine).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$SRC/build-gpu-bundle"
DST="$SRC/gpu-bundle"
PROGRAMS="swarmprune test_cuda_kernels test_cuda_attention test_cuda_engine bench_cuda
bench_attention bench_hellaswag_cuda bench_tp_check"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="80;90" \
    -DCMAKE_SKIP_RPATH=ON >/dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$(nproc)" --target $PROGRAMS
rm -rf "$DST"
mkdir -p "$DST/bin" "$DST/lib"
trap 'rm -rf "${DST:?}/bin" "${DST:?}/lib"' EXIT
for p in $PROGRAMS; do strip -o "$DST/bin/$p" "$BUILD/$p"; done
# Libraries: everything ldd resolves, the C library and its loader included (gpu_check.sh runs
# each program through the bundled ld-linux, so the device's glibc version does not matter),
# except the driver (libcuda) and the big CUDA libraries, which come from the device's toolkit
# (their major version must match: CUDA 13 here and there).
skip='^(linux-vdso|libcuda\.so|libcublas|libcublasLt|libnccl)'
for p in $PROGRAMS; do ldd "$DST/bin/$p"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' |
  sort -u | while read -r name path; do
    if [[ "$name" =~ $skip ]]; then continue; fi
    cp -L "$path" "$DST/lib/$name"
  done
cp -L /lib64/ld-linux-x86-64.so.2 "$DST/lib/"
missing=$(for p in $PROGRAMS; do ldd "$DST/bin/$p"; done | grep -c "not found" || true)
[ "$missing" -eq 0 ] || { echo "gpu_bundle: $missing unresolved libraries" >&2; exit 1; }
n_libs=$(find "$DST/lib" -type f | wc -l)
tar cJf "$DST/programs.tar.xz" -C "$DST" bin lib
bash "$SRC/tests/gpu_stage_shared.sh" >/dev/null
tar cJf "$DST/shared.tar.xz" -C "$SRC/gpu-shared" .
rm -rf "${DST:?}/bin" "${DST:?}/lib"
echo "gpu_bundle: $(du -sh "$DST" | cut -f1) in $DST (8 programs, $n_libs libraries, shared data)"
