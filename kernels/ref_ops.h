/* ref_ops.h — plain-C fp32 reference of every op of the Llama forward pass. The CPU engine uses
 * the element-wise ones directly (matrix products go to OpenBLAS); the CUDA kernels are tested
 * against all of them. Plain loops, double accumulators where a sum is taken, no tricks.
 * Dimension letters: T tokens, H hidden, F FFN width, NH/NKV heads, D head dim, V vocab,
 * M/N/K generic matrix sizes. All tensors are row-major fp32. */
#ifndef SP_REF_OPS_H
#define SP_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/model_config.h"

/* out[t, :] = x[t, :] * rsqrt(mean(x[t, :]^2) + eps) * w. x, out [T, H]; w [H]. out may be x. */
void sp_ref_rmsnorm(float *out, const float *x, const float *w, int64_t T, int64_t H, float eps);

/* C[M, N] = beta * C + A[M, K] * W[N, K]^T (the layout of a Linear layer's weight). */
void sp_ref_matmul_nt(float *C, const float *A, const float *W, int64_t M, int64_t N, int64_t K,
                      float beta);

/* Inverse frequencies inv_freq[D/2] of HF's rope initialisation: theta^(-2i/D), then
 * SP_ROPE_LINEAR divides by factor (== positions / factor) and SP_ROPE_LLAMA3 applies the
 * frequency-band rescaling of HF's _compute_llama3_parameters. */
void sp_ref_rope_inv_freq(const sp_model_config *cfg, int64_t D, float *inv_freq);

/* cos/sin tables [n_pos, D/2]: angle = (float)pos * inv_freq[i] (fp32 product as in HF). */
void sp_ref_rope_table(const float *inv_freq, int64_t half, int64_t n_pos, float *cos_t,
                       float *sin_t);

/* Rotates n_heads heads of D values per token in place ("rotate_half" pairs i and i + D/2).
 * x: [T, stride], head h of token t at x + t*stride + h*D; pos [T]; tables [>= max pos + 1, D/2]. */
void sp_ref_rope_apply(float *x, int64_t T, int64_t stride, int64_t n_heads, int64_t D,
                       const int32_t *pos, const float *cos_t, const float *sin_t);

/* The visibility rule of a packed item (see worker/engine.h): token j is visible from token i
 * when j <= i and either j is in the prefix or both are in the same branch. branch: item-local
 * branch ids [n] (0 in the prefix) or NULL (plain causal). */
static inline int sp_ref_attn_visible(int32_t prefix_len, const int32_t *branch, int64_t i,
                                      int64_t j)
{
    if (j > i) return 0;
    if (j < prefix_len || branch == NULL) return 1;
    return branch[i] == branch[j];
}

/* Causal GQA attention over one item of n tokens with the prefix/branch rule. Query head h reads
 * KV head h / (NH / NKV). q [n, q_stride] (head h at h*D), k and v [n, kv_stride] (head g at
 * g*D), out [n, o_stride] (head h at h*D). scale is usually 1/sqrt(D). */
void sp_ref_attention(float *out, int64_t o_stride, const float *q, int64_t q_stride,
                      const float *k, const float *v, int64_t kv_stride, int64_t n,
                      int32_t prefix_len, const int32_t *branch, int64_t NH, int64_t NKV,
                      int64_t D, float scale);

/* out[t, i] = silu(gate[t, i]) * up[t, i], silu(g) = g / (1 + exp(-g)). gate/up rows have stride
 * `in_stride`, out [T, F] is dense. */
void sp_ref_swiglu(float *out, const float *gate, const float *up, int64_t T, int64_t F,
                   int64_t in_stride);

/* x[i] += y[i] (the residual stream). */
void sp_ref_add(float *x, const float *y, size_t n);

/* In-place numerically stable softmax of one row. */
void sp_ref_softmax(float *x, int64_t n);

/* log softmax(logits)[target] of one row of V logits. */
float sp_ref_logsoftmax_at(const float *logits, int64_t V, int32_t target);

#endif
