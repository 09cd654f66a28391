/* attention.h — CUDA causal GQA attention of a packed batch (C interface) with the prefix/branch
 * visibility rule of worker/engine.h (sp_ref_attn_visible): flash-style, online softmax over
 * blocks of keys, fp32 softmax and accumulation, never a [T x T] matrix. Inputs and output
 * fp32 or bf16. Dimension letters: T tokens, NH/NKV heads, D head dim (even, <= 256),
 * QKV = (NH + 2 NKV) D. Work is cut into tiles of queries of one item (see sp_cuda_attn_tiles). */
#ifndef SP_KERNELS_ATTENTION_H
#define SP_KERNELS_ATTENTION_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SP_CUDA_ATTN_MAX_D 256
/* config 0: 4 queries per block, 1: 16 queries per block (both fp32 CUDA cores), 2: 64 queries
 * per block on the tensor cores (bf16 operands, fp32 accumulation and softmax; head dim a
 * multiple of 16 and <= 128, 16-byte aligned qkv; sm_80+). */
#define SP_CUDA_ATTN_N_CONFIGS 3

/* The batch structure on the device. tiles [n_tiles x 2] int32: (item index, first item-local
 * query of the tile), built on the host by sp_cuda_attn_tiles for the config used. */
typedef struct {
    int64_t n_tokens;           /* T */
    int32_t n_items;
    const int64_t *item_off;    /* device [n_items + 1] */
    const int32_t *prefix_len;  /* device [n_items] */
    const int32_t *branch;      /* device [T] or NULL (every item plain causal) */
    int32_t n_tiles;
    const int32_t *tiles;       /* device [n_tiles x 2] */
} sp_cuda_attn_batch;

/* The configuration the engine uses for items of at most max_item_len tokens and head dim D:
 * 2 when D allows it and max_item_len >= 64, else 1 when max_item_len >= 64, else 0. */
int sp_cuda_attn_pick(int64_t max_item_len, int64_t D);
/* Queries per block of a configuration. */
int sp_cuda_attn_rows(int config);
/* Host: writes the tiles of a batch (item_off: host [n_items + 1]) into tiles (host, NULL to
 * only count) and returns their number. */
int64_t sp_cuda_attn_tiles(const int64_t *item_off, int32_t n_items, int config, int32_t *tiles);

/* out [T, NH*D] (head h of token t at t*NH*D + h*D) = attention of qkv [T, QKV] (q heads at h*D,
 * k heads at NH*D + g*D, v heads at (NH+NKV)*D + g*D; rope already applied). *_bf16 != 0 means
 * that tensor is bf16 (uint16_t bit patterns), else fp32. scale is usually 1/sqrt(D). */
void sp_cuda_attention(void *out, int out_bf16, const void *qkv, int qkv_bf16,
                       const sp_cuda_attn_batch *b, int64_t NH, int64_t NKV, int64_t D,
                       float scale, int config, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
