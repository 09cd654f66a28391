/* engine_cpu.c — the CPU reference backend: Llama forward in fp32 on a packed batch.
 * Weights are converted once to fp32 into one arena (q/k/v fused into one [QKV, H] matrix,
 * gate/up into one [2F, H] matrix so each is one sgemm). Activations live in a grow-only
 * workspace sized per call. Skipped layers are not run: the residual stream passes through.
 * The head (final norm, lm_head, log-softmax) runs only on the requested rows, in chunks.
 * Tensor parallelism (worker/tp_shard.h): the dimensions below are the rank's LOCAL ones (its
 * heads and FFN columns); o and down give partial [T, H] sums that MPI_Allreduce adds up. */
#include "engine_cpu.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/ref_ops.h"
#include "tp_group.h"
#include "tp_shard.h"

#define SP_CPU_HEAD_CHUNK 512 /* rows per lm_head sgemm: bounds the [C, V] logits buffer */

typedef struct {
    float *attn_norm; /* [H] */
    float *wqkv;      /* [QKV, H]: q rows [NH*D], then k rows [NKV*D], then v rows [NKV*D] */
    float *wo;        /* [H, NH*D] (own columns) */
    float *mlp_norm;  /* [H] */
    float *wgu;       /* [2F, H]: gate rows, then up rows */
    float *wdown;     /* [H, F] (own columns) */
} cpu_layer;

struct sp_engine_cpu {
    sp_model_config cfg;
    int64_t H, F, NH, NKV, D, V, L, QKV; /* F, NH, NKV, QKV: this rank's shard */
    sp_tp_plan plan;   /* size 1: the whole model */
    MPI_Comm comm;     /* duplicate of the TP group; MPI_COMM_NULL without TP */
    float *arena;      /* every fp32 weight */
    float *embed;      /* [V, H] */
    float *final_norm; /* [H] */
    float *lm_head;    /* [V, H] (== embed when tied) */
    cpu_layer *layers; /* [L] */
    float *inv_freq;   /* [D/2] */
    float *cos_t, *sin_t; /* [rope_cap, D/2], grow-only */
    int64_t rope_cap;
    float *ws;         /* activation workspace, grow-only */
    size_t ws_cap;     /* floats */
    int32_t *pos;      /* [pos_cap] */
    int64_t pos_cap;
    sp_layer_hook_fn hook; /* NULL = none */
    void *hook_ctx;
    int (*stop)(void);     /* NULL = never interrupted (see sp_engine_set_stop) */
    float *hook_in;    /* [hook_cap] copy of the stream entering a layer (only with a hook) */
    size_t hook_cap;   /* floats */
    const sp_lora *lora; /* runtime adapter or NULL (engine.h: sp_engine_set_lora) */
    float *lora_u;     /* [lora_u_cap] scratch u = x A^T [T, r] */
    size_t lora_u_cap; /* floats */
};

/* Converts tensor t (expected numel) into dst; the message names the tensor. */
static int cpu_load_tensor(const sp_tensor *t, int64_t numel, float *dst, sp_error *err)
{
    if (!t) return sp_error_set(err, "engine: a required tensor is missing from the model");
    if (sp_tensor_numel(t) != numel)
        return sp_error_set(err, "engine: tensor %s has %lld elements, expected %lld", t->name,
                            (long long)sp_tensor_numel(t), (long long)numel);
    if (sp_tensor_to_f32(t, dst, err) != 0) return sp_error_wrap(err, "engine: %s", t->name);
    return 0;
}

