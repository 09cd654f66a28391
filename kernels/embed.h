/* embed.h — CUDA launchers (C interface) for the gathers and conversions of the forward pass:
 * the token embedding lookup, the gather of the head's requested rows, fp32 -> bf16 rounding.
 * bf16 tensors are passed as uint16_t bit patterns. Every pointer is device memory; launches
 * go to `stream` and are checked (kernels/cuda_check.h). T tokens, H hidden, V vocab, R rows. */
#ifndef SP_KERNELS_EMBED_H
#define SP_KERNELS_EMBED_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* x[t, :] = fp32(emb[tokens[t], :]). x [T, H] fp32, emb [V, H] bf16, tokens [T] in [0, V). */
void sp_cuda_embed(float *x, const uint16_t *emb, const int32_t *tokens, int64_t T, int64_t H,
                   cudaStream_t stream);

/* out[r, :] = x[rows[r], :]. out [R, H] fp32, x [T, H] fp32, rows [R] int64 in [0, T). */
void sp_cuda_gather_rows(float *out, const float *x, const int64_t *rows, int64_t R, int64_t H,
                         cudaStream_t stream);

/* out[i] = bf16(in[i]) rounded to nearest even (== sp_f32_to_bf16). n elements. */
void sp_cuda_f32_to_bf16(uint16_t *out, const float *in, int64_t n, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
