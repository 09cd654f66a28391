# cli_search.sh — `swarmprune search`: job-file errors, the same answer for 1, 2, 3 and 5 MPI
# ranks, resume after SIGTERM and after kill -9 of the coordinator or a worker (>= 10 trials)
# giving exactly the uninterrupted history, and corrupt / mismatched checkpoints refused.
source "$(dirname "$0")/lib_cli.sh"
require_shared
export OPENBLAS_NUM_THREADS=1
MODEL=$SHARED/fixtures/tiny-brown-24L
TOKENS=$SHARED/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json

# write_job FILE OUTPUT [ALGORITHM] [BUDGET]
write_job() {
    cat >"$1" <<JOB
{
  "name": "t", "model": "$MODEL",
  "task": {"type": "nll", "path": "$TOKENS", "limit": 3},
  "objective": {"type": "nll"}, "k": 5,
  "search": {"algorithm": "${3:-pso}", "budget": ${4:-60}, "pso": {"swarm": 8}},
  "seed": 7, "output": "$2"
}
JOB
}
# The evaluation history (masks and fitness, bit-exact through the checksums) of a run.
history_of() { h5dump -d /history/mask -d /history/fitness "$1/results.h5" | grep -v '^HDF5'; }

# --- job file errors name the JSON path ----------------------------------------------------
write_job "$TMP/bad.json" "$TMP/bad"
sed 's/"swarm": 8/"swarm": 8, "inertia": 2/' "$TMP/bad.json" >"$TMP/bad1.json"
expect_error "inertia out of range" "search.pso.inertia" "$SP_BIN" search "$TMP/bad1.json"
sed 's/"swarm": 8/"swarm": 8, "surrogate": 2/' "$TMP/bad.json" >"$TMP/bad1s.json"
expect_error "surrogate not 0/1" "search.pso.surrogate" "$SP_BIN" search "$TMP/bad1s.json"
sed 's/"swarm": 8/"swarm": 8, "warm_path": -2/' "$TMP/bad.json" >"$TMP/bad1w.json"
expect_error "warm_path negative" "search.pso.warm_path" "$SP_BIN" search "$TMP/bad1w.json"
sed 's/"swarm": 8/"swarm": 8, "warm_beam": 0/' "$TMP/bad.json" >"$TMP/bad1b.json"
expect_error "warm_beam 0" "search.pso.warm_beam: expected -1 (automatic) or an integer in" "$SP_BIN" search "$TMP/bad1b.json"
sed 's/"swarm": 8/"swarm": 8, "warm_beam": 5/' "$TMP/bad.json" >"$TMP/bad1c.json"
expect_error "warm_beam too wide" "search.pso.warm_beam: expected -1 (automatic) or an integer in .1, 4., got 5" "$SP_BIN" search "$TMP/bad1c.json"
sed 's/"seed": 7/"seed": 7, "sede": 1/' "$TMP/bad.json" >"$TMP/bad2.json"
expect_error "unknown key" 'unknown key "sede"' "$SP_BIN" search "$TMP/bad2.json"
sed 's/"k": 5/"k": 0/' "$TMP/bad.json" >"$TMP/bad3.json"
expect_error "k = 0" "k: expected an integer" "$SP_BIN" search "$TMP/bad3.json"
sed 's/"k": 5/"k": 23/' "$TMP/bad.json" >"$TMP/bad4.json"
expect_error "k too large" "k = 23" "$SP_BIN" search "$TMP/bad4.json"
sed 's/{"type": "nll"}, "k"/{"type": "acc_norm"}, "k"/' "$TMP/bad.json" >"$TMP/bad5.json"
expect_error "objective needs hellaswag" "objective.type" "$SP_BIN" search "$TMP/bad5.json"
printf '{"name": "t",\n  "model": }' >"$TMP/bad6.json"
expect_error "malformed JSON" "line 2" "$SP_BIN" search "$TMP/bad6.json"
expect_error "missing job" "cannot open" "$SP_BIN" search "$TMP/nope.json"
expect_error "unknown option" "unknown option" "$SP_BIN" search "$TMP/bad.json" --frobnicate
expect_ok "help" "$SP_BIN" search --help
expect_error "--resume without a checkpoint" "no checkpoint" "$SP_BIN" search "$TMP/bad.json" --resume

# --- determinism across rank counts ---------------------------------------------------------
write_job "$TMP/job.json" "$TMP/ref"
expect_ok "reference run (1 rank)" "$SP_BIN" search "$TMP/job.json" --quiet
[ -f "$TMP/ref/DONE" ] || fail "no DONE marker"
grep -q '"removed_layers"' "$TMP/ref/summary.json" || fail "summary.json lacks removed_layers"
history_of "$TMP/ref" >"$TMP/ref.hist"
for np in 2 3 5; do
    write_job "$TMP/job$np.json" "$TMP/np$np"
    expect_ok "$np ranks" mpirun -np $np "$SP_BIN" search "$TMP/job$np.json" --quiet
    history_of "$TMP/np$np" >"$TMP/np$np.hist"
    cmp -s "$TMP/ref.hist" "$TMP/np$np.hist" || fail "history with $np ranks differs from 1 rank"
