/* engine_cuda.c — the CUDA backend (engine_cuda.h): load and convert the weights once, then the
 * Llama forward on a packed batch with the kernels of kernels/ and cuBLASLt GEMMs. The residual
 * stream x [T, H] stays fp32 on the device; each GEMM reads bf16 activations written by the
 * kernel before it (rmsnorm, attention, swiglu), accumulates in fp32, and o / down add into x
 * (beta 1). Under tensor parallelism (tp_shard.h plan, one GPU per rank) each rank holds its
 * heads and FFN columns; o and down write a partial [T, H] product that NCCL sums over the group
 * (tp_nccl.h) before the residual add, as on the CPU path. Skipped layers are not run. The head
 * runs on the requested rows in chunks. Every host <-> device copy is ordered on the engine's
 * (non-blocking) stream: the per-forward uploads go with cudaMemcpyAsync from pinned staging,
 * the one-time ones (weights, rope tables) are waited for before their host buffer is reused.
 * Without CUDA at build time, create fails with "not implemented". */
#include "engine_cuda.h"

#ifdef SP_HAVE_CUDA
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/attention.h"
#include "../kernels/cuda_check.h"
#include "../kernels/embed.h"
#include "../kernels/gemm.h"
#include "../kernels/logsoftmax.h"
#include "../kernels/ref_ops.h"
#include "../kernels/rmsnorm.h"
#include "../kernels/rope.h"
#include "../kernels/swiglu.h"
#include "tp_group.h"
#include "tp_nccl.h"
#include "tp_shard.h"

#define SP_CUDA_HEAD_CHUNK 512 /* rows per lm_head GEMM: bounds the [C, V] logits buffer */
#define SP_CUDA_ALIGN 256      /* byte alignment of every carved device view */

typedef struct {
    float *attn_norm, *mlp_norm; /* [H] fp32 */
    uint16_t *wqkv;              /* [QKV, H] bf16: q rows, k rows, v rows */
    uint16_t *wo;                /* [H, NH*D] bf16 */
    uint16_t *wgu;               /* [2F, H] bf16: gate rows, then up rows */
    uint16_t *wdown;             /* [H, F] bf16 */
} cuda_layer;

struct sp_engine_cuda {
    sp_model_config cfg;
    int64_t H, F, NH, NKV, D, V, L, QKV; /* F, NH, NKV: this rank's shard */
    sp_tp_plan plan;       /* size 1: the whole model */
    MPI_Comm comm;         /* duplicate of the TP group; MPI_COMM_NULL without TP */
    sp_tp_nccl *nccl;      /* NULL without TP */
    int device;
    int sync_layers;       /* SWARMPRUNE_CUDA_SYNC=1: synchronize after every layer */
    cudaStream_t stream;
    sp_cuda_gemm *gemm;
    char *warena;          /* device: every weight */
    size_t warena_bytes;
    uint16_t *embed;       /* [V, H] bf16 */
    uint16_t *lm_head;     /* [V, H] bf16 (== embed when tied) */
    float *final_norm;     /* [H] fp32 */
    cuda_layer *layers;    /* [L] (host array of device views) */
    float *inv_freq;       /* host [D/2] */
    float *d_cos, *d_sin;  /* device [rope_cap, D/2] */
    int64_t rope_cap;
    char *ws;              /* device workspace, grow-only */
    size_t ws_cap;
    void *hbuf;            /* host scratch (rope tables, hook copies), grow-only */
    size_t hbuf_cap;
    char *pin;             /* pinned host staging of the per-forward uploads, grow-only */
    size_t pin_cap;
    size_t free_at_create, least_free, total_mem;
    sp_layer_hook_fn hook;
    void *hook_ctx;
};

/* Bump allocator over a byte range; with base NULL it only measures. */
typedef struct {
    char *base;
    size_t off;
    int overflow;
} cuda_carver;

static void *cuda_carve(cuda_carver *cv, size_t count, size_t elem)
{
    size_t bytes = 0, at = (cv->off + SP_CUDA_ALIGN - 1) / SP_CUDA_ALIGN * SP_CUDA_ALIGN;
    if (at < cv->off || sp_mul_size(count, elem, &bytes) || sp_add_size(at, bytes, &cv->off))
        cv->overflow = 1;
    return cv->base && !cv->overflow ? cv->base + at : NULL;
}

/* Lowest free device memory seen: the peak in use is free_at_create - least_free. */
static void cuda_note_memory(sp_engine_cuda *c)
{
    size_t fr = 0, total = 0;
    SP_CUDA_CHECK(cudaMemGetInfo(&fr, &total));
    if (fr < c->least_free) c->least_free = fr;
}