/* Size table of the arena in floats: [embed][lm_head?][final_norm] + L x layer. */
static int cpu_arena_floats(const sp_engine_cpu *c, int tied, size_t *layer_f, size_t *total,
                            sp_error *err)
{
    size_t vh, hh, qkvh, oh, guh, dh, lf, all;
    if (sp_mul_size((size_t)c->V, (size_t)c->H, &vh) || sp_mul_size((size_t)c->QKV, (size_t)c->H,
                                                                      &qkvh) ||
        sp_mul_size((size_t)c->H, (size_t)(c->NH * c->D), &oh) ||
        sp_mul_size((size_t)(2 * c->F), (size_t)c->H, &guh) ||
        sp_mul_size((size_t)c->H, (size_t)c->F, &dh))
        return sp_error_set(err, "engine: weight sizes overflow");
    hh = (size_t)c->H;
    lf = 2 * hh;
    if (sp_add_size(lf, qkvh, &lf) || sp_add_size(lf, oh, &lf) || sp_add_size(lf, guh, &lf) ||
        sp_add_size(lf, dh, &lf) || sp_mul_size(lf, (size_t)c->L, &all) ||
        sp_add_size(all, vh * (tied ? 1 : 2) + hh, &all) || all > SIZE_MAX / sizeof(float))
        return sp_error_set(err, "engine: weight sizes overflow");
    *layer_f = lf;
    *total = all;
    return 0;
}

/* Converts the rank's block of weight w (tp_shard.h) into dst. */
static int cpu_load_shard(const sp_engine_cpu *c, const sp_tensor *t, sp_tp_weight w, float *dst,
                          sp_error *err)
{
    sp_tp_slice s = sp_tp_plan_slice(&c->plan, &c->cfg, w);
    if (sp_tp_slice_to_f32(t, &s, dst, err) != 0)
        return sp_error_wrap(err, "engine: %s", sp_tp_weight_name(w));
    return 0;
}

static int cpu_load_layer(sp_engine_cpu *c, const sp_layer_tensors *lt, cpu_layer *cl, float *p,
                          sp_error *err)
{
    int64_t H = c->H, qd = c->NH * c->D, kvd = c->NKV * c->D, F = c->F;
    cl->attn_norm = p, p += H;
    cl->mlp_norm = p, p += H;
    cl->wqkv = p, p += c->QKV * H;
    cl->wo = p, p += H * qd;
    cl->wgu = p, p += 2 * F * H;
    cl->wdown = p;
    if (cpu_load_tensor(lt->attn_norm, H, cl->attn_norm, err) ||
        cpu_load_tensor(lt->mlp_norm, H, cl->mlp_norm, err) ||
        cpu_load_shard(c, lt->q, SP_TP_W_Q, cl->wqkv, err) ||
        cpu_load_shard(c, lt->k, SP_TP_W_K, cl->wqkv + qd * H, err) ||
        cpu_load_shard(c, lt->v, SP_TP_W_V, cl->wqkv + (qd + kvd) * H, err) ||
        cpu_load_shard(c, lt->o, SP_TP_W_O, cl->wo, err) ||
        cpu_load_shard(c, lt->gate, SP_TP_W_GATE, cl->wgu, err) ||
        cpu_load_shard(c, lt->up, SP_TP_W_UP, cl->wgu + F * H, err) ||
        cpu_load_shard(c, lt->down, SP_TP_W_DOWN, cl->wdown, err))
        return -1;
    return 0;
}

static int cpu_load_weights(sp_engine_cpu *c, const sp_model *m, sp_error *err)
{
    int tied = m->lm_head == m->embed || m->cfg.tie_embeddings;
    size_t layer_f = 0, total = 0;
    if (cpu_arena_floats(c, tied, &layer_f, &total, err) != 0) return -1;
    c->arena = malloc(total * sizeof(float));
    if (!c->arena)
        return sp_error_set(err, "engine: cannot allocate %zu bytes of fp32 weights",
                            total * sizeof(float));
    float *p = c->arena;
    c->embed = p, p += c->V * c->H;
    c->lm_head = tied ? c->embed : p;
    if (!tied) p += c->V * c->H;
    c->final_norm = p, p += c->H;
    if (cpu_load_tensor(m->embed, c->V * c->H, c->embed, err) ||
        cpu_load_tensor(m->final_norm, c->H, c->final_norm, err) ||
        (!tied && cpu_load_tensor(m->lm_head, c->V * c->H, c->lm_head, err)))
        return -1;
    c->layers = sp_xcalloc((size_t)c->L, sizeof *c->layers);
    for (int64_t l = 0; l < c->L; l++, p += layer_f)
        if (cpu_load_layer(c, &m->layers[l], &c->layers[l], p, err) != 0)
            return sp_error_wrap(err, "layer %lld", (long long)l);
    SP_ASSERT(p == c->arena + total);
    return 0;
}