done
# Tensor parallelism (tp = 2: heads and MLP columns split over a group of 2 ranks). Partial sums
# are added in another order, so fitness agrees to ~1e-6, not bit for bit: compare the answer.
write_job "$TMP/tp.json" "$TMP/tp"
expect_ok "tp = 2 (3 ranks: coordinator + one group of 2)" mpirun -np 3 "$SP_BIN" search "$TMP/tp.json" --tp 2 --quiet
removed_of() { tr -d ' \t\n' <"$1/summary.json" | sed -n 's/.*"removed_layers":\(\[[0-9,]*\]\).*/\1/p'; }
[ "$(removed_of "$TMP/tp")" = "$(removed_of "$TMP/ref")" ] ||
    fail "tp = 2 found $(removed_of "$TMP/tp"), tp = 1 found $(removed_of "$TMP/ref")"
write_job "$TMP/tp3.json" "$TMP/tp3"
expect_error "tp = 3 does not divide the 2 KV heads" "must divide" mpirun -np 4 "$SP_BIN" search "$TMP/tp3.json" --tp 3
expect_ok "finished run is not repeated" "$SP_BIN" search "$TMP/job.json"
grep -q "already finished" "$TMP/out" || fail "a finished search ran again"
# A finished search given a larger total budget continues to it: the same history as a run
# made with that budget from the start.
write_job "$TMP/grow.json" "$TMP/grow" pso 25
expect_ok "budget 25" "$SP_BIN" search "$TMP/grow.json" --quiet
grep -q "greedy-path warm start skipped: it would take [0-9]* of the 25 evaluations" "$TMP/out" ||
    fail "budget 25: no note that the greedy path was left out"
write_job "$TMP/grow.json" "$TMP/grow" pso 60
expect_ok "budget raised to 60" "$SP_BIN" search "$TMP/grow.json" --quiet
grep -q "resumed from" "$TMP/out" || fail "raising the budget did not resume"
history_of "$TMP/grow" >"$TMP/grow.hist"
cmp -s "$TMP/ref.hist" "$TMP/grow.hist" || fail "budget 25 then 60: history differs from budget 60"

# --- stop with a signal at several points, resume, same history ---------------------------------
# mpirun forwards SIGUSR1 and the ranks' exit code (75); on SIGTERM mpirun itself exits 1 after
# forwarding it, so there the test checks the coordinator's message. The signal goes at an
# observable point, never after a fixed delay (a loaded machine starts slowly): "start" = the
# coordinator's first line (every rank is past MPI_Init, handlers installed before it),
# "ckpt" = the first checkpoint file exists (the search is under way).
# wait_point POINT OUT DIR: waits (at most 120 s) for POINT; fails the test when it never comes.
wait_point() {
    for _ in $(seq 1 1200); do
        case "$1" in
            start) grep -q "^swarmprune search: .*rank(s)" "$2" 2>/dev/null && return 0 ;;
            ckpt) [ -f "$3/checkpoint.h5" ] && return 0 ;;
        esac
        sleep 0.1
    done
    fail "no '$1' point within 120 s: $(tail -3 "$2")"
}
trial=0
for spec in "USR1 start 3" "USR1 ckpt 3" "TERM ckpt 3" "TERM ckpt 1"; do
    set -- $spec
    sig=$1 delay=$2 np=$3 trial=$((trial + 1))
    write_job "$TMP/sig$trial.json" "$TMP/sig$trial"
    if [ "$np" -eq 1 ]; then "$SP_BIN" search "$TMP/sig$trial.json" --quiet >"$TMP/sig.out" 2>&1 &
    else mpirun -np "$np" "$SP_BIN" search "$TMP/sig$trial.json" --quiet >"$TMP/sig.out" 2>&1 &
    fi
    pid=$!
    wait_point "$delay" "$TMP/sig.out" "$TMP/sig$trial"
    kill -"$sig" $pid 2>/dev/null
    rc=0; wait $pid || rc=$?
    if [ -f "$TMP/sig$trial/DONE" ]; then
        fail "SIG$sig at $delay: the search finished before the signal (make it longer)"
    elif ! grep -q "stopped by signal" "$TMP/sig.out"; then
        fail "SIG$sig at $delay (np $np): no 'stopped by signal': $(tail -3 "$TMP/sig.out")"
    elif [ "$sig" = USR1 ] || [ "$np" -eq 1 ]; then
        [ $rc -eq 75 ] || fail "SIG$sig at $delay (np $np): exit $rc, expected 75"
    fi
    expect_ok "resume after SIG$sig ($delay)" mpirun -np 3 "$SP_BIN" search "$TMP/sig$trial.json" --quiet
    grep -q "resumed from" "$TMP/out" || fail "SIG$sig at $delay: the second run did not resume"
    history_of "$TMP/sig$trial" >"$TMP/sig.hist"
    cmp -s "$TMP/ref.hist" "$TMP/sig.hist" || fail "history after SIG$sig at $delay + resume differs"
