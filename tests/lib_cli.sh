# lib_cli.sh — sourced by the tests/cli_*.sh scripts .
# Provides: $SP_BIN, $SHARED (or skip), fail/expect helpers. Exit 77 = skipped.
set -u
: "${SP_BIN:?SP_BIN must point to the swarmprune binary}"
SP_SOURCE_DIR=${SP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SHARED=${SWARMPRUNE_SHARED:-$SP_SOURCE_DIR/../shared}
TEST_NAME=$(basename "$0" .sh)
# Open MPI as root, more ranks than cores (also set by ctest; here for standalone runs).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
FAILS=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

require_shared() {
    if [ ! -d "$SHARED" ]; then
        echo "$TEST_NAME: SKIPPED: ../shared not found (set SWARMPRUNE_SHARED)"
        exit 77
    fi
}
fail() { echo "FAIL $TEST_NAME: $*" >&2; FAILS=$((FAILS + 1)); }

# expect_error "description" "pattern in stderr" cmd args... : must exit non-zero (not by a
# signal) and print the pattern on stderr.
expect_error() {
    local what=$1 pattern=$2; shift 2
    local rc=0
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" -eq 0 ]; then fail "$what: exit 0, expected an error"; return; fi
    if [ "$rc" -ge 128 ]; then fail "$what: crashed (exit $rc): $(head -c 400 "$TMP/err")"; return; fi
    if ! grep -q -- "$pattern" "$TMP/err"; then
        fail "$what: stderr lacks '$pattern': $(head -c 400 "$TMP/err")"
    fi
}
# expect_ok "description" cmd args... : must exit 0; stdout is left in $TMP/out.
expect_ok() {
    local what=$1; shift
    if ! "$@" >"$TMP/out" 2>"$TMP/err"; then
        fail "$what: failed: $(head -c 400 "$TMP/err")"
    fi
}
finish() {
    if [ "$FAILS" -ne 0 ]; then echo "$TEST_NAME: FAILED ($FAILS)"; exit 1; fi
    echo "$TEST_NAME: ok"; exit 0
}
