/* rmsnorm.h — CUDA RMSNorm launchers (C interface): out[t, :] = x[t, :] * rsqrt(mean(x[t, :]^2)
 * + eps) * w, the formula and operation order of sp_ref_rmsnorm, sum of squares in fp32. One
 * block per row; `threads` (a multiple of 32 in [32, 1024], or 0 = sp_cuda_rmsnorm_threads(H))
 * is the launch configuration. Device pointers; T tokens, H hidden. */
#ifndef SP_KERNELS_RMSNORM_H
#define SP_KERNELS_RMSNORM_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The block size the launchers pick for rows of H values. */
int sp_cuda_rmsnorm_threads(int64_t H);

/* x [T, H] fp32, w [H] fp32, out [T, H] fp32 (may alias x). */
void sp_cuda_rmsnorm_f32(float *out, const float *x, const float *w, int64_t T, int64_t H,
                         float eps, int threads, cudaStream_t stream);
/* Same, out [T, H] bf16 (the input of the next GEMM), rounded to nearest even. */
void sp_cuda_rmsnorm_bf16(uint16_t *out, const float *x, const float *w, int64_t T, int64_t H,
                          float eps, int threads, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
