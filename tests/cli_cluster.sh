# cli_cluster.sh — multi-node for real on one machine: 3 namespaced nodes (tests/cluster/cluster.sh)
# with Open MPI over TCP and a 3-node Slurm. (1) mpirun, 6 ranks on 3 nodes: the history of a
# 1-process run bit for bit; tp 2 groups spanning nodes: the same masks, fitness within 1e-5; the
# log and summary.json name each group's hosts.
# (2) sbatch -N 3 slurm/search.sbatch: same answer, with (4) a worker node SIGSTOPped for 20 s
# (no change, no deadline tripped). (3) node1 (batch host, coordinator) killed, then node3 cut
# off: the job ends within 60 s, is requeued, resumes on the surviving nodes (the checkpoint lock
# taken over across hosts) and ends with the uninterrupted history; node3 cut off again with Open
# MPI's keepalive off: the worker deadline ends the job. Prints the measured times.
# Skips (77) when not root, network namespaces are not allowed, or a tool is missing.
source "$(dirname "$0")/lib_cli.sh"
require_shared
write_job() { # FILE NAME BUDGET OUTPUT
    cat >"$1" <<JOB
{
  "name": "$2", "model": "$SHARED/fixtures/tiny-brown-24L",
  "task": {"type": "nll", "path": "$SHARED/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json", "limit": 2},
  "objective": {"type": "nll"}, "k": 5,
  "search": {"algorithm": "pso", "budget": $3, "pso": {"swarm": 8}},
  "seed": 11, "output": "$4"
}
JOB
}
for tool in ip nsenter unshare mpirun h5dump slurmctld slurmd munged sbatch python3; do
    command -v "$tool" >/dev/null || { echo "$TEST_NAME: SKIPPED: $tool not installed"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "$TEST_NAME: SKIPPED: network namespaces need root"; exit 77; }
if ! ip netns add "spcprobe$$" 2>"$TMP/err"; then
    echo "$TEST_NAME: SKIPPED: ip netns add is not allowed here: $(head -c 200 "$TMP/err")"
    exit 77
fi
ip netns del "spcprobe$$"
if ! unshare --uts true 2>"$TMP/err"; then
    echo "$TEST_NAME: SKIPPED: unshare --uts is not allowed here: $(head -c 200 "$TMP/err")"
    exit 77
fi
if [ -e /run/netns/spc0 ]; then
    echo "$TEST_NAME: SKIPPED: a test cluster (namespace spc0) is already up; if it is a leftover," \
         "remove it: bash tests/cluster/cluster.sh down DIR (any DIR)"
    exit 77
fi
export OPENBLAS_NUM_THREADS=1 SEARCH_ARGS=--quiet SP_BIN LAUNCHER=mpirun
write_job "$TMP/bad.json" bad 8 "$TMP/bad"
expect_error "a bad worker deadline" 'SWARMPRUNE_WORKER_DEADLINE: expected seconds >= 0 (0 = no deadline), got "30s"' \
    env SWARMPRUNE_WORKER_DEADLINE=30s "$SP_BIN" search "$TMP/bad.json" --quiet
unset SLURM_JOB_ID SLURM_JOBID SLURM_RESTART_COUNT SWARMPRUNE_WORKER_DEADLINE
MODEL=$SHARED/fixtures/tiny-brown-24L
TOKENS=$SHARED/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json
CLUSTER="bash $SP_SOURCE_DIR/tests/cluster/cluster.sh"
CL=$TMP/cl

