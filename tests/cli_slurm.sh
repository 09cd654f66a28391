# cli_slurm.sh — the Slurm scripts on a real single-node Slurm (slurm/local-slurm.sh): a search
# pre-empted through its USR1 path checkpoints, requeues itself, resumes and ends with exactly the
# history of an uninterrupted run; a finished search is not repeated; a launcher that starts
# single-process copies is caught; a two-k sweep array (one task pre-empted too) and its
# dependent export job finish. Skips (77) when Slurm/munge are not installed or not root.
source "$(dirname "$0")/lib_cli.sh"
require_shared
for tool in slurmctld slurmd munged sbatch scontrol h5dump python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "$TEST_NAME: SKIPPED: $tool not installed (apt-get install slurm-wlm munge hdf5-tools)"
        exit 77
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    echo "$TEST_NAME: SKIPPED: starting slurmd needs root"
    exit 77
fi
export OPENBLAS_NUM_THREADS=1 SEARCH_ARGS=--quiet SP_BIN
unset SLURM_JOB_ID SLURM_JOBID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID SLURM_RESTART_COUNT
MODEL=$SHARED/fixtures/tiny-brown-24L
TOKENS=$SHARED/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json
SLURM_DIR=$SP_SOURCE_DIR/slurm
CLUSTER=$TMP/cluster

