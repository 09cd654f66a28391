# cli_hardening.sh — `swarmprune search` regressions of the adversarial pass (issue 18) on the
# tiny fixture: a stale DONE marker (another seed, the same job on changed weights, an old-format
# marker) is not trusted; a checkpoint write that runs out of space (RLIMIT_FSIZE, the stand-in
# for a full disk) exits 1 cleanly, keeps the old checkpoint and prints no HDF5-DIAG; SIGTERM
# stops a single-process search in the middle of a long evaluation, and the resumed search
# gives the history of an uninterrupted one.
source "$(dirname "$0")/lib_cli.sh"
require_shared
export OPENBLAS_NUM_THREADS=1
FIX=$SHARED/fixtures/tiny-brown-24L
TOKENS=$SHARED/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json
MODEL=$TMP/model
cp -r "$FIX" "$MODEL" # a private copy: one test below changes its weights

# write_job FILE OUTPUT SEED BUDGET [TOKENS] [LIMIT]   ($SWARM: PSO swarm size, default 6)
write_job() {
    cat >"$1" <<JOB
{
  "name": "h", "model": "$MODEL",
  "task": {"type": "nll", "path": "${5:-$TOKENS}", "limit": ${6:-2}},
  "objective": {"type": "nll"}, "k": 4,
  "search": {"algorithm": "pso", "budget": $4, "pso": {"swarm": ${SWARM:-6}}},
  "seed": $3, "output": "$2"
}
JOB
}
history_of() { h5dump -d /history/mask -d /history/fitness "$1/results.h5" | grep -v '^HDF5'; }

# --- a DONE marker is trusted only for this job and this model -------------------------------
write_job "$TMP/d.json" "$TMP/d" 7 12
expect_ok "first run" "$SP_BIN" search "$TMP/d.json" --quiet
[ -f "$TMP/d/DONE" ] && grep -q "^done budget 12 job [0-9a-f]\{16\} model [0-9a-f]\{16\}$" "$TMP/d/DONE" ||
    fail "DONE marker lacks the job hash and model fingerprint: $(cat "$TMP/d/DONE")"
expect_ok "same job again" "$SP_BIN" search "$TMP/d.json"
grep -q "already finished" "$TMP/out" || fail "the same finished job ran again"
write_job "$TMP/d2.json" "$TMP/d" 8 12 # another seed, same output directory
expect_error "another seed on a finished directory" "belongs to a different job" \
    "$SP_BIN" search "$TMP/d2.json"
grep -q "already finished" "$TMP/out" && fail "another seed: the old result was returned"
grep -q -- "--fresh" "$TMP/err" || fail "another job: the refusal does not mention --fresh"
# the same job on changed weights (same shapes): the fingerprint samples each tensor's data
python3 - "$MODEL" <<'PY' || fail "could not change the model's weights"
import json, struct, sys, glob
for f in sorted(glob.glob(sys.argv[1] + "/*.safetensors")):
    with open(f, "r+b") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        hdr = json.loads(fh.read(n))
        if "model.norm.weight" in hdr:
            a = hdr["model.norm.weight"]["data_offsets"][0]
            fh.seek(8 + n + a); b = fh.read(2); fh.seek(8 + n + a)
            fh.write(bytes([b[0] ^ 1, b[1]]))
            sys.exit(0)
sys.exit(1)
PY
expect_error "same job, changed weights" "different model" "$SP_BIN" search "$TMP/d.json"
grep -q "already finished" "$TMP/out" && fail "changed weights: the old result was returned"
expect_ok "--fresh on the changed model" "$SP_BIN" search "$TMP/d.json" --fresh --quiet
printf 'done budget 12\n' >"$TMP/d/DONE" # the marker of an older version: not trusted
expect_ok "old-format DONE" "$SP_BIN" search "$TMP/d.json"
grep -q "already finished" "$TMP/out" && fail "an old-format DONE marker was trusted"
grep -q "resumed from" "$TMP/out" || fail "old-format DONE: did not go through the checkpoint"

# --- out of space while writing a checkpoint -------------------------------------------------
# The run goes on from a finished search with a larger budget; its next checkpoint is larger
# than the old one, and the file-size limit is just above the old size (SIGXFSZ ignored: write()
# then fails with EFBIG, as it fails with ENOSPC on a full disk).
write_job "$TMP/f.json" "$TMP/f" 7 12
expect_ok "run for a checkpoint" "$SP_BIN" search "$TMP/f.json" --quiet
cp "$TMP/f/checkpoint.h5" "$TMP/f.before"
size_kb=$(( $(stat -c %s "$TMP/f/checkpoint.h5") / 1024 + 1 ))
write_job "$TMP/f.json" "$TMP/f" 7 400
rc=0
# (PMIX_MCA_gds=hash: the MPI singleton's PMIx keeps its data in memory, not in files that
# the size limit would also cut.)
(trap '' XFSZ; ulimit -f "$size_kb"; PMIX_MCA_gds=hash exec "$SP_BIN" search "$TMP/f.json" --quiet) \
    >"$TMP/f.out" 2>"$TMP/f.err" || rc=$?
[ "$rc" -eq 1 ] || fail "out of space: exit $rc, expected 1: $(tail -3 "$TMP/f.err")"
grep -q "writing checkpoint .*File too large" "$TMP/f.err" ||
    fail "out of space: no clear message: $(head -c 400 "$TMP/f.err")"
