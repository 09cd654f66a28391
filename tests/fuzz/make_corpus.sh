#!/usr/bin/env bash
# make_corpus.sh — writes the seed corpora of the fuzz harnesses into OUT/<harness>/, from the
# fixtures in ../shared (when present), tests/data, jobs/, and small files made here (nothing
# from ../shared is ever copied into the repository: the corpora live in the build directory).
#   bash tests/fuzz/make_corpus.sh OUT_DIR [SEED_GGUF_PROGRAM]
set -euo pipefail
out=${1:?usage: make_corpus.sh OUT_DIR [SEED_GGUF_PROGRAM]}
seed_gguf=${2:-}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=${SWARMPRUNE_SHARED:-$src/../shared}
fx=$shared/fixtures/tiny-brown-24L
gold=$shared/fixtures/tiny-brown-24L-goldens
have_shared=0
[ -d "$fx" ] && [ -d "$gold" ] && have_shared=1
[ $have_shared = 1 ] || echo "make_corpus: $fx missing: fixture seeds skipped (small seeds only)" >&2

harnesses=(config job mc_data token_ids tokenizer_load tokenizer_encode safetensors gguf checkpoint)
for h in "${harnesses[@]}"; do rm -rf "${out:?}/$h"; mkdir -p "$out/$h"; done