/* Host -> device copy on the engine's stream, waited for: the (pageable) host buffer may be
 * reused as soon as this returns, and no kernel on the stream can run before the data is there
 * (a plain cudaMemcpy goes on the legacy stream, which the non-blocking stream does not wait
 * for). For the one-time uploads: weights and rope tables. */
static void cuda_put_sync(const sp_engine_cuda *c, void *dst, const void *src, size_t bytes)
{
    SP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    SP_CUDA_CHECK(cudaStreamSynchronize(c->stream));
}

/* Rounds n fp32 values of the host buffer `stage` to bf16 (in place: element i is read before
 * slot i is written) and copies them to device dst. */
static void cuda_put_bf16(const sp_engine_cuda *c, uint16_t *dst, float *stage, size_t n)
{
    uint16_t *h = (uint16_t *)stage;
    for (size_t i = 0; i < n; i++) h[i] = sp_f32_to_bf16(stage[i]);
    cuda_put_sync(c, dst, h, n * 2);
}

/* Copies tensor t (numel elements, any dtype sp_tensor_to_f32 knows) to device dst as bf16
 * (dst_f32 NULL) or fp32. BF16 tensors go up unchanged; others are rounded once. stage: host
 * scratch of numel floats. */
static int cuda_upload_tensor(const sp_engine_cuda *c, const sp_tensor *t, int64_t numel,
                              uint16_t *dst_bf16, float *dst_f32, float *stage, sp_error *err)
{
    if (!t) return sp_error_set(err, "engine: a required tensor is missing from the model");
    if (sp_tensor_numel(t) != numel)
        return sp_error_set(err, "engine: tensor %s has %lld elements, expected %lld", t->name,
                            (long long)sp_tensor_numel(t), (long long)numel);
    if (dst_bf16 && t->dtype == SP_DT_BF16) {
        cuda_put_sync(c, dst_bf16, t->data, (size_t)numel * 2);
        return 0;
    }
    if (sp_tensor_to_f32(t, stage, err) != 0) return sp_error_wrap(err, "engine: %s", t->name);
    if (dst_f32) {
        cuda_put_sync(c, dst_f32, stage, (size_t)numel * 4);
        return 0;
    }
    cuda_put_bf16(c, dst_bf16, stage, (size_t)numel);
    return 0;
}

/* Uploads this rank's block of weight w (tp_shard.h) as bf16 to dst. BF16 tensors go up as
 * they are (one 2-D copy: whole rows, or a column band); others are converted through `stage`
 * (host, at least the block's element count in floats) and rounded once. */
static int cuda_upload_shard(const sp_engine_cuda *c, const sp_tensor *t, sp_tp_weight w,
                             uint16_t *dst, float *stage, sp_error *err)
{
    sp_tp_slice s = sp_tp_plan_slice(&c->plan, &c->cfg, w);
    if (t && t->dtype == SP_DT_BF16 && t->ndim == 2 && t->shape[0] == s.n_rows &&
        t->shape[1] == s.n_cols) {
        const uint16_t *src = (const uint16_t *)t->data + s.rows.begin * s.n_cols + s.cols.begin;
        SP_CUDA_CHECK(cudaMemcpy2DAsync(dst, (size_t)s.cols.count * 2, src, (size_t)s.n_cols * 2,
                                        (size_t)s.cols.count * 2, (size_t)s.rows.count,
                                        cudaMemcpyHostToDevice, c->stream));
        SP_CUDA_CHECK(cudaStreamSynchronize(c->stream)); /* as cuda_put_sync */
        return 0;
    }
    if (sp_tp_slice_to_f32(t, &s, stage, err) != 0)
        return sp_error_wrap(err, "engine (cuda): %s", sp_tp_weight_name(w));
    cuda_put_bf16(c, dst, stage, (size_t)(s.rows.count * s.cols.count));
    return 0;
}

/* Carves the weight views (cv->base NULL: measures only). */
static void cuda_carve_weights(sp_engine_cuda *c, int tied, cuda_carver *cv)
{
    size_t H = (size_t)c->H, F = (size_t)c->F, qd = (size_t)(c->NH * c->D);
    c->embed = cuda_carve(cv, (size_t)c->V * H, 2);
    c->lm_head = tied ? c->embed : cuda_carve(cv, (size_t)c->V * H, 2);
    c->final_norm = cuda_carve(cv, H, 4);
    for (int64_t l = 0; l < c->L; l++) {
        cuda_layer *ly = &c->layers[l];
        ly->attn_norm = cuda_carve(cv, H, 4);
        ly->mlp_norm = cuda_carve(cv, H, 4);
        ly->wqkv = cuda_carve(cv, (size_t)c->QKV * H, 2);
        ly->wo = cuda_carve(cv, H * qd, 2);
        ly->wgu = cuda_carve(cv, 2 * F * H, 2);
        ly->wdown = cuda_carve(cv, H * F, 2);
    }
}