grep -q "HDF5-DIAG" "$TMP/f.err" "$TMP/f.out" && fail "out of space: HDF5-DIAG printed"
[ "$(wc -l <"$TMP/f.err")" -le 3 ] || fail "out of space: $(wc -l <"$TMP/f.err") lines on stderr"
cmp -s "$TMP/f.before" "$TMP/f/checkpoint.h5" || fail "out of space: the old checkpoint changed"
ls "$TMP/f/" | grep -q "tmp\." && fail "out of space: a temporary file was left: $(ls "$TMP/f")"
expect_ok "inspect the kept checkpoint" "$SP_BIN" inspect "$TMP/f/checkpoint.h5"

# --- SIGTERM in the middle of a long evaluation, one process -------------------------------
# 120 sequences of 64 tokens per evaluation (seconds of CPU each). The signal goes once the
# search holds its checkpoint lock (set-up done, the first evaluation starts at once) and has
# then used 0.3 s more CPU: certainly inside the first evaluation. The stop must not wait for it.
python3 -c "
import json; d = json.load(open('$TOKENS'))
s = [x[:64] for x in d['eval_ids']]
json.dump([s[i % len(s)] for i in range(120)], open('$TMP/long.json', 'w'))"
SWARM=3 write_job "$TMP/ref.json" "$TMP/ref" 5 3 "$TMP/long.json" 120
SWARM=3 write_job "$TMP/s.json" "$TMP/s" 5 3 "$TMP/long.json" 120
"$SP_BIN" search "$TMP/s.json" --fresh >"$TMP/s.out" 2>&1 &
pid=$!
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo -1; }
for _ in $(seq 1 1200); do [ -f "$TMP/s/checkpoint.h5.lock" ] && break; sleep 0.1; done
[ -f "$TMP/s/checkpoint.h5.lock" ] || fail "SIGTERM: the search did not start in 120 s"
t0=$(cpu_ticks $pid)
for _ in $(seq 1 1200); do
    kill -0 $pid 2>/dev/null && [ $(( $(cpu_ticks $pid) - t0 )) -lt 30 ] || break
    sleep 0.1
done
kill -TERM $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 75 ] || fail "SIGTERM mid-evaluation: exit $rc, expected 75: $(tail -3 "$TMP/s.out")"
grep -q "evaluation of candidate 1 of .* abandoned" "$TMP/s.out" ||
    fail "SIGTERM: the first evaluation was not interrupted: $(tail -3 "$TMP/s.out")"
grep -q "stopped by signal 15" "$TMP/s.out" || fail "SIGTERM: no 'stopped by signal 15'"
grep -q "run the same command without --fresh again to resume" "$TMP/s.out" ||
    fail "SIGTERM after --fresh: the resume hint does not say to drop --fresh"
expect_ok "resume after SIGTERM" "$SP_BIN" search "$TMP/s.json" --quiet
grep -q "resumed from" "$TMP/out" || fail "SIGTERM: the second run did not resume"
expect_ok "uninterrupted reference" "$SP_BIN" search "$TMP/ref.json" --quiet
history_of "$TMP/ref" >"$TMP/ref.hist"
history_of "$TMP/s" >"$TMP/s.hist"
cmp -s "$TMP/ref.hist" "$TMP/s.hist" || fail "history after SIGTERM mid-evaluation differs"

# --- SIGTERM during set-up (the KL task's dense pass over 6000 calibration tokens) --------------
# Sent once the process has used 0.5 s of CPU but not yet printed its first line: exit 75 and a
# message, not an error (the dense pass is interrupted like an evaluation).
cat >"$TMP/kl.json" <<JOB
{"name": "kl", "model": "$MODEL", "task": {"type": "kl", "path": "$SHARED/data/brown/test.txt",
 "limit": 6000, "ctx": 64}, "objective": {"type": "kl"}, "k": 4,
 "search": {"algorithm": "pso", "budget": 6, "pso": {"swarm": 3}}, "seed": 1, "output": "$TMP/kl"}
JOB
"$SP_BIN" search "$TMP/kl.json" >"$TMP/kl.out" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
    kill -0 $pid 2>/dev/null && [ "$(cpu_ticks $pid)" -lt 50 ] || break
    sleep 0.1
done
if grep -q "rank(s)" "$TMP/kl.out"; then
    fail "KL set-up took under 0.5 s of CPU: the test cannot signal it (make the text longer)"
fi
kill -TERM $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 75 ] && grep -q "stopped by signal 15 during set-up" "$TMP/kl.out" ||
    fail "SIGTERM during set-up: exit $rc: $(tail -3 "$TMP/kl.out")"

# --- --top-k 0 is the documented automatic choice ------------------------------------------------
head -c 3000 "$SHARED/data/brown/test.txt" >"$TMP/kl.txt"
expect_ok "eval kl --top-k 0" "$SP_BIN" eval "$FIX" --task kl --text "$TMP/kl.txt" \
    --max-tokens 40 --ctx 32 --top-k 0 --remove 5 --json
grep -q '"cache":\s*"full"' "$TMP/out" || fail "--top-k 0: not the automatic (full) cache: $(cat "$TMP/out")"
finish