/* Dimensions, shard plan and weights of this rank (rank/size 0/1 without TP). */
static int cpu_setup(sp_engine_cpu *c, const sp_model *m, int rank, int size, sp_error *err)
{
    const sp_model_config *g = &m->cfg;
    if (g->hidden < 1 || g->ffn < 1 || g->n_kv_heads < 1 || g->n_heads % g->n_kv_heads != 0 ||
        g->head_dim < 2 || g->head_dim % 2 || g->vocab < 1 || g->n_layers < 1)
        return sp_error_set(err, "engine: unsupported dimensions (H %lld, F %lld, NH %lld, NKV "
                            "%lld, D %lld)", (long long)g->hidden, (long long)g->ffn,
                            (long long)g->n_heads, (long long)g->n_kv_heads,
                            (long long)g->head_dim);
    if (sp_tp_plan_make(g, rank, size, &c->plan, err) != 0) return -1;
    c->H = g->hidden, c->D = g->head_dim, c->V = g->vocab, c->L = g->n_layers;
    c->F = c->plan.ffn.count, c->NH = c->plan.heads.count, c->NKV = c->plan.kv_heads.count;
    c->QKV = (c->NH + 2 * c->NKV) * c->D;
    return cpu_load_weights(c, m, err);
}

int sp_engine_cpu_create(const sp_model *m, const sp_engine_options *opt, MPI_Comm group,
                         sp_engine_cpu **out, sp_error *err)
{
    *out = NULL;
    sp_engine_cpu *c = sp_xcalloc(1, sizeof *c);
    c->cfg = m->cfg;
    c->comm = MPI_COMM_NULL;
    int rank = 0, size = 1;
    if (group != MPI_COMM_NULL) {
        MPI_Comm_size(group, &size);
        if (size > 1) {
            MPI_Comm_dup(group, &c->comm); /* collective: the whole group is here */
            MPI_Comm_rank(c->comm, &rank);
        }
    }
    if (opt->threads > 0) openblas_set_num_threads(opt->threads);
    int rc = cpu_setup(c, m, rank, size, err);
    if (size > 1) rc = sp_tp_agree(c->comm, rc, "tensor parallelism", err);
    if (rc != 0) {
        sp_engine_cpu_free(c);
        return -1;
    }
    c->inv_freq = sp_xmalloc((size_t)(c->D / 2) * sizeof(float));
    sp_ref_rope_inv_freq(&c->cfg, c->D, c->inv_freq);
    *out = c;
    return 0;
}