static int cuda_load_layer(sp_engine_cuda *c, const sp_layer_tensors *lt, const cuda_layer *ly,
                           float *stage, sp_error *err)
{
    int64_t H = c->H, qd = c->NH * c->D, kvd = c->NKV * c->D, F = c->F;
    if (cuda_upload_tensor(c, lt->attn_norm, H, NULL, ly->attn_norm, stage, err) ||
        cuda_upload_tensor(c, lt->mlp_norm, H, NULL, ly->mlp_norm, stage, err) ||
        cuda_upload_shard(c, lt->q, SP_TP_W_Q, ly->wqkv, stage, err) ||
        cuda_upload_shard(c, lt->k, SP_TP_W_K, ly->wqkv + qd * H, stage, err) ||
        cuda_upload_shard(c, lt->v, SP_TP_W_V, ly->wqkv + (qd + kvd) * H, stage, err) ||
        cuda_upload_shard(c, lt->o, SP_TP_W_O, ly->wo, stage, err) ||
        cuda_upload_shard(c, lt->gate, SP_TP_W_GATE, ly->wgu, stage, err) ||
        cuda_upload_shard(c, lt->up, SP_TP_W_UP, ly->wgu + F * H, stage, err) ||
        cuda_upload_shard(c, lt->down, SP_TP_W_DOWN, ly->wdown, stage, err))
        return -1;
    return 0;
}

static int cuda_load_weights(sp_engine_cuda *c, const sp_model *m, sp_error *err)
{
    int tied = m->lm_head == m->embed || m->cfg.tie_embeddings;
    c->layers = sp_xcalloc((size_t)c->L, sizeof *c->layers);
    cuda_carver cv = {NULL, 0, 0};
    cuda_carve_weights(c, tied, &cv);
    if (cv.overflow) return sp_error_set(err, "engine: weight sizes overflow");
    if (cudaMalloc((void **)&c->warena, cv.off) != cudaSuccess) {
        (void)cudaGetLastError();
        return sp_error_set(err, "engine: cannot allocate %zu bytes of device memory for the "
                            "bf16 weights", cv.off);
    }
    c->warena_bytes = cv.off;
    cv = (cuda_carver){c->warena, 0, 0};
    cuda_carve_weights(c, tied, &cv);
    SP_ASSERT(cv.off == c->warena_bytes);
    int64_t biggest = c->V * c->H; /* the largest single tensor: embed/lm_head or an FFN one */
    if (c->F * c->H > biggest) biggest = c->F * c->H;
    if (c->NH * c->D * c->H > biggest) biggest = c->NH * c->D * c->H;
    float *stage = sp_xmalloc((size_t)biggest * sizeof(float));
    int rc = cuda_upload_tensor(c, m->embed, c->V * c->H, c->embed, NULL, stage, err) ||
             cuda_upload_tensor(c, m->final_norm, c->H, NULL, c->final_norm, stage, err) ||
             (!tied &&
              cuda_upload_tensor(c, m->lm_head, c->V * c->H, c->lm_head, NULL, stage, err));
    for (int64_t l = 0; !rc && l < c->L; l++)
        if (cuda_load_layer(c, &m->layers[l], &c->layers[l], stage, err) != 0)
            rc = sp_error_wrap(err, "layer %lld", (long long)l);
    free(stage);
    return rc ? -1 : 0;
}

/* The device of this rank: SWARMPRUNE_CUDA_DEVICE when set, else the node-local rank (Open
 * MPI, MPICH/Hydra or Slurm variables) modulo the visible devices, else device 0. Workers of a
 * node thus spread over its GPUs; under `srun --gpus-per-task=1` each sees one, device 0. */
static int cuda_pick_device(int *device, sp_error *err)
{
    int count = 0;
    SP_CUDA_CHECK(cudaGetDeviceCount(&count));
    const char *forced = getenv("SWARMPRUNE_CUDA_DEVICE");
    if (forced && *forced) {
        char *end = NULL;
        long v = strtol(forced, &end, 10);
        if (*end || v < 0 || v >= count)
            return sp_error_set(err, "engine (cuda): SWARMPRUNE_CUDA_DEVICE=\"%s\" is not a device "
                                "index in [0, %d)", forced, count);
        *device = (int)v;
        return 0;
    }
    static const char *const local_vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                             "SLURM_LOCALID"};
    long local = 0;
    for (size_t i = 0; i < sizeof local_vars / sizeof local_vars[0]; i++) {
        const char *v = getenv(local_vars[i]);
        char *end = NULL;
        if (v && *v && (local = strtol(v, &end, 10)) >= 0 && !*end) break;
        local = 0;
    }
    *device = (int)(local % count);
    return 0;
}

