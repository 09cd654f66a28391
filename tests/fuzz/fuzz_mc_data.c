/* fuzz_mc_data.c — libFuzzer harness: multiple-choice data in every layout (HellaSwag jsonl,
 * generic jsonl, llama.cpp 6-line text; worker/mc_data.c, sp_mc_load_buffer), then the subsets
 * and the lm-eval preprocessing of every accepted item. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_util.h"
#include "worker/mc_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_mc_set set;
    sp_error err = {{0}};
    if (sp_mc_load_buffer("data.jsonl", (const char *)data, size, &set, &err) != 0) {
        fuzz_note("mc", err.msg);
        return 0;
    }
    int64_t *idx = NULL, n = 0;
    if (sp_mc_subset_sample(&set, set.n / 2 + 1, 7, &idx, &n, &err) == 0) free(idx);
    for (int64_t i = 0; i < set.n && i < 4; i++) {
        char *p = sp_mc_preprocess(set.items[i].query), *c = sp_mc_capitalize(p);
        free(p), free(c);
    }
    sp_mc_free(&set);
    return 0;
}
