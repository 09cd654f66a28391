#!/usr/bin/env bash
# run_campaign.sh — the by-hand fuzzing campaign: runs the harnesses of an SP_FUZZ build one after
# another, each for its time budget, on a growing corpus (BUILD/campaign/<h>, seeded by
# make_corpus.sh), and prints one line per harness: executions, executions/s, edges, features,
# corpus size, crashes. Reproducers land in BUILD/campaign/<h>-crash/.
#   bash tests/fuzz/run_campaign.sh BUILD_DIR harness=seconds [harness=seconds ...]
#   e.g. bash tests/fuzz/run_campaign.sh build-fuzz-cj job=300 config=420 gguf=420
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bdir=${1:?usage: run_campaign.sh BUILD_DIR harness=seconds ...}
shift
camp=$bdir/campaign
seeds=$camp/seeds
[ -d "$seeds" ] || bash "$src/tests/fuzz/make_corpus.sh" "$seeds" "$bdir/sp_fuzz_seed_gguf" || exit 1
tok=${SWARMPRUNE_SHARED:-$src/../shared}/fixtures/tiny-brown-24L/tokenizer.json
[ -f "$tok" ] || tok=$seeds/tokenizer_load/mini.json
export SP_FUZZ_TOKENIZER=${SP_FUZZ_TOKENIZER:-$tok}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} OPENBLAS_NUM_THREADS=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
rc=0
for spec in "$@"; do
    h=${spec%%=*} secs=${spec#*=}
    exe=$bdir/fuzz_$h
    [ -x "$exe" ] || { echo "campaign: $exe missing" >&2; rc=1; continue; }
    mkdir -p "$camp/$h" "$camp/$h-crash"
    log=$camp/$h.$(date -u +%H%M%S).log
    echo "campaign: $h for $secs s from $(date -u +%H:%M:%S) (log $log)"
    "$exe" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$camp/$h-crash/" ${SP_FUZZ_EXTRA:-} \
        "$camp/$h" "$seeds/$h" >"$log" 2>&1
    r=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*')
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$last" | cut -d' ' -f2)
    crashes=$(ls "$camp/$h-crash" | wc -l)
    printf 'campaign: %-17s exit %d  %10s execs  %6s execs/s  %5s edges  %6s features  corpus %s  crash files %d\n' \
        "$h" "$r" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
    [ $r -eq 0 ] || rc=1
done
exit $rc
