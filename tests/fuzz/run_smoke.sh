#!/usr/bin/env bash
# run_smoke.sh — builds the libFuzzer harnesses (clang, -DSP_FUZZ=ON) and runs each for a few
# seconds on its seed corpus (fixed libFuzzer seed: the same run each time; SP_FUZZ_SEED
# changes it); fails when any harness crashes, leaks, hits undefined behaviour or
# times out. Exit 77 (skip) with the reason when clang or libFuzzer is missing.
#   bash tests/fuzz/run_smoke.sh [BUILD_DIR (build-fuzz)] [SECONDS per harness (16)]
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bdir=${1:-$src/build-fuzz}
secs=${2:-16}
cc=${SP_FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null; then
    echo "fuzz smoke: SKIPPED: $cc not found (apt-get install clang)"
    exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe/p.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
    echo "fuzz smoke: SKIPPED: $cc cannot link libFuzzer ($(head -c 200 "$probe/err"))"
    exit 77
fi
t0=$(date +%s)
CC=$cc cmake -S "$src" -B "$bdir" -DSP_FUZZ=ON -DSP_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSP_FUZZ_CJSON_SRC="${SP_FUZZ_CJSON_SRC:-}" \
    >"$probe/cmake.log" 2>&1 || { cat "$probe/cmake.log"; echo "fuzz smoke: FAILED: configure"; exit 1; }
cmake --build "$bdir" --target sp_fuzz_all -j "$(nproc 2>/dev/null || echo 2)" >"$probe/build.log" 2>&1 ||
    { tail -50 "$probe/build.log"; echo "fuzz smoke: FAILED: build"; exit 1; }
corpus=$bdir/fuzz-corpus
bash "$src/tests/fuzz/make_corpus.sh" "$corpus" "$bdir/sp_fuzz_seed_gguf" || exit 1
t1=$(date +%s)
echo "fuzz smoke: built and seeded in $((t1 - t0)) s; $secs s per harness"
# fuzz_tokenizer_encode: the fixture's tokenizer, or the small one make_corpus.sh wrote.
tok=${SWARMPRUNE_SHARED:-$src/../shared}/fixtures/tiny-brown-24L/tokenizer.json
[ -f "$tok" ] || tok=$corpus/tokenizer_load/mini.json
export SP_FUZZ_TOKENIZER=${SP_FUZZ_TOKENIZER:-$tok}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} OPENBLAS_NUM_THREADS=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
rc=0
for exe in "$bdir"/fuzz_*; do
    [ -x "$exe" ] || continue
    name=$(basename "$exe")
    h=${name#fuzz_}
    work=$bdir/fuzz-work/$h art=$bdir/fuzz-artifacts/$h
    rm -rf "$work" "$art"
    mkdir -p "$work" "$art"
    if [ -z "$(ls -A "$corpus/$h" 2>/dev/null)" ]; then printf 'x' >"$work/empty-seed"; fi
    log=$bdir/fuzz-work/$h.log
    "$exe" -seed="${SP_FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$art/" "$work" "$corpus/$h" >"$log" 2>&1
    r=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
    if [ $r -eq 0 ]; then
        printf 'fuzz smoke: %-18s ok      %8s execs, %5s edges\n' "$h" "${runs:-?}" "${cov:-?}"
    else
        rc=1
        printf 'fuzz smoke: %-18s FAILED  (exit %d; reproducer: %s)\n' "$h" "$r" "$(ls "$art" | head -1)"
        grep -E 'ERROR|SUMMARY|runtime error|fatal' "$log" | head -5 | sed 's/^/    /'
        echo "    log: $log; rerun: $exe $art/<file>"
    fi
done
echo "fuzz smoke: $([ $rc -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - t0)) s"
exit $rc