cleanup() {
    $CLUSTER down "$CL" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

history_of() { h5dump -d /history/mask -d /history/fitness "$1/results.h5" | grep -v '^HDF5'; }
# fitness_close A B: the fitness histories of two run dirs agree within 1e-5 relative.
fitness_close() {
    paste <(h5dump -y -w 1 -m %.17g -d /history/fitness "$1/results.h5" | grep -E '^ *[-0-9]') \
          <(h5dump -y -w 1 -m %.17g -d /history/fitness "$2/results.h5" | grep -E '^ *[-0-9]') |
        tr -d ',' | awk 'BEGIN { n = 0 } { n++; d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1
            if (!(d <= 1e-5 * a)) { bad++; printf "  entry %d: %s vs %s\n", n, $1, $2 } }
            END { if (n == 0 || bad) exit 1 }'
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
# search_pids N...: the swarmprune processes on the given nodes.
search_pids() {
    local n p
    for n in "$@"; do
        for p in $(ip netns pids "spc$n" 2>/dev/null); do
            [ "$(cat "/proc/$p/comm" 2>/dev/null)" = swarmprune ] && echo "$p"
        done
    done
}
# wait_file FILE SECONDS
wait_file() { for _ in $(seq 1 $(($2 * 5))); do [ -e "$1" ] && return 0; sleep 0.2; done; return 1; }
field() { $CLUSTER ctl scontrol show job -o "$1" 2>/dev/null | grep -oE "(^| )$2=[^ ]*" | head -n 1 | cut -d= -f2; }
# wait_final JOB SECONDS: prints the final JobState (or "timeout(STATE)").
wait_final() {
    local s=""
    for _ in $(seq 1 $(($2 * 2))); do
        s=$(field "$1" JobState)
        case "$s" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL)
            echo "$s"; return 0 ;;
        esac
        sleep 0.5
    done
    echo "timeout($s)"
}
# gone_after T0 SECONDS NODE...: waits until no search process runs on NODEs; prints the seconds
# since T0 (ms), or "never".
gone_after() {
    local t0=$1 limit=$2; shift 2
    for _ in $(seq 1 $((limit * 5))); do
        [ -z "$(search_pids "$@")" ] && { secs "$t0" "$(now_ms)"; return 0; }
        sleep 0.2
    done
    echo never
}

$CLUSTER up "$CL" slurm >"$TMP/up.out" 2>&1 || { fail "cluster did not start: $(tail -5 "$TMP/up.out")"; finish; }
source "$CL/env"

# Uninterrupted 1-process references, meanwhile.
for b in 24 64; do
    write_job "$TMP/ref$b.json" "ref$b" "$b" "$TMP/ref$b"
    "$SP_BIN" search "$TMP/ref$b.json" --quiet >"$TMP/ref$b.out" 2>&1 &
    eval "refpid$b=$!"
done

# --- (1) mpirun over the 3 nodes ---------------------------------------------------------------
write_job "$TMP/mp.json" mp 64 "$TMP/mp"
$CLUSTER exec 1 mpirun --hostfile "$CL/hostfile" -np 6 -x OPENBLAS_NUM_THREADS \
    "$SP_BIN" search "$TMP/mp.json" --quiet >"$TMP/mp.out" 2>&1 || fail "mpirun 6 ranks: $(tail -5 "$TMP/mp.out")"
grep -q "coordinator on node1; worker hosts: group 0 (rank 1) node1; group 1 (rank 2) node2; group 2 (rank 3) node2; group 3 (rank 4) node3; group 4 (rank 5) node3" "$TMP/mp.out" ||
    fail "6 ranks: the log does not name the hosts of each group: $(grep hosts "$TMP/mp.out")"
grep -q '"worker_group_hosts":.*\["node1", "node2", "node2", "node3", "node3"\]' "$TMP/mp/summary.json" ||
    fail "summary.json lacks worker_group_hosts: $(grep -A1 hosts "$TMP/mp/summary.json")"
# tp 2 over 7 ranks, slots 2,2,3: groups (1,2) on node1+node2, (3,4) on node2+node3, (5,6) on node3.
printf '%s slots=2\n%s slots=2\n%s slots=3\n' 10.213.19.1 10.213.19.2 10.213.19.3 >"$TMP/hf7"
write_job "$TMP/tp2.json" tp2 24 "$TMP/tp2"
$CLUSTER exec 1 mpirun --hostfile "$TMP/hf7" -np 7 -x OPENBLAS_NUM_THREADS \
    "$SP_BIN" search "$TMP/tp2.json" --quiet --tp 2 >"$TMP/tp2.out" 2>&1 || fail "mpirun tp 2: $(tail -5 "$TMP/tp2.out")"
