# cli_hellaswag.sh — `swarmprune eval MODEL --task hellaswag|kl`: results on the fixture and
# bad-input errors (test split, truncated 6-line file, bad options) naming file and line.
source "$(dirname "$0")/lib_cli.sh"
require_shared
M=$SHARED/fixtures/tiny-brown-24L
BROWN=$SHARED/fixtures/tiny-brown-24L-goldens/brown_cloze_val.jsonl
HS=$SHARED/data/hellaswag/hellaswag_val_full.txt

# Until cmd_eval.c's task table points at worker/task_mc_cli.c, the tasks say so: skip, loudly.
"$SP_BIN" eval "$M" --task hellaswag --data "$BROWN" --limit 1 >"$TMP/probe" 2>&1 || true
if grep -q "not implemented: task hellaswag" "$TMP/probe"; then
    echo "$TEST_NAME: SKIPPED: eval --task hellaswag is not wired into cmd_eval.c yet"
    exit 77
fi

expect_ok "brown 40 items" "$SP_BIN" eval "$M" --task hellaswag --data "$BROWN" --limit 40 --json
grep -q '"n":40' "$TMP/out" || fail "brown: n != 40: $(cat "$TMP/out")"
grep -q '"format":"hellaswag-jsonl"' "$TMP/out" || fail "brown: format: $(cat "$TMP/out")"
# --samples: one line per item whose scores give back the reported acc / acc_norm
expect_ok "brown --samples" "$SP_BIN" eval "$M" --task hellaswag --data "$BROWN" --limit 40 --json \
    --samples "$TMP/lls.jsonl"
python3 - "$TMP/out" "$TMP/lls.jsonl" <<'PY' || fail "--samples: per-item scores disagree with acc"
import json, sys
res, items = json.load(open(sys.argv[1])), [json.loads(l) for l in open(sys.argv[2])]
am = lambda v: max(range(len(v)), key=lambda k: (v[k], -k))
acc = sum(am(it["lls"]) == it["label"] for it in items) / len(items)
accn = sum(am([a / b for a, b in zip(it["lls"], it["norm_len"])]) == it["label"] for it in items)
assert [it["item"] for it in items] == list(range(40)), [it["item"] for it in items]
assert acc == res["acc"] and accn / len(items) == res["acc_norm"], (acc, accn, res)
PY
expect_error "--samples unwritable" "cannot" "$SP_BIN" eval "$M" --task hellaswag --data "$BROWN" \
    --limit 2 --samples "$TMP/no/such/dir.jsonl"
expect_ok "hellaswag txt sample" "$SP_BIN" eval "$M" --task hellaswag --data "$HS" --sample 10 --seed 3
grep -q "items:          10 of 10042" "$TMP/out" || fail "txt sample: $(cat "$TMP/out")"
grep -q "acc_norm:" "$TMP/out" || fail "txt sample: no acc_norm"

head -n 1 "$BROWN" | sed 's/"label": [0-9]/"label": ""/' >"$TMP/test_split.jsonl"
expect_error "test split" "test_split.jsonl:1: labels are empty: this looks like the HellaSwag test split" \
    "$SP_BIN" eval "$M" --task hellaswag --data "$TMP/test_split.jsonl"
head -n 9 "$HS" >"$TMP/trunc.txt"
expect_error "truncated 6-line" "trunc.txt:9: truncated item 2" \
    "$SP_BIN" eval "$M" --task hellaswag --data "$TMP/trunc.txt"
: >"$TMP/empty.jsonl"
expect_error "empty" "empty.jsonl: empty file" "$SP_BIN" eval "$M" --task hellaswag --data "$TMP/empty.jsonl"
expect_error "missing data" "needs --data" "$SP_BIN" eval "$M" --task hellaswag
expect_error "bad option" "unknown option" "$SP_BIN" eval "$M" --task hellaswag --data "$BROWN" --bogus 1
expect_error "limit+sample" "exclude each other" \
    "$SP_BIN" eval "$M" --task hellaswag --data "$BROWN" --limit 3 --sample 3

T=$SHARED/data/brown/val.txt
expect_ok "kl self" "$SP_BIN" eval "$M" --task kl --text "$T" --max-tokens 200 --ctx 64 --json
grep -q '"mean_kl":0[,.]' "$TMP/out" || grep -q '"mean_kl":[0-9.e-]*e-[0-9]' "$TMP/out" ||
    fail "kl of the full model to itself not ~0: $(cat "$TMP/out")"
expect_ok "kl remove 0" "$SP_BIN" eval "$M" --task kl --text "$T" --max-tokens 200 --ctx 64 --remove 0
grep -q "mean KL:        [1-9]" "$TMP/out" || fail "kl remove 0 should be > 1 nat: $(cat "$TMP/out")"
expect_error "kl max tokens" "needs --max-tokens" "$SP_BIN" eval "$M" --task kl --text "$T"
expect_error "kl short text" "fewer than --max-tokens" \
    "$SP_BIN" eval "$M" --task kl --text "$TMP/trunc.txt" --max-tokens 100000
finish