sep() { printf '\n\001--part--\001\n'; } # FUZZ_SEP of fuzz_util.h
le64() { # 8-byte little-endian integer
    local n=$1 i
    for i in 0 1 2 3 4 5 6 7; do printf "\\$(printf %03o $(((n >> (8 * i)) & 255)))"; done
}
# safetensors file: HEADER_JSON DATA_BYTES_HEX...
st_file() {
    local hdr=$1 data=$2
    le64 ${#hdr}
    printf '%s' "$hdr"
    printf "$data"
}

# ---- config.json, job JSON --------------------------------------------------------------
for f in "$src"/tests/data/*.json; do cat "$f" >"$out/config/$(basename "$f")"; done
[ $have_shared = 1 ] && cat "$fx/config.json" >"$out/config/tiny-brown-24L.json"
for f in "$src"/jobs/*.json; do cat "$f" >"$out/job/$(basename "$f")"; done
cat >"$out/job/kl-woa.json" <<'JSON'
{"name": "s", "model": "m", "backend": "cpu", "threads": 2, "tp": 1,
 "task": {"type": "kl", "path": "t.txt", "limit": 64, "ctx": 32},
 "objective": {"type": "kl"}, "k": [2, 3], "protected": [0, 5],
 "search": {"algorithm": "woa", "budget": 40, "fidelities": [0.25, 1],
            "woa": {"whales": 6, "b": 1.0}},
 "seed": "18446744073709551615", "output": "o", "checkpoint": {"interval": 2, "path": "c.h5"}}
JSON

# ---- multiple-choice data: HellaSwag jsonl, generic jsonl, llama.cpp 6-line text --------
if [ $have_shared = 1 ]; then
    head -n 8 "$gold/brown_cloze_val.jsonl" >"$out/mc_data/hellaswag.jsonl"
    [ -f "$shared/data/hellaswag/hellaswag_val_full.txt" ] &&
        head -n 24 "$shared/data/hellaswag/hellaswag_val_full.txt" >"$out/mc_data/llamacpp.txt"
fi
printf '%s\n' '{"context": "The cat sat on the", "choices": ["mat.", "moon.", "\u00e9t\u00e9"], "label": 0}' \
    '{"context": "2 + 2 =", "choices": ["4", "5"], "label": 1}' >"$out/mc_data/generic.jsonl"
printf 'A man [header] is sitting on a roof. he\n3\nis using wrap.\nis ripping tiles.\nis holding a cube.\nstarts pulling up roofing.\n' \
    >"$out/mc_data/six-line.txt"

# ---- token-id JSON ------------------------------------------------------------------------
[ $have_shared = 1 ] && cat "$gold/mask_nll_goldens.json" >"$out/token_ids/goldens.json"
printf '[[1, 2, 3], [4095, 0]]' >"$out/token_ids/plain.json"
printf '{"eval_ids": [[17, 18], [1, 2, 3, 4]], "note": "x"}' >"$out/token_ids/object.json"

# ---- tokenizer: a small byte-level BPE written here (vocab keys as JSON \u escapes) --------
mini_tokenizer() {
    local b n=0 cp sepc=""
    printf '{"version": "1.0", "truncation": null, "padding": null, "added_tokens": ['
    printf '{"id": 260, "content": "<|begin_of_text|>", "single_word": false, "lstrip": false, '
    printf '"rstrip": false, "normalized": false, "special": true}, '
    printf '{"id": 261, "content": "<|eot_id|>", "single_word": false, "lstrip": false, '
    printf '"rstrip": false, "normalized": false, "special": true}], "normalizer": null, '
    printf '"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": '
    printf '{"Regex": "%s"}, "behavior": "Isolated", "invert": false}, ' \
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+"
    printf '{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}, '
    printf '"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": '
    printf '{"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], '
    printf '"pair": [], "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", '
    printf '"ids": [260], "tokens": ["<|begin_of_text|>"]}}}, '
    printf '"decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}, '
    printf '"model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, '
    printf '"end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": {'
    for ((b = 0; b < 256; b++)); do # GPT-2 byte-to-unicode
        if ((b >= 33 && b <= 126)) || ((b >= 161 && b <= 172)) || ((b >= 174)); then cp=$b
        else cp=$((256 + n)); n=$((n + 1)); fi
        printf '%s"\\u%04x": %d' "$sepc" "$cp" "$b"
        sepc=", "
    done
    printf ', "\\u0120t": 256, "he": 257, "\\u0120the": 258, "in": 259}, '
    printf '"merges": [["\\u0120", "t"], ["h", "e"], ["\\u0120t", "he"], ["i", "n"]]}}'
}
mini_tokenizer >"$out/tokenizer_load/mini.json"
{ mini_tokenizer; sep; printf 'the thing <|eot_id|> in\n\xc3\xa9\xe6\x9d\xb1 12345'; } >"$out/tokenizer_load/mini-text.json"
{ mini_tokenizer; sep; printf 'then'; sep; printf '{"eos_token": "<|eot_id|>"}'; } >"$out/tokenizer_load/mini-config.json"
if [ $have_shared = 1 ]; then
    { cat "$fx/tokenizer.json"; sep; printf 'The Fulton County Grand Jury said'; sep
      cat "$fx/tokenizer_config.json"; } >"$out/tokenizer_load/tiny-brown.json"
    head -c 2000 "$shared/data/brown/val.txt" >"$out/tokenizer_encode/brown.txt" 2>/dev/null || true
    head -n 6 "$gold/brown_cloze_val.jsonl" | cut -c1-600 >"$out/tokenizer_encode/jsonl.txt"
fi
printf 'Hello world' >"$out/tokenizer_encode/hello.txt"
printf "don't  I'll WE'RE they've 12345678 3.14159\n\n\t x=y+z;" >"$out/tokenizer_encode/ascii.txt"
printf 'na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x99\x82 <|begin_of_text|>x<|end_of_text|>' \
    >"$out/tokenizer_encode/utf8.txt"
printf 'bad \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf' >"$out/tokenizer_encode/invalid.txt"

# ---- safetensors: small files made here; fixture headers (names, shapes) without data -----
hdr1='{"__metadata__": {"format": "pt"}, "a.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}, "c": {"dtype": "F16", "shape": [1, 2], "data_offsets": [22, 26]}, "d": {"dtype": "I64", "shape": [], "data_offsets": [26, 34]}, "e": {"dtype": "U8", "shape": [0, 5], "data_offsets": [34, 34]}}'
data1='\000\000\200\077\000\000\000\100\000\000\100\100\000\000\200\100\200\077\000\100\100\100\000\074\000\100\007\000\000\000\000\000\000\000'
st_file "$hdr1" "$data1" >"$out/safetensors/small.safetensors"
hdr2='{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
st_file "$hdr2" '\000\000\200\077' >"$out/safetensors/one.safetensors"
hdra='{"w.0": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}'
hdrb='{"w.1": {"dtype": "F32", "shape": [1, 1], "data_offsets": [0, 4]}, "w.2": {"dtype": "I8", "shape": [2], "data_offsets": [4, 6]}}'
{ printf '{"metadata": {"total_size": 10}, "weight_map": {"w.0": "a.safetensors", "w.1": "b.safetensors", "w.2": "b.safetensors"}}'
  sep; st_file "$hdra" '\200\077\000\100'; sep; st_file "$hdrb" '\000\000\200\077\001\377'; } \
    >"$out/safetensors/index.bin"
if [ $have_shared = 1 ]; then
    for f in "$fx"/model-0000*-of-00003.safetensors; do
        n=$(od -An -tu8 -N8 "$f" | tr -d ' ')
        head -c $((8 + n)) "$f" >"$out/safetensors/header-$(basename "$f")"
    done
    { sed 's/model-0000\([123]\)-of-00003\.safetensors/\1/; s/"1"/"a.safetensors"/; s/"2"/"b.safetensors"/; s/"3"/"c.safetensors"/' \
        "$fx/model.safetensors.index.json"; sep; } >"$out/safetensors/index-fixture.bin"
fi

# ---- checkpoints: 0x00 + a file as is; 0x01 + a description (any bytes: see fuzz_checkpoint.c)
{ printf '\000swarmprune-h5-seal 1\nsize 1024\nfnv1a64 0000000000000000\n'; head -c 600 /dev/zero; } \
    >"$out/checkpoint/raw-unsealed"
i=0
for f in "$src"/tests/data/*.json "$src"/jobs/*.json; do
    { printf '\001'; cat "$f"; } >"$out/checkpoint/describe-$i"
    { printf '\001\005\002'; head -c 300 "$f"; printf '\377\377\377\377'; } >"$out/checkpoint/edit-$i"
    i=$((i + 1))
done

# ---- GGUF: made by the seed program -----------------------------------------------------
if [ -n "$seed_gguf" ]; then
    "$seed_gguf" "$out/gguf"
else
    echo "make_corpus: no seed program given: the GGUF corpus is empty" >&2
fi
printf 'GGUF\003\000\000\000' >"$out/gguf/magic-only.gguf"
# ---- inputs that once crashed (tests/fuzz/regress/<harness>/): every smoke replays them -----
for d in "$src"/tests/fuzz/regress/*/; do
    h=$(basename "$d")
    for f in "$d"*; do [ -f "$f" ] && cat "$f" >"$out/$h/regress-$(basename "$f")"; done
done
echo "make_corpus: seeds in $out ($(find "$out" -type f | wc -l) files)"