void sp_engine_cpu_free(sp_engine_cpu *c)
{
    if (!c) return;
    if (c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
    free(c->arena);
    free(c->layers);
    free(c->inv_freq);
    free(c->cos_t);
    free(c->sin_t);
    free(c->ws);
    free(c->pos);
    free(c->hook_in);
    free(c->lora_u);
    free(c);
}

/* Rope tables cover positions [0, n_pos). */
static void cpu_rope_reserve(sp_engine_cpu *c, int64_t n_pos)
{
    if (n_pos <= c->rope_cap) return;
    size_t n = (size_t)n_pos * (size_t)(c->D / 2) * sizeof(float);
    c->cos_t = sp_xrealloc(c->cos_t, n);
    c->sin_t = sp_xrealloc(c->sin_t, n);
    sp_ref_rope_table(c->inv_freq, c->D / 2, n_pos, c->cos_t, c->sin_t);
    c->rope_cap = n_pos;
}

/* Activation views for one call, carved from the workspace. */
typedef struct {
    float *x;      /* [T, H] residual stream */
    float *xn;     /* [T, H] normed */
    float *qkv;    /* [T, QKV] */
    float *att;    /* [T, NH*D] */
    float *gu;     /* [T, 2F] */
    float *hid;    /* [T, F] */
    float *part;   /* [T, H] partial sums of o / down (TP only) */
    float *scores; /* attention scratch */
    float *hx;     /* [C, H] head rows */
    float *logits; /* [C, V] */
} cpu_acts;

static int cpu_workspace(sp_engine_cpu *c, const sp_batch *b, cpu_acts *a, sp_error *err)
{
    int64_t max_n = 0;
    for (int32_t i = 0; i < b->n_items; i++)
        if (b->item_off[i + 1] - b->item_off[i] > max_n) max_n = b->item_off[i + 1] - b->item_off[i];
    int tp = c->plan.size > 1;
    size_t T = (size_t)b->n_tokens, per_tok = (size_t)((2 + tp) * c->H + c->QKV + c->NH * c->D +
                                                       3 * c->F);
    size_t sizes[3], total = 0;
    if (b->n_tokens > INT32_MAX) /* BLAS takes int dimensions */
        return sp_error_set(err, "engine: batch of %lld tokens is larger than %d",
                            (long long)b->n_tokens, INT32_MAX);
    if (sp_mul_size(T, per_tok, &sizes[0]))
        return sp_error_set(err, "engine: activation size overflows for %zu tokens", T);
    sizes[1] = (size_t)sp_cpu_attention_scratch(max_n);
    sizes[2] = (size_t)(SP_CPU_HEAD_CHUNK * (c->H + c->V));
    for (int i = 0; i < 3; i++)
        if (sp_add_size(total, sizes[i], &total) || total > SIZE_MAX / sizeof(float))
            return sp_error_set(err, "engine: workspace size overflows");
    if (total > c->ws_cap) {
        free(c->ws);
        c->ws = malloc(total * sizeof(float));
        c->ws_cap = c->ws ? total : 0;
        if (!c->ws) return sp_error_set(err, "engine: cannot allocate %zu bytes of activations",
                                        total * sizeof(float));
    }
    float *p = c->ws;
    a->x = p, p += T * c->H;
    a->xn = p, p += T * c->H;
    a->qkv = p, p += T * c->QKV;
    a->att = p, p += T * c->NH * c->D;
    a->gu = p, p += T * 2 * c->F;
    a->hid = p, p += T * c->F;
    a->part = tp ? p : NULL;
    p += tp ? T * c->H : 0;
    a->scores = p, p += sizes[1];
    a->hx = p, p += SP_CPU_HEAD_CHUNK * c->H;
    a->logits = p;
    if ((int64_t)T > c->pos_cap) {
        c->pos = sp_xrealloc(c->pos, T * sizeof(int32_t));
        c->pos_cap = (int64_t)T;
    }
    return 0;
}

/* C[M, N] (+)= A[M, K] W[N, K]^T. */
static void cpu_linear(float *C, const float *A, const float *W, int64_t M, int64_t N, int64_t K,
                       float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, A, (int)K,
                W, (int)K, beta, C, (int)N);
}

/* x[T, H] += the group's sum of A[T, K] W[H, K]^T (each rank holds its K columns). Without TP
 * one sgemm with beta 1, as always; with TP a partial product, MPI_Allreduce, then the add. */
static void cpu_linear_rowpar(sp_engine_cpu *c, float *x, float *part, const float *A,
                              const float *W, int64_t T, int64_t K)
{
    if (c->plan.size == 1) {
        cpu_linear(x, A, W, T, c->H, K, 1.0f);
        return;
    }
    cpu_linear(part, A, W, T, c->H, K, 0.0f);
    size_t n = (size_t)T * (size_t)c->H;
    for (size_t i = 0; i < n;) { /* MPI counts are int */
        int chunk = n - i > (size_t)(INT32_MAX / 2) ? INT32_MAX / 2 : (int)(n - i);
        int rc = MPI_Allreduce(MPI_IN_PLACE, part + i, chunk, MPI_FLOAT, MPI_SUM, c->comm);
        SP_ASSERT_MSG(rc == MPI_SUCCESS, "tensor parallelism: MPI_Allreduce failed (%d)", rc);
        i += (size_t)chunk;
    }
    sp_ref_add(x, part, n);
}

