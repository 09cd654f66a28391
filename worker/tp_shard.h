/* tp_shard.h — the tensor-parallel sharding plan, independent of any backend (the CPU/MPI engine
 * and the later GPU/NCCL engine share it). Rank r of P owns query heads [r NH/P, (r+1) NH/P),
 * the matching KV heads [r NKV/P, (r+1) NKV/P) (NH % P == 0 and NKV % P == 0 required, so GQA
 * groups never straddle ranks) and FFN columns [r F/P, (r+1) F/P) (floor division: uneven F is
 * fine). q/k/v and gate/up are column-parallel (the rank keeps its ROWS of the [out, in] weight),
 * o and down are row-parallel (it keeps its COLUMNS); their [T x H] partial products are summed
 * over the group. Embedding, norms and the head are replicated. */
#ifndef SP_TP_SHARD_H
#define SP_TP_SHARD_H

#include <stdint.h>

#include "../common/error.h"
#include "../common/model_config.h"
#include "../common/safetensors.h"

typedef struct {
    int64_t begin, count; /* [begin, begin + count) */
} sp_tp_range;

typedef struct {
    int rank, size;       /* r, P (P = 1: everything) */
    int64_t D;            /* head dim */
    sp_tp_range heads;    /* query heads */
    sp_tp_range kv_heads; /* KV heads */
    sp_tp_range ffn;      /* FFN columns */
} sp_tp_plan;

/* The per-layer weights a plan slices (shapes as stored, [out, in]). */
typedef enum {
    SP_TP_W_Q = 0, /* [NH*D, H]   rows of own heads */
    SP_TP_W_K,     /* [NKV*D, H]  rows of own KV heads */
    SP_TP_W_V,     /* [NKV*D, H]  rows of own KV heads */
    SP_TP_W_O,     /* [H, NH*D]   columns of own heads */
    SP_TP_W_GATE,  /* [F, H]      rows of own FFN columns */
    SP_TP_W_UP,    /* [F, H]      rows of own FFN columns */
    SP_TP_W_DOWN,  /* [H, F]      columns of own FFN columns */
    SP_TP_W_COUNT
} sp_tp_weight;

/* The part of one full [n_rows x n_cols] weight matrix a rank owns. */
typedef struct {
    int64_t n_rows, n_cols; /* the full matrix */
    sp_tp_range rows, cols; /* the owned block */
} sp_tp_slice;

/* Plans rank `rank` of `size`. Refuses (message naming NH / NKV / F and P) when heads do not
 * divide or a rank would own no FFN column. */
int sp_tp_plan_make(const sp_model_config *cfg, int rank, int size, sp_tp_plan *plan,
                    sp_error *err);

/* The block of weight w owned under plan. */
sp_tp_slice sp_tp_plan_slice(const sp_tp_plan *plan, const sp_model_config *cfg, sp_tp_weight w);

const char *sp_tp_weight_name(sp_tp_weight w); /* "q_proj", ... */

/* Converts only the owned block of t (F32/F16/BF16, 2-D [n_rows, n_cols]) to fp32 into dst
 * [rows.count x cols.count] row-major. The message names the tensor. */
int sp_tp_slice_to_f32(const sp_tensor *t, const sp_tp_slice *s, float *dst, sp_error *err);

#endif
