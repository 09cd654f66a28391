#!/usr/bin/env bash
# gpu_stage_shared.sh — copies the ../shared files the GPU checks read (tiny fixture + goldens,
# Brown val/test, HellaSwag, the Llama-3.1 tokenizer: ~40 MB) into the git-ignored folder gpu-shared/
# of the checkout, so a device call can carry it (the device machine gets only the checkout).
# Then: run tool, carry ["gpu-shared"], command
#   SWARMPRUNE_SHARED=$PWD/gpu-shared bash tests/gpu_check.sh
# The copy is a staging area for one device call, never committed (.gitignore).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SWARMPRUNE_SHARED:-$SRC/../shared}"
[ -d "$SHARED/fixtures" ] || { echo "gpu_stage_shared: $SHARED has no fixtures/" >&2; exit 1; }
DST="$SRC/gpu-shared"
rm -rf "$DST"
mkdir -p "$DST/fixtures" "$DST/data/brown" "$DST/data/hellaswag"
cp -r "$SHARED/fixtures/tiny-brown-24L" "$SHARED/fixtures/tiny-brown-24L-goldens" "$DST/fixtures/"
cp "$SHARED/data/brown/val.txt" "$SHARED/data/brown/test.txt" "$DST/data/brown/"
cp "$SHARED/data/hellaswag/hellaswag_val_full.txt" "$DST/data/hellaswag/"
cp -r "$SHARED/data/llama3.1-tokenizer" "$DST/data/"
echo "gpu_stage_shared: $(du -sh "$DST" | cut -f1) in $DST"