int sp_engine_cpu_set_lora(sp_engine_cpu *c, const sp_lora *lora, sp_error *err)
{
    if (!lora) {
        c->lora = NULL;
        return 0;
    }
    if (c->plan.size > 1)
        return sp_error_set(err, "not implemented: LoRA adapters with tensor parallelism");
    if (lora->n_layers != c->L || lora->cfg.rank < 1)
        return sp_error_set(err, "engine: adapter has %d layers and rank %d, the model %lld layers",
                            lora->n_layers, lora->cfg.rank, (long long)c->L);
    int64_t qd = c->NH * c->D, kvd = c->NKV * c->D;
    int64_t in[SP_LORA_NT] = {c->H, c->H, c->H, qd, c->H, c->H, c->F};
    int64_t out[SP_LORA_NT] = {qd, kvd, kvd, c->H, c->F, c->F, c->H};
    for (int t = 0; t < SP_LORA_NT; t++)
        if (lora->in[t] != in[t] || lora->out[t] != out[t])
            return sp_error_set(err, "engine: adapter %s is [%lld -> %lld], the model's [%lld -> "
                                "%lld]", sp_lora_target_names[t], (long long)lora->in[t],
                                (long long)lora->out[t], (long long)in[t], (long long)out[t]);
    c->lora = lora;
    return 0;
}

/* Y[T, out] (row stride ldy) += scaling (X A^T) B^T for target t of layer l, when the adapter
 * has it. X [T, in] with row stride ldx. */
static void cpu_lora_add(sp_engine_cpu *c, int64_t l, int t, const float *X, int64_t ldx,
                         float *Y, int64_t ldy, int64_t T)
{
    const sp_lora *lo = c->lora;
    size_t i = (size_t)l * SP_LORA_NT + (size_t)t;
    if (!lo || !lo->A[i]) return;
    int r = lo->cfg.rank;
    int64_t in = lo->in[t], out = lo->out[t];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, r, (int)in, 1.0f, X, (int)ldx,
                lo->A[i], (int)in, 0.0f, c->lora_u, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)out, r,
                sp_lora_scaling(lo), c->lora_u, r, lo->B[i], r, 1.0f, Y, (int)ldy);
}

static void cpu_layer_forward(sp_engine_cpu *c, int64_t l, const sp_batch *b, cpu_acts *a)
{
    const cpu_layer *ly = &c->layers[l];
    int64_t T = b->n_tokens, H = c->H, F = c->F, qd = c->NH * c->D, kvd = c->NKV * c->D;
    float eps = (float)c->cfg.rms_eps;
    /* attention block: x += o(attn(rope(qkv(norm(x))))) */
    sp_ref_rmsnorm(a->xn, a->x, ly->attn_norm, T, H, eps);
    cpu_linear(a->qkv, a->xn, ly->wqkv, T, c->QKV, H, 0.0f);
    cpu_lora_add(c, l, SP_LORA_Q, a->xn, H, a->qkv, c->QKV, T);
    cpu_lora_add(c, l, SP_LORA_K, a->xn, H, a->qkv + qd, c->QKV, T);
    cpu_lora_add(c, l, SP_LORA_V, a->xn, H, a->qkv + qd + kvd, c->QKV, T);
    sp_ref_rope_apply(a->qkv, T, c->QKV, c->NH, c->D, c->pos, c->cos_t, c->sin_t);
    sp_ref_rope_apply(a->qkv + qd, T, c->QKV, c->NKV, c->D, c->pos, c->cos_t, c->sin_t);
    sp_cpu_attention(a->att, a->qkv, b, c->NH, c->NKV, c->D, a->scores);
    cpu_linear_rowpar(c, a->x, a->part, a->att, ly->wo, T, qd);
    cpu_lora_add(c, l, SP_LORA_O, a->att, qd, a->x, H, T);
    /* MLP block: x += down(silu(gate(norm(x))) * up(norm(x))) */
    sp_ref_rmsnorm(a->xn, a->x, ly->mlp_norm, T, H, eps);
    cpu_linear(a->gu, a->xn, ly->wgu, T, 2 * F, H, 0.0f);
    cpu_lora_add(c, l, SP_LORA_GATE, a->xn, H, a->gu, 2 * F, T);
    cpu_lora_add(c, l, SP_LORA_UP, a->xn, H, a->gu + F, 2 * F, T);
    sp_ref_swiglu(a->hid, a->gu, a->gu + F, T, F, 2 * F);
    cpu_linear_rowpar(c, a->x, a->part, a->hid, ly->wdown, T, F);
    cpu_lora_add(c, l, SP_LORA_DOWN, a->hid, F, a->x, H, T);
}

