/* bench_models.h — random-weight Llama shapes for the CUDA benchmarks (bench_cuda.c,
 * bench_hellaswag_cuda.c): SmolLM2-135M, Llama-3.2-1B, Llama-3.1-8B configs and an in-memory
 * sp_model whose layers all share one seeded random bf16 buffer per tensor kind (the engine
 * copies every layer to the device, so device memory and work are those of the real model).
 * Header-only (static functions); include after test_util.h. */
#ifndef SP_BENCH_MODELS_H
#define SP_BENCH_MODELS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/model.h"
#include "common/rng.h"

typedef struct {
    const char *name;
    int64_t H, L, NH, NKV, D, F, V;
    int tied;
    sp_rope_kind rope;
    double theta;
} bench_shape;

static const bench_shape SHAPES[] = {
    {"SmolLM2-135M", 576, 30, 9, 3, 64, 1536, 49152, 1, SP_ROPE_DEFAULT, 100000.0},
    {"Llama-3.2-1B", 2048, 16, 32, 8, 64, 8192, 128256, 1, SP_ROPE_LLAMA3, 500000.0},
    {"Llama-3.1-8B", 4096, 32, 32, 8, 128, 14336, 128256, 0, SP_ROPE_LLAMA3, 500000.0},
};

/* Random bf16 weights of a shape: one buffer per tensor kind, shared by all layers. */
typedef struct {
    sp_model m;
    sp_tensor t[12];
    uint16_t *buf[12];
} bench_model;

static void bench_tensor(bench_model *bm, int i, const char *name, int64_t rows, int64_t cols,
                         double amp, int ones)
{
    size_t n = (size_t)(rows * cols);
    bm->buf[i] = sp_xmalloc(n * 2);
    for (size_t k = 0; k < n; k++)
        bm->buf[i][k] = sp_f32_to_bf16(ones ? 1.0f : (float)((2.0 * sp_rng_uniform(7, (uint64_t)i, k, 0)
                                                              - 1.0) * amp));
    sp_tensor *t = &bm->t[i];
    t->name = (char *)name, t->dtype = SP_DT_BF16, t->ndim = cols > 1 ? 2 : 1;
    t->shape[0] = cols > 1 ? rows : cols * rows, t->shape[1] = cols;
    t->nbytes = n * 2, t->data = bm->buf[i];
}

static void bench_model_make(bench_model *bm, const bench_shape *s)
{
    memset(bm, 0, sizeof *bm);
    sp_model_config *c = &bm->m.cfg;
    c->hidden = s->H, c->n_layers = s->L, c->n_heads = s->NH, c->n_kv_heads = s->NKV;
    c->head_dim = s->D, c->ffn = s->F, c->vocab = s->V, c->max_pos = 131072, c->rms_eps = 1e-5;
    c->rope_theta = s->theta, c->rope_kind = s->rope, c->rope_factor = 8.0;
    c->rope_low_freq_factor = 1.0, c->rope_high_freq_factor = 4.0, c->rope_orig_max_pos = 8192;
    c->tie_embeddings = s->tied, c->bos_id = -1;
    double a = 1.0 / sqrt((double)s->H), af = 1.0 / sqrt((double)s->F);
    /* amplitude 1/sqrt(H) for the embedding too, as in trained models: the tied lm_head then
     * gives logits of std ~0.6 (at amplitude 1: ~14, where the bf16 rounding before lm_head
     * alone moves log-probs by 0.1) */
    bench_tensor(bm, 0, "embed", s->V, s->H, a, 0);
    bench_tensor(bm, 1, "norm", 1, s->H, 0, 1);
    bench_tensor(bm, 2, "q", s->NH * s->D, s->H, a, 0);
    bench_tensor(bm, 3, "k", s->NKV * s->D, s->H, a, 0);
    bench_tensor(bm, 4, "v", s->NKV * s->D, s->H, a, 0);
    bench_tensor(bm, 5, "o", s->H, s->NH * s->D, a, 0);
    bench_tensor(bm, 6, "gate", s->F, s->H, a, 0);
    bench_tensor(bm, 7, "up", s->F, s->H, a, 0);
    bench_tensor(bm, 8, "down", s->H, s->F, af, 0);
    if (!s->tied) bench_tensor(bm, 9, "lm_head", s->V, s->H, a, 0);
    bm->m.embed = &bm->t[0], bm->m.final_norm = &bm->t[1];
    bm->m.lm_head = s->tied ? &bm->t[0] : &bm->t[9];
    bm->m.layers = sp_xcalloc((size_t)s->L, sizeof *bm->m.layers);
    for (int64_t l = 0; l < s->L; l++)
        bm->m.layers[l] = (sp_layer_tensors){&bm->t[1], &bm->t[2], &bm->t[3], &bm->t[4], &bm->t[5],
                                             &bm->t[1], &bm->t[6], &bm->t[7], &bm->t[8]};
}

static void bench_model_free(bench_model *bm)
{
    for (int i = 0; i < 12; i++) free(bm->buf[i]);
    free(bm->m.layers);
}

#endif
