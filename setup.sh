#!/usr/bin/env bash
# setup.sh — installs what is missing (Debian packages), builds, and runs the main job or the tests.
#   bash setup.sh run     install + build + run the quick-start job
#   bash setup.sh test    install + build + run the whole test suite (ctest)
#   bash setup.sh build   install + build only
# Idempotent and non-interactive; needs root (or sudo) only when a package is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

PACKAGES=(build-essential cmake pkgconf git openmpi-bin libopenmpi-dev libhdf5-dev hdf5-tools
          libcjson-dev libopenblas-dev libpcre2-dev)
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

run_main_job() {
    local shared=${SWARMPRUNE_SHARED:-../shared}
    if [ ! -d "$shared/fixtures/tiny-brown-24L" ]; then
        echo "setup: the default model ($shared/fixtures/tiny-brown-24L) is not here; set SWARMPRUNE_SHARED" >&2
        exit 1
    fi
    export OPENBLAS_NUM_THREADS=1
    mpirun -np 3 "$BUILD_DIR/swarmprune" search jobs/tiny-nll-pso.json
    "$BUILD_DIR/swarmprune" report runs/tiny-nll-pso/results.h5 --out runs/tiny-nll-pso/report
    echo "setup: report in runs/tiny-nll-pso/report/report.md"
}

run_tests() {
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
}

what=${1:-run}
case "$what" in
    deps) install_missing ;;
    build) install_missing; build ;;
    run) install_missing; build; run_main_job ;;
    test) install_missing; build; run_tests ;;
    *) echo "usage: bash setup.sh [deps|build|run|test]" >&2; exit 2 ;;
esac
