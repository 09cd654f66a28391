/* train_cpu.c — the public CPU trainer (train_cpu.h): input checks, buffer sizes and the memory
 * estimate, dispatch to the fp32 math (train_f32.c) or, for gradient checks, the fp64 one. */
#include "train_cpu.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "train_internal.h"

struct sp_trainer {
    int f64;             /* 1: fp64 math (sp_trainer_create_f64) */
    sp_model_config cfg;
    sp_mask removed;
    int64_t max_tokens;
    sp_train_impl *impl;
};

uint32_t sp_train_dropout_thresh(double p) { return (uint32_t)llround(p * 65536.0); }

int sp_train_counts_make(const sp_model_config *cfg, int n_kept, int rank, int recompute,
                         int64_t N, sp_train_counts *c)
{
    double H = (double)cfg->hidden, F = (double)cfg->ffn, V = (double)cfg->vocab;
    double QD = (double)(cfg->n_heads * cfg->head_dim);
    double KVD = (double)(cfg->n_kv_heads * cfg->head_dim);
    double QKV = QD + 2 * KVD, n = (double)N, C = SP_TRAIN_HEAD_CHUNK, r = rank;
    double QB = N < SP_TRAIN_QBLOCK ? n : SP_TRAIN_QBLOCK, max_in = fmax(fmax(H, F), QD);
    double layer_w = 2 * H + QKV * H + H * QD + 3 * F * H;
    double head_w = V * H * (cfg->tie_embeddings ? 1 : 2) + H;
    double acts = n * (3 * H + 2 + QKV + (double)cfg->n_heads + QD + 2 * F);
    double n_acts = recompute ? 1 : n_kept;
    double w = layer_w * n_kept + head_w;
    double saved = (n_kept + 1) * n * H + n_acts * acts;
    double work = n * (2 * H + QKV + QD + 4 * F + max_in) + 2 * QB * n + C * (2 * H + 1 + V);
    double lora = rank > 0 ? n_acts * SP_LORA_NT * n * r + n * r + max_in * r : 0;
    double lim = (double)(SIZE_MAX / 16);
    if (!(w < lim && saved < lim && work < lim && lora < lim)) return -1;
    c->weights = (size_t)w, c->saved = (size_t)saved, c->work = (size_t)work;
    c->lora = (size_t)lora;
    return 0;
}

static int trainer_check_options(const sp_model_config *cfg, const sp_mask *removed,
                                 const sp_trainer_options *o, int *n_kept, sp_error *err)
{
    if (o->threads < 0) return sp_error_set(err, "trainer: threads %d must be >= 0", o->threads);
    if (o->max_tokens < 1 || o->max_tokens > INT32_MAX / 2)
        return sp_error_set(err, "trainer: max_tokens %lld outside [1, %d]",
                            (long long)o->max_tokens, INT32_MAX / 2);
    if (cfg->n_layers < 1 || cfg->n_layers > SP_MAX_LAYERS || cfg->head_dim % 2 ||
        cfg->n_kv_heads < 1 || cfg->n_heads % cfg->n_kv_heads)
        return sp_error_set(err, "trainer: unsupported model dimensions");
    *n_kept = 0;
    for (int l = 0; l < SP_MAX_LAYERS; l++) {
        int gone = removed && sp_mask_test(removed, l);
        if (l >= cfg->n_layers && gone)
            return sp_error_set(err, "trainer: layer mask removes layer %d but the model has %lld "
                                "layers", l, (long long)cfg->n_layers);
        if (l < cfg->n_layers && !gone) (*n_kept)++;
    }
    if (*n_kept == 0) return sp_error_set(err, "trainer: every layer is removed");
    return 0;
}