/* Dimensions (this rank's shard), device, stream, GEMM context and weights. */
static int cuda_setup(sp_engine_cuda *c, const sp_model *m, int rank, int size, sp_error *err)
{
    const sp_model_config *g = &m->cfg;
    if (g->hidden < 1 || g->ffn < 1 || g->n_kv_heads < 1 || g->n_heads % g->n_kv_heads != 0 ||
        g->head_dim < 2 || g->head_dim % 2 || g->head_dim > SP_CUDA_ATTN_MAX_D || g->vocab < 1 ||
        g->n_layers < 1)
        return sp_error_set(err, "engine (cuda): unsupported dimensions (H %lld, F %lld, NH %lld, "
                            "NKV %lld, D %lld; D must be even and <= %d)", (long long)g->hidden,
                            (long long)g->ffn, (long long)g->n_heads, (long long)g->n_kv_heads,
                            (long long)g->head_dim, SP_CUDA_ATTN_MAX_D);
    if (sp_tp_plan_make(g, rank, size, &c->plan, err) != 0) return -1;
    c->H = g->hidden, c->D = g->head_dim, c->V = g->vocab, c->L = g->n_layers;
    c->F = c->plan.ffn.count, c->NH = c->plan.heads.count, c->NKV = c->plan.kv_heads.count;
    c->QKV = (c->NH + 2 * c->NKV) * c->D;
    char why[256];
    if (!sp_cuda_probe(why, sizeof why)) return sp_error_set(err, "engine (cuda): %s", why);
    if (cuda_pick_device(&c->device, err) != 0) return -1;
    const char *sync = getenv("SWARMPRUNE_CUDA_SYNC");
    c->sync_layers = sync && !strcmp(sync, "1");
    SP_CUDA_CHECK(cudaSetDevice(c->device));
    SP_CUDA_CHECK(cudaMemGetInfo(&c->free_at_create, &c->total_mem));
    c->least_free = c->free_at_create;
    SP_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    if (sp_cuda_gemm_create(c->stream, &c->gemm, err) != 0) return -1;
    if (cuda_load_weights(c, m, err) != 0) return -1;
    cuda_note_memory(c);
    c->inv_freq = sp_xmalloc((size_t)(c->D / 2) * sizeof(float));
    sp_ref_rope_inv_freq(&c->cfg, c->D, c->inv_freq);
    return 0;
}

