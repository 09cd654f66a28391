# cli_report.sh — `swarmprune report` from the command line: --help, and refusals of a missing
# --out, no inputs, an unknown option, a missing file and a file that is not HDF5, each with a
# clear message and a non-zero exit. (Charts from real results are checked by test_report.)
source "$(dirname "$0")/lib_cli.sh"

if ! "$SP_BIN" report --help >/dev/null 2>&1; then
    echo "$TEST_NAME: SKIPPED: 'swarmprune report' is not wired into the binary yet"
    exit 77
fi

expect_ok "--help" "$SP_BIN" report --help
grep -q -- "--out DIR" "$TMP/out" || fail "--help does not document --out"

echo "not an HDF5 file" >"$TMP/text.h5"
expect_error "no inputs" "no results file given" "$SP_BIN" report --out "$TMP/o"
expect_error "--out missing" "--out DIR is required" "$SP_BIN" report "$TMP/text.h5"
expect_error "--out without value" "missing value" "$SP_BIN" report "$TMP/text.h5" --out
expect_error "unknown option" "unknown option --bogus" "$SP_BIN" report "$TMP/text.h5" --bogus --out "$TMP/o"
expect_error "missing file" "nope.h5: cannot open" "$SP_BIN" report "$TMP/nope.h5" --out "$TMP/o"
expect_error "not HDF5" "text.h5: not an HDF5 file" "$SP_BIN" report "$TMP/text.h5" --out "$TMP/o"
[ -e "$TMP/o/report.md" ] && fail "a refused report left report.md behind"

finish
