/* engine.c — backend dispatch of the inference engine, plus what every backend shares: batch
 * and head-request validation and rotary positions of packed prefix/branch batches.
 * CPU: worker/engine_cpu.c (tensor parallelism over an MPI group: worker/tp_shard.h).
 * CUDA: worker/engine_cuda.c (bf16 weights, fp32 accumulation; create fails with a message in
 * a build without CUDA or on a machine without a usable GPU). */
#include "engine.h"

#include <stdlib.h>

#include "engine_cpu.h"
#include "engine_cuda.h"

struct sp_engine {
    sp_backend backend;
    const sp_model *model;
    sp_engine_cpu *cpu;   /* exactly one of cpu / cuda is set */
    sp_engine_cuda *cuda;
    int (*stop)(void);    /* NULL, or polled before each forward call (sp_engine_set_stop) */
};

const char *sp_backend_name(sp_backend b)
{
    switch (b) {
    case SP_BACKEND_CPU: return "cpu";
    case SP_BACKEND_CUDA: return "cuda";
    }
    return "unknown";
}

int sp_engine_create(const sp_model *m, const sp_engine_options *opt, sp_engine **out,
                     sp_error *err)
{
    return sp_engine_create_group(m, opt, MPI_COMM_NULL, out, err);
}

int sp_engine_create_group(const sp_model *m, const sp_engine_options *opt, MPI_Comm group,
                           sp_engine **out, sp_error *err)
{
    *out = NULL;
    sp_engine_options defaults = {SP_BACKEND_CPU, 0};
    if (!opt) opt = &defaults;
    if (opt->backend != SP_BACKEND_CPU && opt->backend != SP_BACKEND_CUDA)
        return sp_error_set(err, "engine: unknown backend %d", (int)opt->backend);
    if (opt->threads < 0) return sp_error_set(err, "engine: threads must be >= 0, got %d",
                                              opt->threads);
    sp_engine *e = sp_xcalloc(1, sizeof *e);
    e->backend = opt->backend;
    e->model = m;
    int rc = opt->backend == SP_BACKEND_CUDA ? sp_engine_cuda_create(m, opt, group, &e->cuda, err)
                                             : sp_engine_cpu_create(m, opt, group, &e->cpu, err);
    if (rc != 0) {
        free(e);
        return -1;
    }
    *out = e;
    return 0;
}

void sp_engine_free(sp_engine *e)
{
    if (!e) return;
    sp_engine_cpu_free(e->cpu);
    sp_engine_cuda_free(e->cuda);
    free(e);
}

const sp_model_config *sp_engine_config(const sp_engine *e) { return &e->model->cfg; }

int sp_engine_device_memory(const sp_engine *e, size_t *weights, size_t *workspace, size_t *peak)
{
    if (!e->cuda) return -1;
    sp_engine_cuda_mem m;
    sp_engine_cuda_memory(e->cuda, &m);
    *weights = m.weight_bytes, *workspace = m.workspace_bytes, *peak = m.peak_used_bytes;
    return 0;
}

void sp_engine_set_stop(sp_engine *e, int (*stop)(void))
{
    e->stop = stop;
    if (e->cpu) sp_engine_cpu_set_stop(e->cpu, stop);
}

int sp_engine_set_lora(sp_engine *e, const sp_lora *lora, sp_error *err)
{
    if (e->cuda) {
        if (!lora) return 0;
        return sp_error_set(err, "not implemented: LoRA adapters on the cuda backend");
    }
    return sp_engine_cpu_set_lora(e->cpu, lora, err);
}

void sp_engine_set_layer_hook(sp_engine *e, sp_layer_hook_fn fn, void *ctx)
{
    if (e->cuda) sp_engine_cuda_set_layer_hook(e->cuda, fn, ctx);
    else sp_engine_cpu_set_layer_hook(e->cpu, fn, ctx);
}

/* Branch entries of item [a, a+n) with prefix p: 0 in the prefix, >= 1 after, contiguous runs. */
static int batch_check_branches(const sp_batch *b, int32_t item, int64_t a, int64_t n, int64_t p,
                                sp_error *err)
{
    const int32_t *br = b->branch;
    if (!br) {
        if (p != n)
            return sp_error_set(err, "batch item %d: prefix_len %lld < item length %lld but the "
                                "batch has no branch array", item, (long long)p, (long long)n);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t id = br[a + i];
        if (i < p && id != 0)
            return sp_error_set(err, "batch item %d token %lld (batch index %lld): branch %d "
                                "inside the prefix (must be 0)", item, (long long)i,
                                (long long)(a + i), id);
        if (i >= p && id < 1)
            return sp_error_set(err, "batch item %d token %lld (batch index %lld): branch %d after "
                                "the prefix (must be >= 1)", item, (long long)i, (long long)(a + i),
                                id);
        if (i > p && id != br[a + i - 1]) /* a new run starts: its id must be new */
            for (int64_t j = p; j < i; j++)
                if (br[a + j] == id)
                    return sp_error_set(err, "batch item %d: branch %d is not one contiguous run "
                                        "(tokens %lld and %lld)", item, id, (long long)j,
                                        (long long)i);
    }
    return 0;
}