int sp_engine_cuda_create(const sp_model *m, const sp_engine_options *opt, MPI_Comm group,
                          sp_engine_cuda **out, sp_error *err)
{
    (void)opt;
    *out = NULL;
    sp_engine_cuda *c = sp_xcalloc(1, sizeof *c);
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
    int rc = cuda_setup(c, m, rank, size, err);
    if (size > 1) {
        rc = sp_tp_agree(c->comm, rc, "tensor parallelism (cuda)", err);
        if (rc == 0) rc = sp_tp_nccl_create(c->comm, &c->nccl, err);
    }
    if (rc != 0) {
        sp_engine_cuda_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void sp_engine_cuda_free(sp_engine_cuda *c)
{
    if (!c) return;
    sp_tp_nccl_free(c->nccl);
    sp_cuda_gemm_free(c->gemm);
    if (c->stream) SP_CUDA_CHECK(cudaStreamDestroy(c->stream));
    void *dev[] = {c->warena, c->d_cos, c->d_sin, c->ws}; /* none allocated: no CUDA call */
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) SP_CUDA_CHECK(cudaFree(dev[i]));
    if (c->pin) SP_CUDA_CHECK(cudaFreeHost(c->pin));
    if (c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
    free(c->layers);
    free(c->inv_freq);
    free(c->hbuf);
    free(c);
}

void sp_engine_cuda_set_layer_hook(sp_engine_cuda *c, sp_layer_hook_fn fn, void *ctx)
{
    c->hook = fn;
    c->hook_ctx = ctx;
}

void sp_engine_cuda_memory(const sp_engine_cuda *c, sp_engine_cuda_mem *out)
{
    out->weight_bytes = c->warena_bytes;
    out->workspace_bytes = c->ws_cap;
    out->peak_used_bytes = c->free_at_create - c->least_free;
    out->device_total_bytes = c->total_mem;
}

/* Host scratch of at least `bytes`. */
static void *cuda_host_scratch(sp_engine_cuda *c, size_t bytes)
{
    if (bytes > c->hbuf_cap) {
        c->hbuf = sp_xrealloc(c->hbuf, bytes);
        c->hbuf_cap = bytes;
    }
    return c->hbuf;
}

/* Device rope tables cover positions [0, n_pos): the host tables of sp_ref_rope_table. */
static void cuda_rope_reserve(sp_engine_cuda *c, int64_t n_pos)
{
    if (n_pos <= c->rope_cap) return;
    int64_t half = c->D / 2;
    size_t n = (size_t)n_pos * (size_t)half, bytes = n * sizeof(float);
    float *h = cuda_host_scratch(c, 2 * bytes);
    sp_ref_rope_table(c->inv_freq, half, n_pos, h, h + n);
    SP_CUDA_CHECK(cudaStreamSynchronize(c->stream)); /* old tables may still be in use */
    SP_CUDA_CHECK(cudaFree(c->d_cos));
    SP_CUDA_CHECK(cudaFree(c->d_sin));
    SP_CUDA_CHECK(cudaMalloc((void **)&c->d_cos, bytes));
    SP_CUDA_CHECK(cudaMalloc((void **)&c->d_sin, bytes));
    cuda_put_sync(c, c->d_cos, h, bytes);
    cuda_put_sync(c, c->d_sin, h + n, bytes);
    c->rope_cap = n_pos;
}

/* Device views of one forward call, carved from the workspace. */
typedef struct {
    float *x;          /* [T, H] fp32 residual stream */
    float *part;       /* [T, H] fp32 row-parallel partial product (TP only, else NULL) */
    uint16_t *xn;      /* [T, H] bf16 normed stream (GEMM input) */
    float *qkv;        /* [T, QKV] fp32 */
    uint16_t *att;     /* [T, NH*D] bf16 attention output (o GEMM input) */
    uint16_t *gu;      /* [T, 2F] bf16 gate | up (the widest activation: bf16 halves it) */
    uint16_t *hid;     /* [T, F] bf16 swiglu output (down GEMM input) */
    int32_t *tokens;   /* [T] */
    int32_t *pos;      /* [T] */
    int64_t *item_off; /* [n_items + 1] */
    int32_t *prefix;   /* [n_items] */
    int32_t *branch;   /* [T] or NULL */
    int32_t *tiles;    /* [2 n_tiles] */
    int64_t *rows;     /* [C] head rows of the chunk */
    int32_t *targets;  /* [C] */
    float *hx;         /* [C, H] fp32 gathered rows */
    uint16_t *hxn;     /* [C, H] bf16 normed rows */
    float *logits;     /* [C, V] fp32 */
    float *lp;         /* [C] fp32 */
} cuda_acts;

static void cuda_carve_acts(const sp_engine_cuda *c, const sp_batch *b, int64_t n_tiles,
                            cuda_carver *cv, cuda_acts *a)
{
    size_t T = (size_t)b->n_tokens, C = SP_CUDA_HEAD_CHUNK, H = (size_t)c->H;
    a->x = cuda_carve(cv, T * H, 4);
    a->part = c->plan.size > 1 ? cuda_carve(cv, T * H, 4) : NULL;
    a->xn = cuda_carve(cv, T * H, 2);
    a->qkv = cuda_carve(cv, T * (size_t)c->QKV, 4);
    a->att = cuda_carve(cv, T * (size_t)(c->NH * c->D), 2);
    a->gu = cuda_carve(cv, T * (size_t)(2 * c->F), 2);
    a->hid = cuda_carve(cv, T * (size_t)c->F, 2);
    a->tokens = cuda_carve(cv, T, 4);
    a->pos = cuda_carve(cv, T, 4);
    a->item_off = cuda_carve(cv, (size_t)b->n_items + 1, 8);
    a->prefix = cuda_carve(cv, (size_t)b->n_items, 4);
    a->branch = b->branch ? cuda_carve(cv, T, 4) : NULL;
    a->tiles = cuda_carve(cv, 2 * (size_t)n_tiles, 4);
    a->rows = cuda_carve(cv, C, 8);
    a->targets = cuda_carve(cv, C, 4);
    a->hx = cuda_carve(cv, C * H, 4);
    a->hxn = cuda_carve(cv, C * H, 2);
    a->logits = cuda_carve(cv, C * (size_t)c->V, 4);
    a->lp = cuda_carve(cv, C, 4);
}

/* Sizes and (re)allocates the workspace for batch b, then carves the views. */
static int cuda_workspace(sp_engine_cuda *c, const sp_batch *b, int64_t n_tiles, cuda_acts *a,
                          sp_error *err)
{
    cuda_carver cv = {NULL, 0, 0};
    cuda_carve_acts(c, b, n_tiles, &cv, a);
    if (cv.overflow || b->n_tokens > INT32_MAX)
        return sp_error_set(err, "engine (cuda): activation size overflows for %lld tokens",
                            (long long)b->n_tokens);
    if (cv.off > c->ws_cap) {
        SP_CUDA_CHECK(cudaStreamSynchronize(c->stream));
        SP_CUDA_CHECK(cudaFree(c->ws));
        c->ws = NULL, c->ws_cap = 0;
        if (cudaMalloc((void **)&c->ws, cv.off) != cudaSuccess) {
            (void)cudaGetLastError();
            c->ws = NULL;
            return sp_error_set(err, "engine (cuda): cannot allocate %zu bytes of device "
                                "activations for %lld tokens", cv.off, (long long)b->n_tokens);
        }
        c->ws_cap = cv.off;
        cuda_note_memory(c);
    }
    cv = (cuda_carver){c->ws, 0, 0};
    cuda_carve_acts(c, b, n_tiles, &cv, a);
    return 0;
}

/* Views of the pinned host staging of one forward: the head chunk's rows and targets, then the
 * batch tables (the device views of cuda_acts they go to have the same shapes). */
typedef struct {
    int64_t *rows;     /* [C] */
    int32_t *targets;  /* [C] */
    int64_t *item_off; /* [n_items + 1] */
    int32_t *tokens;   /* [T] */
    int32_t *pos;      /* [T] */
    int32_t *tiles;    /* [2 n_tiles] */
    int32_t *prefix;   /* [n_items] */
    int32_t *branch;   /* [T] or NULL */
} cuda_stage;

static void cuda_carve_stage(const sp_batch *b, int64_t n_tiles, cuda_carver *cv, cuda_stage *st)
{
    size_t T = (size_t)b->n_tokens, ni = (size_t)b->n_items;
    st->rows = cuda_carve(cv, SP_CUDA_HEAD_CHUNK, 8);
    st->targets = cuda_carve(cv, SP_CUDA_HEAD_CHUNK, 4);
    st->item_off = cuda_carve(cv, ni + 1, 8);
    st->tokens = cuda_carve(cv, T, 4);
    st->pos = cuda_carve(cv, T, 4);
    st->tiles = cuda_carve(cv, 2 * (size_t)n_tiles, 4);
    st->prefix = cuda_carve(cv, ni, 4);
    st->branch = b->branch ? cuda_carve(cv, T, 4) : NULL;
}

/* Carves the staging views from the pinned buffer, growing it when needed. The stream is idle
 * here (every forward ends with a synchronize), so no queued copy still reads the old buffer. */
static void cuda_stage_make(sp_engine_cuda *c, const sp_batch *b, int64_t n_tiles, cuda_stage *st)
{
    cuda_carver cv = {NULL, 0, 0};
    cuda_carve_stage(b, n_tiles, &cv, st);
    SP_ASSERT(!cv.overflow); /* smaller than the workspace, already checked */
    if (cv.off > c->pin_cap) {
        SP_CUDA_CHECK(cudaStreamSynchronize(c->stream));
        if (c->pin) SP_CUDA_CHECK(cudaFreeHost(c->pin));
        c->pin = NULL, c->pin_cap = 0;
        SP_CUDA_CHECK(cudaMallocHost((void **)&c->pin, cv.off));
        c->pin_cap = cv.off;
    }
    cv = (cuda_carver){c->pin, 0, 0};
    cuda_carve_stage(b, n_tiles, &cv, st);
}

/* Host (pinned) -> device, queued on the engine's stream (truly asynchronous: the host buffer
 * must stay unchanged until the stream has passed this point). */
static void cuda_put_async(const sp_engine_cuda *c, void *dst, const void *pinned, size_t bytes)
{
    SP_CUDA_CHECK(cudaMemcpyAsync(dst, pinned, bytes, cudaMemcpyHostToDevice, c->stream));
}

/* Stages tokens, positions and the attention structure in pinned memory and queues their
 * copies ahead of the layers on the stream. The rope tables already cover the batch
 * (positions < the longest item's length). */
static void cuda_upload_batch(sp_engine_cuda *c, const sp_batch *b, int config, int64_t n_tiles,
                              const cuda_stage *st, const cuda_acts *a)
{
    size_t T = (size_t)b->n_tokens, ni = (size_t)b->n_items;
    memcpy(st->tokens, b->tokens, T * 4);
    memcpy(st->item_off, b->item_off, (ni + 1) * 8);
    memcpy(st->prefix, b->prefix_len, ni * 4);
    if (b->branch) memcpy(st->branch, b->branch, T * 4);
    sp_batch_positions(b, st->pos);
    sp_cuda_attn_tiles(b->item_off, b->n_items, config, st->tiles);
    cuda_put_async(c, a->tokens, st->tokens, T * 4);
    cuda_put_async(c, a->pos, st->pos, T * 4);
    cuda_put_async(c, a->tiles, st->tiles, 2 * (size_t)n_tiles * 4);
    cuda_put_async(c, a->item_off, st->item_off, (ni + 1) * 8);
    cuda_put_async(c, a->prefix, st->prefix, ni * 4);
    if (b->branch) cuda_put_async(c, a->branch, st->branch, T * 4);
}

/* x[T, H] += the group's sum of A[T, K] W[H, K]^T (each rank holds its K columns). Without TP
 * one GEMM with beta 1; with TP a partial product, the NCCL sum, then the add (the CPU path's
 * order of operations). */
static void cuda_linear_rowpar(sp_engine_cuda *c, const cuda_acts *a, const uint16_t *A,
                               const uint16_t *W, int64_t T, int64_t K)
{
    if (c->plan.size == 1) {
        sp_cuda_gemm_nt(c->gemm, a->x, 0, A, W, T, c->H, K, 1.0f);
        return;
    }
    size_t n = (size_t)T * (size_t)c->H;
    sp_cuda_gemm_nt(c->gemm, a->part, 0, A, W, T, c->H, K, 0.0f);
    sp_tp_nccl_sum(c->nccl, a->part, n, c->stream);
    sp_cuda_add(a->x, a->part, n, c->stream);
}

static void cuda_layer_forward(sp_engine_cuda *c, const cuda_layer *ly, int64_t T,
                               const sp_cuda_attn_batch *ab, int config, const cuda_acts *a)
{
    int64_t H = c->H, F = c->F, qd = c->NH * c->D;
    float eps = (float)c->cfg.rms_eps, scale = (float)(1.0 / sqrt((double)c->D));
    cudaStream_t s = c->stream;
    /* attention block: x += o(attn(rope(qkv(norm(x))))) */
    sp_cuda_rmsnorm_bf16(a->xn, a->x, ly->attn_norm, T, H, eps, 0, s);
    sp_cuda_gemm_nt(c->gemm, a->qkv, 0, a->xn, ly->wqkv, T, c->QKV, H, 0.0f);
    sp_cuda_rope_apply(a->qkv, T, c->QKV, c->NH, c->D, a->pos, c->d_cos, c->d_sin, s);
    sp_cuda_rope_apply(a->qkv + qd, T, c->QKV, c->NKV, c->D, a->pos, c->d_cos, c->d_sin, s);
    sp_cuda_attention(a->att, 1, a->qkv, 0, ab, c->NH, c->NKV, c->D, scale, config, s);
    cuda_linear_rowpar(c, a, a->att, ly->wo, T, qd);
    /* MLP block: x += down(silu(gate(norm(x))) * up(norm(x))) */
    sp_cuda_rmsnorm_bf16(a->xn, a->x, ly->mlp_norm, T, H, eps, 0, s);
    sp_cuda_gemm_nt(c->gemm, a->gu, 1, a->xn, ly->wgu, T, 2 * F, H, 0.0f);
    sp_cuda_swiglu_bf16_in(a->hid, a->gu, a->gu + F, T, F, 2 * F, s);
    cuda_linear_rowpar(c, a, a->hid, ly->wdown, T, F);
}

/* Final norm + lm_head + log-softmax on the requested rows, SP_CUDA_HEAD_CHUNK rows at a time.
 * Rows and targets go up through the staging (st), which each chunk's final synchronize frees
 * for the next chunk. */
static void cuda_head(sp_engine_cuda *c, const sp_head_request *req, const cuda_stage *st,
                      const cuda_acts *a)
{
    int64_t H = c->H, V = c->V;
    cudaStream_t s = c->stream;
    for (int64_t r0 = 0; r0 < req->n_rows; r0 += SP_CUDA_HEAD_CHUNK) {
        int64_t n = req->n_rows - r0 < SP_CUDA_HEAD_CHUNK ? req->n_rows - r0 : SP_CUDA_HEAD_CHUNK;
        memcpy(st->rows, req->rows + r0, (size_t)n * 8);
        cuda_put_async(c, a->rows, st->rows, (size_t)n * 8);
        sp_cuda_gather_rows(a->hx, a->x, a->rows, n, H, s);
        sp_cuda_rmsnorm_bf16(a->hxn, a->hx, c->final_norm, n, H, (float)c->cfg.rms_eps, 0, s);
        sp_cuda_gemm_nt(c->gemm, a->logits, 0, a->hxn, c->lm_head, n, V, H, 0.0f);
        if (req->targets) {
            memcpy(st->targets, req->targets + r0, (size_t)n * 4);
            cuda_put_async(c, a->targets, st->targets, (size_t)n * 4);
            sp_cuda_logsoftmax_gather(a->lp, a->logits, a->targets, n, V, 0, s);
            SP_CUDA_CHECK(cudaMemcpyAsync(req->out_logprob + r0, a->lp, (size_t)n * 4,
                                          cudaMemcpyDeviceToHost, s));
        }
        if (req->out_logits)
            SP_CUDA_CHECK(cudaMemcpyAsync(req->out_logits + r0 * V, a->logits,
                                          (size_t)(n * V) * 4, cudaMemcpyDeviceToHost, s));
        SP_CUDA_CHECK(cudaStreamSynchronize(s)); /* staging and device buffers reused next chunk */
    }
}

/* Runs layer l, reporting it to the hook (host copies of the stream) when one is set. */
static void cuda_run_layer(sp_engine_cuda *c, int64_t l, int64_t T, const sp_cuda_attn_batch *ab,
                           int config, const cuda_acts *a)
{
    if (!c->hook) {
        cuda_layer_forward(c, &c->layers[l], T, ab, config, a);
        return;
    }
    size_t n = (size_t)T * (size_t)c->H; /* fits: the workspace holds T x H already */
    float *in = cuda_host_scratch(c, 2 * n * sizeof(float)), *out = in + n;
    SP_CUDA_CHECK(cudaMemcpyAsync(in, a->x, n * 4, cudaMemcpyDeviceToHost, c->stream));
    cuda_layer_forward(c, &c->layers[l], T, ab, config, a);
    SP_CUDA_CHECK(cudaMemcpyAsync(out, a->x, n * 4, cudaMemcpyDeviceToHost, c->stream));
    SP_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    c->hook(c->hook_ctx, (int)l, in, out, T, c->H);
}

int sp_engine_cuda_forward(sp_engine_cuda *c, const sp_batch *b, const sp_mask *removed,
                           const sp_head_request *req, sp_error *err)
{
    int64_t max_n = 0;
    for (int32_t i = 0; i < b->n_items; i++)
        if (b->item_off[i + 1] - b->item_off[i] > max_n) max_n = b->item_off[i + 1] - b->item_off[i];
    int config = sp_cuda_attn_pick(max_n, c->D);
    int64_t n_tiles = sp_cuda_attn_tiles(b->item_off, b->n_items, config, NULL);
    if (n_tiles > INT32_MAX)
        return sp_error_set(err, "engine (cuda): %lld attention tiles", (long long)n_tiles);
    SP_CUDA_CHECK(cudaSetDevice(c->device)); /* the calling thread may have switched */
    cuda_rope_reserve(c, max_n); /* positions are < the item length */
    cuda_acts a;
    int rc = cuda_workspace(c, b, n_tiles, &a, err);
    if (c->plan.size > 1) /* no rank may enter NCCL alone */
        rc = sp_tp_agree(c->comm, rc, "tensor parallelism (cuda)", err);
    if (rc != 0) return -1;
    cuda_stage st;
    cuda_stage_make(c, b, n_tiles, &st);
    cuda_upload_batch(c, b, config, n_tiles, &st, &a);
    sp_cuda_attn_batch ab = {b->n_tokens, b->n_items, a.item_off, a.prefix, a.branch,
                             (int32_t)n_tiles, a.tiles};
    sp_cuda_embed(a.x, c->embed, a.tokens, b->n_tokens, c->H, c->stream);
    for (int64_t l = 0; l < c->L; l++) {
        if (removed && sp_mask_test(removed, (int)l)) continue;
        sp_fatal_context("layer", l); /* a failing CUDA/cuBLAS/NCCL call names the layer */
        cuda_run_layer(c, l, b->n_tokens, &ab, config, &a);
        if (c->sync_layers) SP_CUDA_CHECK(cudaStreamSynchronize(c->stream)); /* async faults */
    }
    sp_fatal_context("lm_head", 0);
    cuda_head(c, req, &st, &a);
    SP_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    sp_fatal_context(NULL, 0);
    return 0;
}

#else /* !SP_HAVE_CUDA */

int sp_engine_cuda_create(const sp_model *m, const sp_engine_options *opt, MPI_Comm group,
                          sp_engine_cuda **out, sp_error *err)
{
    (void)m, (void)opt, (void)group;
    *out = NULL;
    return sp_error_set(err, "not implemented: CUDA backend (this build has no CUDA: nvcc was not "
                        "found at configure time or SP_WITH_CUDA=OFF)");
}

void sp_engine_cuda_free(sp_engine_cuda *c) { SP_ASSERT(c == NULL); }

void sp_engine_cuda_set_layer_hook(sp_engine_cuda *c, sp_layer_hook_fn fn, void *ctx)
{
    (void)fn, (void)ctx;
    SP_ASSERT_MSG(c == NULL, "CUDA engine without CUDA");
}

int sp_engine_cuda_forward(sp_engine_cuda *c, const sp_batch *b, const sp_mask *removed,
                           const sp_head_request *req, sp_error *err)
{
    (void)c, (void)b, (void)removed, (void)req;
    return sp_error_set(err, "not implemented: CUDA backend (built without CUDA)");
}

void sp_engine_cuda_memory(const sp_engine_cuda *c, sp_engine_cuda_mem *out)
{
    (void)c;
    *out = (sp_engine_cuda_mem){0, 0, 0, 0};
}

#endif
