/* fuzz_safetensors.c — libFuzzer harness: safetensors files and sharded directories
 * (common/safetensors.c). An input without FUZZ_SEP is one model.safetensors; with it, part 0 is
 * model.safetensors.index.json and parts 1..3 are the shards a/b/c.safetensors. Every accepted
 * tensor is looked up by name and, when small, converted to fp32 (reads every data byte). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "common/safetensors.h"
#include "fuzz_util.h"

static const char *const shard_names[] = {"a.safetensors", "b.safetensors", "c.safetensors"};

static void touch_tensors(const sp_safetensors *st)
{
    for (int i = 0; i < st->n_tensors; i++) {
        const sp_tensor *t = &st->tensors[i];
        if (sp_st_find(st, t->name) != t) abort(); /* names are unique and sorted */
        int64_t n = sp_tensor_numel(t);
        if (n < 0 || (size_t)n * sp_dtype_size(t->dtype) != t->nbytes) abort();
        if (n > 4096 || (t->dtype != SP_DT_F32 && t->dtype != SP_DT_F16 && t->dtype != SP_DT_BF16))
            continue;
        float *buf = malloc((size_t)(n ? n : 1) * sizeof *buf);
        sp_error err = {{0}};
        if (sp_tensor_to_f32(t, buf, &err) != 0) abort();
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[4];
    size_t len[4];
    int n = fuzz_split(data, size, part, len, 4);
    char path[512];
    sp_safetensors st;
    sp_error err = {{0}};
    int rc;
    if (n == 1) {
        fuzz_write("model.safetensors", data, size, path, sizeof path);
        rc = sp_st_open_file(path, &st, &err);
    } else {
        fuzz_write("model.safetensors.index.json", part[0], len[0], path, sizeof path);
        for (int i = 0; i < 3; i++) {
            if (i + 1 < n) fuzz_write(shard_names[i], part[i + 1], len[i + 1], path, sizeof path);
            else fuzz_unlink(shard_names[i]);
        }
        rc = sp_st_open_dir(fuzz_dir(), &st, &err);
    }
    if (rc != 0) {
        fuzz_note("safetensors", err.msg);
        return 0;
    }
    touch_tensors(&st);
    sp_st_close(&st);
    return 0;
}
