/* fuzz_tokenizer_encode.c — libFuzzer harness: encoding arbitrary bytes with a real tokenizer
 * (common/tokenizer.c, tokenizer_bpe.c). Oracle: valid UTF-8 must encode, and decoding its ids
 * must give the input back byte for byte (byte-level BPE loses nothing); invalid UTF-8 must be
 * refused. The tokenizer is $SP_FUZZ_TOKENIZER, by default the fixture tiny-brown-24L's. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/tokenizer.h"
#include "worker/mc_data.h"

static sp_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *path = getenv("SP_FUZZ_TOKENIZER");
    if (!path) path = SP_SOURCE_DIR "/../shared/fixtures/tiny-brown-24L/tokenizer.json";
    sp_error err = {{0}};
    if (sp_tokenizer_load(path, &tok, &err) != 0) {
        fprintf(stderr, "fuzz_tokenizer_encode: %s (set SP_FUZZ_TOKENIZER)\n", err.msg);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t *ids = NULL;
    size_t n = 0;
    sp_error err = {{0}};
    int valid = sp_mc_utf8_check((const char *)data, size) < 0;
    int rc = sp_tokenizer_encode(tok, (const char *)data, size, 0, &ids, &n, &err);
    if (rc != 0) {
        if (valid) {
            fprintf(stderr, "valid UTF-8 refused: %s\n", err.msg);
            abort();
        }
        return 0;
    }
    if (!valid) abort(); /* invalid UTF-8 accepted */
    char *back = NULL;
    size_t blen = 0;
    if (sp_tokenizer_decode(tok, ids, n, &back, &blen, &err) != 0) abort();
    if (blen != size || (size && memcmp(back, data, size) != 0)) {
        fprintf(stderr, "round trip differs: %zu bytes in, %zu out\n", size, blen);
        abort();
    }
    free(back);
    free(ids);
    return 0;
}
