/* fuzz_gguf.c — libFuzzer harness: GGUF files (common/gguf.c) and their conversion to a Hugging
 * Face directory (gguf_convert.c, gguf_tokenizer.c, gguf_quant.c); an accepted conversion is
 * opened again with the regular readers (config.json, tokenizer.json, safetensors), which must
 * accept what the converter wrote. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "common/gguf.h"
#include "common/gguf_convert.h"
#include "common/model_config.h"
#include "common/safetensors.h"
#include "common/tokenizer.h"
#include "fuzz_util.h"

/* Whatever the converter wrote must load: a failure here is a converter bug. */
static void reload(const char *out)
{
    char p[600];
    sp_error err = {{0}};
    sp_model_config cfg;
    snprintf(p, sizeof p, "%s/config.json", out);
    if (sp_config_load(p, &cfg, &err) != 0) goto bad;
    sp_tokenizer *tok = NULL;
    if (sp_tokenizer_load(out, &tok, &err) != 0) goto bad;
    sp_tokenizer_free(tok);
    sp_safetensors st;
    if (sp_st_open_dir(out, &st, &err) != 0) goto bad;
    sp_st_close(&st);
    return;
bad:
    fprintf(stderr, "converted GGUF does not load: %s\n", err.msg);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512], conv[512], out[600];
    fuzz_write("model.gguf", data, size, path, sizeof path);
    fuzz_path(conv, sizeof conv, "conv");
    fuzz_rm_tree(conv);
    mkdir(conv, 0700);
    snprintf(out, sizeof out, "%s/out", conv);
    sp_gguf g;
    sp_error err = {{0}};
    if (sp_gguf_open(path, &g, &err) != 0) {
        fuzz_note("gguf", err.msg);
        return 0;
    }
    for (int64_t i = 0; i < g.n_tensors; i++)
        if (sp_gguf_find_tensor(&g, g.tensors[i].name) == NULL) abort();
    sp_gguf_close(&g);
    sp_convert_options opt = {SP_DT_BF16};
    sp_convert_result res;
    if (sp_gguf_convert(path, out, &opt, &res, &err) == 0) reload(out);
    else fuzz_note("gguf convert", err.msg);
    return 0;
}