cleanup() {
    bash "$SLURM_DIR/local-slurm.sh" down "$CLUSTER" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# write_job FILE NAME BUDGET OUTPUT
write_job() {
    cat >"$1" <<JOB
{
  "name": "$2", "model": "$MODEL",
  "task": {"type": "nll", "path": "$TOKENS", "limit": 2},
  "objective": {"type": "nll"}, "k": 5,
  "search": {"algorithm": "pso", "budget": $3, "pso": {"swarm": 8}},
  "seed": 11, "output": "$4"
}
JOB
}
history_of() { h5dump -d /history/mask -d /history/fitness "$1/results.h5" | grep -v '^HDF5'; }
field() { scontrol show job -o "$1" 2>/dev/null | grep -oE "(^| )$2=[^ ]*" | head -n 1 | cut -d= -f2; }
# wait_final JOBSPEC SECONDS: prints the final JobState (or "timeout").
wait_final() {
    local s=""
    for _ in $(seq 1 $(($2 * 2))); do
        s=$(field "$1" JobState)
        case "$s" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
            echo "$s"; return 0 ;;
        esac
        sleep 0.5
    done
    echo "timeout($s)"
}
# preempt JOBSPEC CHECKPOINT: once the checkpoint exists, the USR1 pre-emption path.
preempt() {
    for _ in $(seq 1 300); do [ -f "$2" ] && break; sleep 0.2; done
    [ -f "$2" ] || { fail "$1: no checkpoint $2 after 60 s"; return; }
    scancel --batch --signal=USR1 "$1" || fail "scancel --batch --signal=USR1 $1 failed"
}
SB=(--nodes=1 --overcommit --gpus-per-node=0 --cpus-per-task=1 --time=10 --chdir="$TMP")

bash "$SLURM_DIR/local-slurm.sh" up "$CLUSTER" >"$TMP/up.out" 2>&1 || {
    fail "local Slurm did not start: $(tail -5 "$TMP/up.out")"
    finish
}
export SLURM_CONF=$CLUSTER/slurm.conf

# --- search.sbatch: pre-empt (USR1 to the batch shell), requeue, resume, same answer ------------
write_job "$TMP/job.json" "pre" 64 "$TMP/unused"
sbatch --parsable "${SB[@]}" --ntasks=3 --output="$TMP/search-%j.out" \
    "$SLURM_DIR/search.sbatch" "$TMP/job.json" "$TMP/runs" >"$TMP/jid" 2>"$TMP/err" ||
    fail "sbatch search.sbatch: $(cat "$TMP/err")"
jid=$(cat "$TMP/jid")
write_job "$TMP/ref.json" "pre" 64 "$TMP/ref"
"$SP_BIN" search "$TMP/ref.json" --quiet >"$TMP/ref.out" 2>&1 & # meanwhile, plain, 1 process
refpid=$!
preempt "$jid" "$TMP/runs/pre/checkpoint.h5"
wait $refpid || fail "uninterrupted reference run failed: $(tail -3 "$TMP/ref.out")"
state=$(wait_final "$jid" 180)
log="$TMP/search-$jid.out"
[ "$state" = COMPLETED ] || fail "pre-empted search: job $state, exit $(field "$jid" ExitCode): $(tail -5 "$log")"
[ "$(field "$jid" Restarts)" -ge 1 ] 2>/dev/null || fail "pre-empted search was not requeued (Restarts=$(field "$jid" Restarts))"
grep -q "got SIGUSR1" "$log" || fail "the batch shell did not trap SIGUSR1"
grep -q "requeueing job $jid" "$log" || fail "the script did not requeue itself"
grep -q "restart 1 " "$log" || fail "no run with SLURM_RESTART_COUNT = 1"
grep -q "resumed from" "$log" || fail "the restarted search did not resume: $(tail -5 "$log")"
grep -q "MPI world size 3 = " "$log" || fail "no MPI world size check in the log"
[ -f "$TMP/runs/pre/DONE" ] || fail "no DONE marker in the run directory $TMP/runs/pre"
history_of "$TMP/ref" >"$TMP/ref.hist" 2>&1
history_of "$TMP/runs/pre" >"$TMP/pre.hist" 2>&1
cmp -s "$TMP/ref.hist" "$TMP/pre.hist" || fail "history after pre-emption + resume differs from the uninterrupted run"

# --- a finished search is not run again ---------------------------------------------------------
sbatch --parsable "${SB[@]}" --ntasks=3 --output="$TMP/again-%j.out" \
    "$SLURM_DIR/search.sbatch" "$TMP/job.json" "$TMP/runs" >"$TMP/jid" 2>"$TMP/err"
jid=$(cat "$TMP/jid")
state=$(wait_final "$jid" 60)
[ "$state" = COMPLETED ] || fail "re-submitted finished search: job $state"
grep -q "already finished" "$TMP/again-$jid.out" || fail "re-submitted finished search: no 'already finished'"
grep -q "^swarmprune search:" "$TMP/again-$jid.out" && fail "a finished search was launched again"

# --- a launcher starting single-process copies is caught -----------------------------------------
cat >"$TMP/singleton.sh" <<EOF
#!/bin/bash
# swarmprune without the launcher's environment: every copy is an MPI world of its own
exec env -i PATH="\$PATH" HOME=/root OPENBLAS_NUM_THREADS=1 SWARMPRUNE_LOCK_WAIT=1 "$SP_BIN" "\$@"
EOF
chmod +x "$TMP/singleton.sh"
write_job "$TMP/single.json" "single" 64 "$TMP/unused"
SP_BIN="$TMP/singleton.sh" sbatch --parsable "${SB[@]}" --ntasks=3 --output="$TMP/single-%j.out" \
    "$SLURM_DIR/search.sbatch" "$TMP/single.json" "$TMP/runs" >"$TMP/jid" 2>"$TMP/err"
jid=$(cat "$TMP/jid")
state=$(wait_final "$jid" 90)
[ "$state" = FAILED ] || fail "single-process copies: job $state, expected FAILED"
grep -q "MPI world size 1.* but Slurm started 3 tasks" "$TMP/single-$jid.out" ||
    fail "single-process copies not detected: $(tail -5 "$TMP/single-$jid.out")"

# --- sweep.sbatch: array over k = 3,4 (task 1 pre-empted once) + the dependent export ----------
sed 's/"budget": 64/"budget": 40/' "$TMP/job.json" | sed 's/"name": "pre"/"name": "sw"/' >"$TMP/sweep.json"
head -c 20000 "$SHARED/data/brown/train.txt" >"$TMP/heal.txt"
HEAL_DATA=$TMP/heal.txt HEAL_ARGS="--steps 2 --ctx 64 --batch-tokens 64 --threads 1" \
SWEEP_SBATCH_ARGS="${SB[*]} --ntasks=2 --output=$TMP/sweep-%A_%a.out" \
FOLLOWUP_SBATCH_ARGS="--cpus-per-task=1 --time=10 --chdir=$TMP --output=$TMP/export-%j.out" \
    bash "$SLURM_DIR/sweep.sbatch" "$TMP/sweep.json" "$TMP/runs" 3,4 >"$TMP/sub.out" 2>&1 ||
    fail "sweep submission: $(cat "$TMP/sub.out")"
arr=$(sed -n 's/^array job \([0-9]*\).*/\1/p' "$TMP/sub.out")
fol=$(sed -n 's/.*export job \([0-9]*\).*/\1/p' "$TMP/sub.out")
if [ -z "$arr" ] || [ -z "$fol" ]; then
    fail "sweep submission printed no job ids: $(cat "$TMP/sub.out")"
else
    preempt "${arr}_1" "$TMP/runs/sw/k4/checkpoint.h5"
    state=$(wait_final "$fol" 240)
    [ "$state" = COMPLETED ] || fail "follow-up export job: $state: $(tail -5 "$TMP/export-$fol.out" 2>/dev/null)"
    for t in 0 1; do
        s=$(wait_final "${arr}_$t" 10)
        [ "$s" = COMPLETED ] || fail "sweep task $t: $s: $(tail -3 "$TMP/sweep-${arr}_$t.out")"
    done
    [ "$(field "${arr}_1" Restarts)" -ge 1 ] 2>/dev/null || fail "pre-empted sweep task was not requeued"
    grep -q "resumed from" "$TMP/sweep-${arr}_1.out" || fail "pre-empted sweep task did not resume"
    for k in 3 4; do
        [ -f "$TMP/runs/sw/k$k/DONE" ] || fail "sweep k=$k: no DONE"
        cfg=$TMP/runs/sw/k$k/export/config.json
        n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["num_hidden_layers"])' "$cfg" 2>/dev/null)
        [ "$n" = $((24 - k)) ] || fail "sweep k=$k: exported model has '$n' layers, expected $((24 - k))"
    done
    for k in 3 4; do
        [ -f "$TMP/runs/sw/k$k/heal/adapter_model.safetensors" ] || fail "sweep k=$k: export not healed (HEAL_DATA)"
    done
fi
finish
