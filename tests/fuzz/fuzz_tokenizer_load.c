/* fuzz_tokenizer_load.c — libFuzzer harness: loading a tokenizer.json (common/tokenizer_load.c)
 * and encoding/decoding with what was loaded. Input parts (FUZZ_SEP): tokenizer.json, then the
 * text to encode (default "Hello world <|eot_id|>"), then tokenizer_config.json (absent when
 * there is no third part). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "common/tokenizer.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[3];
    size_t len[3];
    int n = fuzz_split(data, size, part, len, 3);
    char path[512], cfg[512];
    if (n > 2) fuzz_write("tokenizer_config.json", part[2], len[2], cfg, sizeof cfg);
    else fuzz_unlink("tokenizer_config.json");
    fuzz_write("tokenizer.json", part[0], len[0], path, sizeof path);
    sp_tokenizer *tok = NULL;
    sp_error err = {{0}};
    if (sp_tokenizer_load(path, &tok, &err) != 0) {
        fuzz_note("tokenizer", err.msg);
        return 0;
    }
    static const char dflt[] = "Hello world <|eot_id|>";
    const char *text = n > 1 ? (const char *)part[1] : dflt;
    size_t tlen = n > 1 ? len[1] : sizeof dflt - 1;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (sp_tokenizer_encode(tok, text, tlen, 1, &ids, &n_ids, &err) == 0) {
        char *back = NULL;
        size_t blen = 0;
        if (sp_tokenizer_decode(tok, ids, n_ids, &back, &blen, &err) != 0) { /* its own ids */
            fprintf(stderr, "decoding the encoder's ids failed: %s\n", err.msg);
            abort();
        }
        free(back);
        free(ids);
    } else {
        fuzz_note("encode", err.msg);
    }
    sp_tokenizer_free(tok);
    return 0;
}
