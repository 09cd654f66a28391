# cli_gpu_check_selftest.sh — tests/gpu_check.sh itself, without a GPU: its GPU_CHECK_FAKE hook
# replaces every step's command by a fake that passes, or fails in a chosen way for one chosen
# step. All fakes passing: exit 0, every check PASS, the ratio table joins the fake timings.
# Then each step alone failing (exit 1), plus a skip (77), a crash (SIGSEGV) and a hang (killed by
# the budget's timeout): the run must exit non-zero and the table must show that step FAIL.
source "$(dirname "$0")/lib_cli.sh"
CHECK="$SP_SOURCE_DIR/tests/gpu_check.sh"
cat >"$TMP/fake.sh" <<'EOF'
#!/usr/bin/env bash
# fake step: $1 = step name, then the real command (not run)
name=$1; shift
echo "fake $name: $*"
prev=""
for a in "$@"; do # the torch baselines write their RESULT lines to --out FILE
  if [ "$prev" = "--out" ]; then
    case $name in
      torch_lm) echo "RESULT fake-model 2x8 50.0" >"$a" ;;
      torch_hellaswag) echo "RESULT hellaswag-fake 5items 4.0" >"$a" ;;
    esac
  fi
  prev=$a
done
case $name in
  bench_cuda) echo "RESULT fake-model 2x8 100.0" ;;
  bench_hellaswag) echo "RESULT hellaswag-fake 5items 10.0" ;;
esac
if [ "$name" = "${FAKE_FAIL:-}" ]; then
  case ${FAKE_HOW:-exit1} in
    exit1) echo "fake: failing"; exit 1 ;;
    skip) echo "fake: SKIPPED: no usable CUDA device"; exit 77 ;;
    crash) kill -SEGV $$ ;;
    hang) exec sleep 600 ;; # stands for a hung program: the step's timeout must end it
  esac
fi
exit 0
EOF
chmod +x "$TMP/fake.sh"

# run_check OUTDIR [VAR=VALUE...]: gpu_check.sh with the fake; exit status in $rc
run_check() {
  local out=$1; shift
  rc=0
  env "$@" GPU_CHECK_FAKE="$TMP/fake.sh" OUT="$out" bash "$CHECK" >"$out.console" 2>&1 || rc=$?
}

run_check "$TMP/pass"
[ "$rc" -eq 0 ] || fail "all fakes passing: exit $rc: $(tail -5 "$TMP/pass.console")"
grep -q "^gpu_check: ok" "$TMP/pass/summary.txt" || fail "all passing: no 'gpu_check: ok'"
! grep -q " FAIL " "$TMP/pass/summary.txt" || fail "all passing: a FAIL row: $(cat "$TMP/pass/summary.txt")"
grep -q "fake-model 2x8 .*tokens/s.*ratio 2.00" "$TMP/pass/summary.txt" ||
  fail "no lm ratio row: $(cat "$TMP/pass/summary.txt")"
grep -q "hellaswag-fake 5items .*items/s.*ratio 2.50" "$TMP/pass/summary.txt" ||
  fail "no hellaswag ratio row: $(cat "$TMP/pass/summary.txt")"
n_out=$(find "$TMP/pass" -type f | wc -l)
[ "$n_out" -le 8 ] || fail "$n_out files in OUT (at most 8)"
tar tzf "$TMP/pass/logs.tar.gz" | grep -q "bench_cuda.log" || fail "logs.tar.gz lacks bench_cuda.log"

# every step of every part, failing alone, fails the run
steps=$(awk 'NR > 2 && $2 == "PASS" && $1 != "programs" {print $1}' "$TMP/pass/summary.txt")
[ "$(wc -w <<<"$steps")" -ge 15 ] || fail "too few steps in the table: $steps"
for s in $steps; do
  run_check "$TMP/f_$s" FAKE_FAIL="$s"
  [ "$rc" -ne 0 ] || fail "step $s failing: exit 0"
  grep -q "^$s  *FAIL " "$TMP/f_$s/summary.txt" || fail "step $s failing: no FAIL row"
done
for how in skip crash; do
  run_check "$TMP/h_$how" FAKE_FAIL=bench_cuda FAKE_HOW=$how
  [ "$rc" -ne 0 ] || fail "bench_cuda $how: exit 0"
  grep -q "^bench_cuda  *FAIL " "$TMP/h_$how/summary.txt" || fail "bench_cuda $how: no FAIL row"
done
# a hung step is ended by the budget's timeout; the steps after it are not run, and FAIL
run_check "$TMP/hang" FAKE_FAIL=gpu_visible FAKE_HOW=hang GPU_CHECK_BUDGET_S=8
[ "$rc" -ne 0 ] || fail "hung step: exit 0"
grep -q "^gpu_visible  *FAIL .*timed out" "$TMP/hang/summary.txt" ||
  fail "hung step: no timeout row: $(cat "$TMP/hang/summary.txt")"
grep -q "not run: time budget spent" "$TMP/hang/summary.txt" || fail "hung step: later steps ran"
finish
