/* fuzz_token_ids.c — libFuzzer harness: the token-id JSON of `eval --task nll` and nll jobs
 * (worker/task_lm.c, sp_lm_load_tokens), read from a scratch file. */
#include <stddef.h>
#include <stdint.h>
#include "fuzz_util.h"
#include "worker/eval_task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("tokens.json", data, size, path, sizeof path);
    sp_lm_window *w = NULL;
    int64_t n = 0;
    sp_error err = {{0}};
    /* vocab: the fixtures' 4096 (ids above it must be refused, naming the JSON path) */
    if (sp_lm_load_tokens(path, 4096, &w, &n, &err) == 0) sp_lm_windows_free(w, n);
    else fuzz_note("token ids", err.msg);
    return 0;
}
