# cli_tp.sh — CPU tensor parallelism (worker/tp_shard.h): bench_tp_check (built next to $SP_BIN)
# under mpirun. tp = 2 on the fixture (NH 6, NKV 2) must match tp = 1 (masked NLL within 1e-5
# relative, logits within 1e-4); tp = 3 must be refused on every rank (NKV 2), after which a
# group of 2 and a group of 1 in the same world must still match tp = 1.
source "$(dirname "$0")/lib_cli.sh"
require_shared
export OPENBLAS_NUM_THREADS=1
MODEL=$SHARED/fixtures/tiny-brown-24L
GOLDENS=$SHARED/fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json
CHECKER=$(dirname "$SP_BIN")/bench_tp_check
[ -x "$CHECKER" ] || { fail "bench_tp_check not found next to $SP_BIN"; finish; }

for np in 2 3; do
    expect_ok "mpirun -np $np bench_tp_check" mpirun -np "$np" "$CHECKER" "$MODEL" "$GOLDENS"
    grep -q "bench_tp_check: ok" "$TMP/out" || fail "np $np: no ok line: $(head -c 600 "$TMP/out")"
    if [ "$np" = 3 ]; then
        grep -q "tp 3 refused: .*num_key_value_heads = 2" "$TMP/out" ||
            fail "np 3: tp 3 was not refused: $(head -c 600 "$TMP/out")"
    fi
    grep "^tp " "$TMP/out" | sort -u | sed "s/^/  np $np: /"
done
# A mismatched command line is a usage error, not a crash.
expect_error "usage" "usage: bench_tp_check" mpirun -np 1 "$CHECKER"
finish