int sp_trainer_estimate_bytes(const sp_model_config *cfg, const sp_mask *removed,
                              const sp_lora_config *lc, const sp_trainer_options *o,
                              size_t *bytes, sp_error *err)
{
    int n_kept = 0;
    if (trainer_check_options(cfg, removed, o, &n_kept, err) != 0) return -1;
    if (lc && sp_lora_config_check(lc, "trainer", err) != 0) return -1;
    sp_train_counts c;
    if (sp_train_counts_make(cfg, n_kept, lc ? lc->rank : 0, o->recompute, o->max_tokens, &c))
        return sp_error_set(err, "trainer: memory size overflows");
    double params = 0; /* A and B of every kept layer and target */
    int64_t H = cfg->hidden, QD = cfg->n_heads * cfg->head_dim;
    int64_t KVD = cfg->n_kv_heads * cfg->head_dim;
    int64_t in[SP_LORA_NT] = {H, H, H, QD, H, H, cfg->ffn};
    int64_t out[SP_LORA_NT] = {QD, KVD, KVD, H, cfg->ffn, cfg->ffn, H};
    for (int t = 0; lc && t < SP_LORA_NT; t++)
        if (lc->targets & (1u << t)) params += (double)lc->rank * (double)(in[t] + out[t]) * n_kept;
    /* fp32 elements: the trainer's buffers + its copy of A/B + the sp_lora (A, B, gA, gB) */
    double total = ((double)c.weights + (double)c.saved + (double)c.work + (double)c.lora +
                    5 * params) * sizeof(float) +
                   (double)o->max_tokens * (sizeof(int64_t) + sizeof(int32_t));
    if (!(total < (double)SIZE_MAX / 2)) return sp_error_set(err, "trainer: memory size overflows");
    *bytes = (size_t)total;
    return 0;
}