grep -q "group 0 (ranks 1-2) node1,node2; group 1 (ranks 3-4) node2,node3; group 2 (ranks 5-6) node3$" "$TMP/tp2.out" ||
    fail "tp 2: groups do not span nodes as placed: $(grep hosts "$TMP/tp2.out")"
wait "$refpid64" || fail "reference run (budget 64) failed: $(tail -3 "$TMP/ref64.out")"
wait "$refpid24" || fail "reference run (budget 24) failed: $(tail -3 "$TMP/ref24.out")"
history_of "$TMP/ref64" >"$TMP/ref64.hist" 2>&1
history_of "$TMP/mp" >"$TMP/mp.hist" 2>&1
cmp -s "$TMP/ref64.hist" "$TMP/mp.hist" || fail "6 ranks on 3 nodes: history differs from the 1-process run"
cmp -s <(h5dump -d /history/mask "$TMP/ref24/results.h5" | grep -v '^HDF5') \
       <(h5dump -d /history/mask "$TMP/tp2/results.h5" | grep -v '^HDF5') ||
    fail "tp 2 on 3 nodes: masks differ from the 1-process run"
fitness_close "$TMP/ref24" "$TMP/tp2" >"$TMP/close.out" || fail "tp 2: fitness beyond 1e-5: $(head -5 "$TMP/close.out")"

# --- (2) + (4) sbatch -N 3, a worker node stopped for 20 s -------------------------------------
SB=(--overcommit --gpus-per-node=0 --cpus-per-task=1 --time=10 --chdir="$TMP")
# Under Slurm, Open MPI launches its daemons with srun, not the rsh agent.
unset OMPI_MCA_plm_rsh_agent OMPI_MCA_plm_rsh_no_tree_spawn
write_job "$TMP/sb.json" sb 64 "$TMP/unused"
SWARMPRUNE_WORKER_DEADLINE=30 $CLUSTER ctl sbatch --parsable -N 3 --ntasks=6 "${SB[@]}" \
    --output="$TMP/sb-%j.out" "$SP_SOURCE_DIR/slurm/search.sbatch" "$TMP/sb.json" "$TMP/runs" >"$TMP/jid" 2>"$TMP/err" ||
    fail "sbatch -N 3: $(cat "$TMP/err")"
jid=$(cat "$TMP/jid")
if wait_file "$TMP/runs/sb/checkpoint.h5" 60; then
    stopped=$(search_pids 2)
    for p in $stopped; do kill -STOP "$p"; done
    sleep 20 # the stall being tested, not a wait for a state
    for p in $stopped; do kill -CONT "$p"; done
fi
state=$(wait_final "$jid" 120)
log=$TMP/sb-$jid.out
[ "$state" = COMPLETED ] || fail "sbatch -N 3: job $state: $(tail -5 "$log")"
[ -n "$stopped" ] || fail "sbatch -N 3: no search process on node2 to stop"
[ "$(field "$jid" Restarts)" = 0 ] || fail "sbatch -N 3: the stalled run was restarted"
grep -q "deadline" "$log" && fail "sbatch -N 3: a 20 s stall tripped the 30 s deadline"
grep -q "6 task(s) on node\[1-3\]" "$log" || fail "sbatch -N 3: not on node[1-3]: $(head -2 "$log")"
history_of "$TMP/runs/sb" >"$TMP/sb.hist" 2>&1
cmp -s "$TMP/ref64.hist" "$TMP/sb.hist" || fail "sbatch -N 3 with a stalled node: history differs"