done

# ranks_of JOB: "pid rank" lines of the job's MPI processes.
ranks_of() {
    for p in $(pgrep -f "swarmprune search $1" || true); do
        r=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
        [ -n "$r" ] && echo "$p $r"
    done
}

# --- a signal that reaches one worker only (not the coordinator) stops the search too ----------
write_job "$TMP/wsig.json" "$TMP/wsig"
mpirun -np 3 "$SP_BIN" search "$TMP/wsig.json" --quiet >"$TMP/wsig.out" 2>&1 &
mpid=$!
for _ in $(seq 1 200); do [ "$(ranks_of "$TMP/wsig.json" | wc -l)" -ge 3 ] && break; sleep 0.1; done
wait_point ckpt "$TMP/wsig.out" "$TMP/wsig" # under way: worker handlers are installed
victim=$(ranks_of "$TMP/wsig.json" | awk '$2 == 2 {print $1}')
[ -n "$victim" ] && kill -USR1 "$victim"
rc=0; wait $mpid || rc=$?
[ $rc -eq 75 ] || fail "SIGUSR1 to worker rank 2 only: exit $rc, expected 75"
expect_ok "resume after a worker's SIGUSR1" mpirun -np 3 "$SP_BIN" search "$TMP/wsig.json" --quiet
history_of "$TMP/wsig" >"$TMP/wsig.hist"
cmp -s "$TMP/ref.hist" "$TMP/wsig.hist" || fail "history after a worker's SIGUSR1 + resume differs"

# --- kill -9 of the coordinator or a worker at random moments, 10 trials, then finish ----------
write_job "$TMP/kill.json" "$TMP/kill"
RANDOM=4242
kills=0
for trial in $(seq 1 10); do
    mpirun -np 3 "$SP_BIN" search "$TMP/kill.json" --quiet >"$TMP/kill.out" 2>&1 &
    mpid=$!
    for _ in $(seq 1 200); do [ "$(ranks_of "$TMP/kill.json" | wc -l)" -ge 3 ] && break; sleep 0.1; done
    sleep "0.$((RANDOM % 9 + 1))" # a random moment on purpose (ranks are up), not a wait
    victim=$(ranks_of "$TMP/kill.json" | awk -v r=$((trial % 3)) '$2 == r {print $1}')
    [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null && kills=$((kills + 1))
    t0=$(date +%s)
    wait $mpid || true
    for _ in $(seq 1 600); do [ -z "$(ranks_of "$TMP/kill.json")" ] && break; sleep 0.1; done
    t1=$(date +%s)
    [ $((t1 - t0)) -le 60 ] || fail "trial $trial: the job's ranks took $((t1 - t0)) s to end after kill -9"
    [ -f "$TMP/kill/DONE" ] && break
done
[ "$kills" -ge 10 ] || fail "only $kills kill -9 trials hit a running search (expected 10)"
expect_ok "resume after the kill -9 trials" mpirun -np 3 "$SP_BIN" search "$TMP/kill.json" --quiet
history_of "$TMP/kill" >"$TMP/kill.hist"
cmp -s "$TMP/ref.hist" "$TMP/kill.hist" || fail "history after kill -9 trials + resume differs"

# --- corrupt and mismatched checkpoints are refused --------------------------------------------
write_job "$TMP/c.json" "$TMP/c" pso 30 # the greedy-path start's 3 generations: 22 + 4 + 4
expect_ok "run for a checkpoint" "$SP_BIN" search "$TMP/c.json" --quiet
rm -f "$TMP/c/DONE"
cp "$TMP/c/checkpoint.h5" "$TMP/c/good.h5"
head -c 3000 "$TMP/c/good.h5" >"$TMP/c/checkpoint.h5"
expect_error "truncated checkpoint" "checkpoint.h5" "$SP_BIN" search "$TMP/c.json"
grep -q "prev" "$TMP/err" || fail "truncated checkpoint: the previous checkpoint is not offered"
cp "$TMP/c/good.h5" "$TMP/c/checkpoint.h5"
sed 's/"seed": 7/"seed": 8/' "$TMP/c.json" >"$TMP/c2.json"
expect_error "checkpoint of another job" "job" "$SP_BIN" search "$TMP/c2.json"
finish