int sp_batch_validate(const sp_batch *b, int64_t vocab, sp_error *err)
{
    if (b->n_tokens < 1) return sp_error_set(err, "batch: no tokens");
    if (b->n_items < 1) return sp_error_set(err, "batch: no items");
    if (!b->tokens || !b->item_off || !b->prefix_len)
        return sp_error_set(err, "batch: tokens, item_off and prefix_len are required");
    if (b->item_off[0] != 0 || b->item_off[b->n_items] != b->n_tokens)
        return sp_error_set(err, "batch: item_off must run from 0 to n_tokens %lld (got %lld .. "
                            "%lld)", (long long)b->n_tokens, (long long)b->item_off[0],
                            (long long)b->item_off[b->n_items]);
    for (int32_t it = 0; it < b->n_items; it++) {
        int64_t a = b->item_off[it], n = b->item_off[it + 1] - a;
        if (n < 1) return sp_error_set(err, "batch item %d: empty (item_off %lld .. %lld)", it,
                                       (long long)a, (long long)(a + n));
        int64_t p = b->prefix_len[it];
        if (p < 0 || p > n)
            return sp_error_set(err, "batch item %d: prefix_len %lld outside [0, %lld]", it,
                                (long long)p, (long long)n);
        if (batch_check_branches(b, it, a, n, p, err) != 0) return -1;
    }
    for (int64_t t = 0; t < b->n_tokens; t++)
        if (b->tokens[t] < 0 || b->tokens[t] >= vocab)
            return sp_error_set(err, "batch token %lld: id %d outside the vocabulary [0, %lld)",
                                (long long)t, b->tokens[t], (long long)vocab);
    return 0;
}

int32_t sp_batch_positions(const sp_batch *b, int32_t *pos)
{
    int32_t max_pos = 0;
    for (int32_t it = 0; it < b->n_items; it++) {
        int64_t a = b->item_off[it], n = b->item_off[it + 1] - a, p = b->prefix_len[it];
        int64_t run_start = p;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = i;
            if (i >= p) {
                if (i > p && b->branch[a + i] != b->branch[a + i - 1]) run_start = i;
                v = p + (i - run_start);
            }
            SP_ASSERT(v <= INT32_MAX);
            pos[a + i] = (int32_t)v;
            if (v > max_pos) max_pos = (int32_t)v;
        }
    }
    return max_pos;
}

static int head_validate(const sp_head_request *req, int64_t T, int64_t vocab, sp_error *err)
{
    if (req->n_rows < 0) return sp_error_set(err, "head request: n_rows %lld < 0",
                                             (long long)req->n_rows);
    if (req->n_rows > 0 && !req->rows) return sp_error_set(err, "head request: rows missing");
    if (req->targets && !req->out_logprob)
        return sp_error_set(err, "head request: targets given without out_logprob");
    for (int64_t r = 0; r < req->n_rows; r++) {
        if (req->rows[r] < 0 || req->rows[r] >= T)
            return sp_error_set(err, "head request row %lld: token index %lld outside [0, %lld)",
                                (long long)r, (long long)req->rows[r], (long long)T);
        if (req->targets && (req->targets[r] < 0 || req->targets[r] >= vocab))
            return sp_error_set(err, "head request row %lld: target %d outside the vocabulary "
                                "[0, %lld)", (long long)r, req->targets[r], (long long)vocab);
    }
    return 0;
}

int sp_engine_forward(sp_engine *e, const sp_batch *b, const sp_mask *removed,
                      const sp_head_request *req, sp_error *err)
{
    const sp_model_config *cfg = &e->model->cfg;
    if (sp_batch_validate(b, cfg->vocab, err) != 0) return -1;
    if (head_validate(req, b->n_tokens, cfg->vocab, err) != 0) return -1;
    if (removed) {
        for (int l = (int)cfg->n_layers; l < SP_MAX_LAYERS; l++)
            if (sp_mask_test(removed, l))
                return sp_error_set(err, "layer mask removes layer %d but the model has %lld "
                                    "layers", l, (long long)cfg->n_layers);
    }
    if (e->stop && e->stop())
        return sp_error_set(err, "interrupted: stop requested (signal %d)", e->stop());
    return e->cuda ? sp_engine_cuda_forward(e->cuda, b, removed, req, err)
                   : sp_engine_cpu_forward(e->cpu, b, removed, req, err);
}