# --- (3) node failure: kill node1 (batch host + coordinator), then cut node3 off ---------------
# trial NAME ACTION NODE SURVIVORS...
trial() {
    local name=$1 action=$2 node=$3 t0 t_end t_req t_done jid log state; shift 3
    write_job "$TMP/$name.json" "$name" 64 "$TMP/unused"
    env "${TRIAL_ENV[@]}" $CLUSTER ctl sbatch --parsable -N 2-3 --ntasks=6 --requeue "${SB[@]}" --output="$TMP/$name-%j.out" \
        "$SP_SOURCE_DIR/slurm/search.sbatch" "$TMP/$name.json" "$TMP/runs" >"$TMP/jid" 2>"$TMP/err" ||
        { fail "$name: sbatch: $(cat "$TMP/err")"; return; }
    jid=$(cat "$TMP/jid") log=$TMP/$name-$(cat "$TMP/jid").out
    wait_file "$TMP/runs/$name/checkpoint.h5" 60 || { fail "$name: no checkpoint: $(tail -3 "$log")"; return; }
    t0=$(now_ms)
    if [ "$action" = kill ]; then $CLUSTER kill "$node"; else $CLUSTER link "$node" down; fi
    t_end=$(gone_after "$t0" 90 "$@")
    t_req=never
    for _ in $(seq 1 300); do
        [ "$(field "$jid" Restarts)" -ge 1 ] 2>/dev/null && { t_req=$(secs "$t0" "$(now_ms)"); break; }
        sleep 0.2
    done
    state=$(wait_final "$jid" 150)
    t_done=$(secs "$t0" "$(now_ms)")
    echo "  $name ($action node$node): search processes gone after $t_end s, requeued after $t_req s," \
         "resumed search finished after $t_done s"
    [ "$t_end" != never ] && awk -v t="$t_end" 'BEGIN { exit !(t <= 60) }' ||
        fail "$name: the job did not end within 60 s of the failure ($t_end)"
    [ "$state" = COMPLETED ] || fail "$name: job $state: $(tail -5 "$log")"
    grep -q "restart 1 " "$log" || fail "$name: no restart 1 in the log"
    grep -q "resumed from" "$log" || fail "$name: the restart did not resume: $(tail -5 "$log")"
    history_of "$TMP/runs/$name" >"$TMP/$name.hist" 2>&1
    cmp -s "$TMP/ref64.hist" "$TMP/$name.hist" || fail "$name: history after the failure differs from the uninterrupted run"
    LOG=$log
}
TRIAL_ENV=()
trial kill kill 1 2 3
grep -q "taking over lock .* from pid [0-9]* on node1: an earlier run (restart 0) of this Slurm job" "$LOG" ||
    fail "kill: the restart did not take the lock over from node1: $(grep -i lock "$LOG")"
grep -q "coordinator on node[23]" "$LOG" || fail "kill: the resumed coordinator is not on a surviving node"
$CLUSTER revive "$CL" 1 >"$TMP/revive.out" 2>&1 || fail "node1 did not come back: $(cat "$TMP/revive.out")"
trial part cut 3 1 2
grep -q "search ended abnormally" "$LOG" || fail "part: the batch script did not see the failure"
# The same partition where mpirun notices nothing (keepalive off): the worker deadline (6 s) makes
# the coordinator abort; mpirun, waiting for the cut-off daemon, is killed by the batch script.
$CLUSTER revive "$CL" 3 >"$TMP/revive.out" 2>&1 || fail "node3 did not come back: $(cat "$TMP/revive.out")"
TRIAL_ENV=(OMPI_MCA_oob_tcp_keepalive_time=0 SWARMPRUNE_WORKER_DEADLINE=6 ABORT_GRACE=2)
trial dead cut 3 1 2
grep -q "worker group [34] (rank [45] on node3) has not answered for [0-9]* s (worker deadline 6 s" "$LOG" ||
    fail "dead: no deadline message naming node3's group: $(grep -i deadline "$LOG" | head -3)"
grep -q "after the coordinator aborted: killing it" "$LOG" || fail "dead: the stuck launcher was not killed"
finish
