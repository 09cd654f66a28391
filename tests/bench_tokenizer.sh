#!/usr/bin/env bash
# bench_tokenizer.sh — our tokenizer vs Hugging Face `tokenizers` on the same work: the HellaSwag
# validation text encoded line by line, no special tokens, Llama-3.1 tokenizer, best of 3 passes
# after a warm-up. Creates a throw-away venv (pip install tokenizers), checks that both produce
# the same token count and id checksum, and prints tokens/s and the ratio ours/HF, single-thread
# and with all cores (HF encode_batch uses rayon; ours uses --threads).
# usage: tests/bench_tokenizer.sh [BUILD_DIR]   (default build-tok, then build)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-}
if [ -z "$BUILD" ]; then
    for b in "$ROOT/build-tok" "$ROOT/build"; do [ -x "$b/bench_tokenizer" ] && BUILD=$b && break; done
fi
BENCH="${BUILD:-$ROOT/build}/bench_tokenizer"
[ -x "$BENCH" ] || { echo "bench_tokenizer.sh: build bench_tokenizer first ($BENCH)" >&2; exit 1; }
SHARED=${SWARMPRUNE_SHARED:-$ROOT/../shared}
TOK=$SHARED/data/llama3.1-tokenizer/tokenizer.json
TEXT=$SHARED/data/hellaswag/hellaswag_val_full.txt
[ -f "$TOK" ] && [ -f "$TEXT" ] || { echo "bench_tokenizer.sh: SKIPPED: $SHARED not found"; exit 77; }
NCPU=$(nproc)

VENV=$(mktemp -d)
trap 'rm -rf "$VENV"' EXIT
python3 -m venv "$VENV" >/dev/null
"$VENV/bin/pip" install -q tokenizers >/dev/null

hf() { # $1 = threads (1: TOKENIZERS_PARALLELISM=false); prints "tokens checksum seconds"
    local par=true; [ "$1" -eq 1 ] && par=false
    TOKENIZERS_PARALLELISM=$par RAYON_NUM_THREADS=$1 "$VENV/bin/python" - "$TOK" "$TEXT" <<'EOF'
import sys, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
lines = open(sys.argv[2], encoding="utf-8", newline="").read().split("\n")  # same lines as bench_tokenizer.c
def run():
    t0 = time.perf_counter()
    enc = tok.encode_batch(lines, add_special_tokens=False)
    return time.perf_counter() - t0, enc
run()  # warm-up
best, enc = min((run() for _ in range(3)), key=lambda r: r[0])
n, c = 0, 0
for e in enc:
    for i in e.ids:
        c = (c * 1000003 + i) & 0xFFFFFFFFFFFFFFFF
    n += len(e.ids)
print(n, format(c, "016x"), best)
EOF
}

ours() { # $1 = threads; prints "tokens checksum seconds"
    "$BENCH" --threads "$1" "$TOK" "$TEXT" |
        awk '/^bench_tokenizer:/ {n=$6; c=$9; sub(/,/, "", c)} /^ours:/ {s=$2} END {print n, c, s}'
}

MB=$(stat -c %s "$TEXT")
status=0
for th in 1 "$NCPU"; do
    read -r on oc os < <(ours "$th")
    read -r hn hc hs < <(hf "$th")
    if [ "$th" -eq 1 ] && { [ "$on" != "$hn" ] || [ "$oc" != "$hc" ]; }; then
        echo "bench_tokenizer.sh: MISMATCH: ours $on tokens ($oc), HF $hn tokens ($hc)"; status=1
    fi
    awk -v th="$th" -v on="$on" -v os="$os" -v hn="$hn" -v hs="$hs" -v mb="$MB" 'BEGIN {
        printf "threads %d: ours %.0f tokens/s (%.1f MB/s)  HF tokenizers %.0f tokens/s (%.1f MB/s)  ratio ours/HF %.2f\n",
               th, on / os, mb / 1e6 / os, hn / hs, mb / 1e6 / hs, (on / os) / (hn / hs) }'
    [ "$NCPU" -eq 1 ] && break
done
[ "$status" -eq 0 ] && echo "bench_tokenizer.sh: token ids identical to HF tokenizers (count and checksum)"
exit "$status"