/* Final norm + lm_head + log-softmax on the requested rows, SP_CPU_HEAD_CHUNK rows at a time. */
static void cpu_head(sp_engine_cpu *c, const sp_head_request *req, cpu_acts *a)
{
    int64_t H = c->H, V = c->V;
    for (int64_t r0 = 0; r0 < req->n_rows; r0 += SP_CPU_HEAD_CHUNK) {
        int64_t n = req->n_rows - r0 < SP_CPU_HEAD_CHUNK ? req->n_rows - r0 : SP_CPU_HEAD_CHUNK;
        for (int64_t r = 0; r < n; r++)
            memcpy(a->hx + r * H, a->x + req->rows[r0 + r] * H, (size_t)H * sizeof(float));
        sp_ref_rmsnorm(a->hx, a->hx, c->final_norm, n, H, (float)c->cfg.rms_eps);
        float *logits = req->out_logits ? req->out_logits + r0 * V : a->logits;
        cpu_linear(logits, a->hx, c->lm_head, n, V, H, 0.0f);
        if (req->targets)
            for (int64_t r = 0; r < n; r++)
                req->out_logprob[r0 + r] =
                    sp_ref_logsoftmax_at(logits + r * V, V, req->targets[r0 + r]);
    }
}

void sp_engine_cpu_set_layer_hook(sp_engine_cpu *c, sp_layer_hook_fn fn, void *ctx)
{
    c->hook = fn;
    c->hook_ctx = ctx;
}

void sp_engine_cpu_set_stop(sp_engine_cpu *c, int (*stop)(void))
{
    c->stop = c->plan.size > 1 ? NULL : stop; /* a TP group must finish its collectives */
}

/* Runs layer l, reporting it to the hook when one is set. */
static void cpu_run_layer(sp_engine_cpu *c, int64_t l, const sp_batch *b, cpu_acts *a)
{
    if (!c->hook) {
        cpu_layer_forward(c, l, b, a);
        return;
    }
    size_t n = (size_t)b->n_tokens * (size_t)c->H; /* fits: the workspace holds T x H already */
    if (n > c->hook_cap) {
        c->hook_in = sp_xrealloc(c->hook_in, n * sizeof(float));
        c->hook_cap = n;
    }
    memcpy(c->hook_in, a->x, n * sizeof(float));
    cpu_layer_forward(c, l, b, a);
    c->hook(c->hook_ctx, (int)l, c->hook_in, a->x, b->n_tokens, c->H);
}

int sp_engine_cpu_forward(sp_engine_cpu *c, const sp_batch *b, const sp_mask *removed,
                          const sp_head_request *req, sp_error *err)
{
    cpu_acts a = {0};
    int rc = cpu_workspace(c, b, &a, err);
    if (c->plan.size > 1) rc = sp_tp_agree(c->comm, rc, "tensor parallelism", err);
    if (rc != 0) return -1;
    if (c->lora) { /* scratch for u = x A^T */
        size_t need = (size_t)b->n_tokens * (size_t)c->lora->cfg.rank;
        if (need > c->lora_u_cap) {
            c->lora_u = sp_xrealloc(c->lora_u, need * sizeof(float));
            c->lora_u_cap = need;
        }
    }
    int32_t max_pos = sp_batch_positions(b, c->pos);
    cpu_rope_reserve(c, (int64_t)max_pos + 1);
    for (int64_t t = 0; t < b->n_tokens; t++)
        memcpy(a.x + t * c->H, c->embed + (int64_t)b->tokens[t] * c->H,
               (size_t)c->H * sizeof(float));
    for (int64_t l = 0; l < c->L; l++) {
        if (removed && sp_mask_test(removed, (int)l)) continue;
        if (c->stop && c->stop())
            return sp_error_set(err, "interrupted before layer %lld: stop requested",
                                (long long)l);
        cpu_run_layer(c, l, b, &a);
    }
    cpu_head(c, req, &a);
    return 0;
}
