/* gemm.h — the matrix products of the CUDA engine (C interface): C[M, N] = beta C + A[M, K]
 * W[N, K]^T (the layout of a Linear layer's weight), bf16 inputs, fp32 output and accumulation,
 * through cublasGemmEx with CUBLAS_COMPUTE_32F (a first step: cuBLASLt with epilogues and
 * algorithm selection is the next one). Device pointers; the handle's stream is used. */
#ifndef SP_KERNELS_GEMM_H
#define SP_KERNELS_GEMM_H

#include <cublas_v2.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* C [M, N] fp32 row-major, A [M, K] bf16, W [N, K] bf16 (uint16_t bit patterns). M, N, K must
 * fit an int (asserted). beta 0 overwrites C (C may hold NaN), beta 1 accumulates (residual). */
void sp_cuda_gemm_nt(cublasHandle_t handle, float *C, const uint16_t *A, const uint16_t *W,
                     int64_t M, int64_t N, int64_t K, float beta);

#ifdef __cplusplus
}
#endif
#endif