static int trainer_create(const sp_model *m, const sp_mask *removed, const sp_trainer_options *o,
                          int f64, sp_trainer **out, sp_error *err)
{
    *out = NULL;
    int n_kept = 0;
    if (trainer_check_options(&m->cfg, removed, o, &n_kept, err) != 0) return -1;
    if (o->threads > 0) openblas_set_num_threads(o->threads);
    sp_trainer *t = sp_xcalloc(1, sizeof *t);
    t->f64 = f64;
    t->cfg = m->cfg;
    t->max_tokens = o->max_tokens;
    if (removed) t->removed = *removed;
    else sp_mask_clear(&t->removed);
    int rc = f64 ? sp_train_create_f64(m, removed, o, &t->impl, err)
                 : sp_train_create_f32(m, removed, o, &t->impl, err);
    if (rc != 0) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int sp_trainer_create(const sp_model *m, const sp_mask *removed, const sp_trainer_options *o,
                      sp_trainer **out, sp_error *err)
{
    return trainer_create(m, removed, o, 0, out, err);
}

int sp_trainer_create_f64(const sp_model *m, const sp_mask *removed, const sp_trainer_options *o,
                          sp_trainer **out, sp_error *err)
{
    return trainer_create(m, removed, o, 1, out, err);
}

void sp_trainer_free(sp_trainer *t)
{
    if (!t) return;
    if (t->f64) sp_train_free_f64(t->impl);
    else sp_train_free_f32(t->impl);
    free(t);
}

/* The adapter must cover exactly the kept layers, with the model's shapes. */
static int trainer_check_lora(const sp_trainer *t, const sp_lora *lora, sp_error *err)
{
    if (sp_lora_config_check(&lora->cfg, "trainer", err) != 0) return -1;
    if (lora->n_layers != t->cfg.n_layers)
        return sp_error_set(err, "trainer: adapter has %d layers, the model %lld", lora->n_layers,
                            (long long)t->cfg.n_layers);
    for (int l = 0; l < lora->n_layers; l++)
        for (int tg = 0; tg < SP_LORA_NT; tg++) {
            int has = lora->A[l * SP_LORA_NT + tg] != NULL;
            int want = !sp_mask_test(&t->removed, l) && (lora->cfg.targets & (1u << tg));
            if (has != want)
                return sp_error_set(err, "trainer: adapter %s %s of layer %d, which the trainer %s",
                                    has ? "has" : "lacks", sp_lora_target_names[tg], l,
                                    want ? "adapts" : "removes or does not target");
        }
    int64_t H = t->cfg.hidden, QD = t->cfg.n_heads * t->cfg.head_dim;
    int64_t KVD = t->cfg.n_kv_heads * t->cfg.head_dim, F = t->cfg.ffn;
    int64_t in[SP_LORA_NT] = {H, H, H, QD, H, H, F}, out[SP_LORA_NT] = {QD, KVD, KVD, H, F, F, H};
    for (int tg = 0; tg < SP_LORA_NT; tg++)
        if (lora->in[tg] != in[tg] || lora->out[tg] != out[tg])
            return sp_error_set(err, "trainer: adapter %s is [%lld -> %lld], the model's [%lld -> "
                                "%lld]", sp_lora_target_names[tg], (long long)lora->in[tg],
                                (long long)lora->out[tg], (long long)in[tg], (long long)out[tg]);
    return 0;
}

static int trainer_check_batch(const sp_trainer *t, const int32_t *tokens, const float *weight,
                               int n_seq, int T, sp_error *err)
{
    if (n_seq < 1 || T < 1) return sp_error_set(err, "trainer: batch of %d x %d tokens", n_seq, T);
    if ((int64_t)n_seq * T > t->max_tokens)
        return sp_error_set(err, "trainer: batch of %d x %d = %lld tokens exceeds max_tokens %lld",
                            n_seq, T, (long long)n_seq * T, (long long)t->max_tokens);
    if (t->cfg.max_pos > 0 && T > t->cfg.max_pos)
        return sp_error_set(err, "trainer: sequences of %d tokens exceed the model's %lld "
                            "positions", T, (long long)t->cfg.max_pos);
    for (int64_t n = 0; n < (int64_t)n_seq * T; n++) {
        if (tokens[n] < 0 || tokens[n] >= t->cfg.vocab)
            return sp_error_set(err, "trainer: token %lld: id %d outside the vocabulary [0, %lld)",
                                (long long)n, tokens[n], (long long)t->cfg.vocab);
        if (!(weight[n] >= 0) || !isfinite(weight[n]))
            return sp_error_set(err, "trainer: token %lld: weight %g must be finite and >= 0",
                                (long long)n, weight[n]);
    }
    return 0;
}

static int trainer_run(sp_trainer *t, const sp_lora *lora, sp_lora *grad, const int32_t *tokens,
                       const float *weight, int n_seq, int T, uint64_t key, double gs,
                       double *loss_sum, double *weight_sum, sp_error *err)
{
    if (trainer_check_batch(t, tokens, weight, n_seq, T, err) != 0) return -1;
    if (lora && trainer_check_lora(t, lora, err) != 0) return -1;
    if (t->f64)
        return sp_train_run_f64(t->impl, lora, grad, tokens, weight, n_seq, T, key, gs, loss_sum,
                                weight_sum, err);
    return sp_train_run_f32(t->impl, lora, grad, tokens, weight, n_seq, T, key, gs, loss_sum,
                            weight_sum, err);
}

int sp_trainer_step(sp_trainer *t, sp_lora *lora, const int32_t *tokens, const float *weight,
                    int n_seq, int T, uint64_t dropout_key, double grad_scale,
                    double *loss_sum, double *weight_sum, sp_error *err)
{
    if (!lora) return sp_error_set(err, "trainer: a step needs an adapter");
    return trainer_run(t, lora, lora, tokens, weight, n_seq, T, dropout_key, grad_scale, loss_sum,
                       weight_sum, err);
}

int sp_trainer_eval(sp_trainer *t, const sp_lora *lora, const int32_t *tokens,
                    const float *weight, int n_seq, int T, double *loss_sum,
                    double *weight_sum, sp_error *err)
{
    return trainer_run(t, lora, NULL, tokens, weight, n_seq, T, 0, 0.0, loss_sum, weight_sum, err);
}
