/* gemm.h — the matrix products of the CUDA engine (C interface) through cuBLASLt: C[M, N] =
 * beta C + A[M, K] W[N, K]^T (the layout of a Linear layer's weight), bf16 inputs, fp32
 * accumulation (CUBLAS_COMPUTE_32F), fp32 or bf16 output. One sp_cuda_gemm per stream holds the
 * cuBLASLt handle, a workspace and a small cache of plans (descriptors + the heuristic's first
 * algorithm) keyed by shape, output type and pointer alignment, so a forward pass of repeated
 * shapes queries the heuristic once per shape. Device pointers. */
#ifndef SP_KERNELS_GEMM_H
#define SP_KERNELS_GEMM_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sp_cuda_gemm sp_cuda_gemm;

#define SP_CUDA_GEMM_WORKSPACE (32u << 20) /* bytes of cuBLASLt workspace (Hopper wants >= 32 MiB) */

/* Creates the context on the current device for `stream`. Fails (message) only when the
 * workspace cannot be allocated; library errors are fatal (SP_CUBLAS_CHECK). */
int sp_cuda_gemm_create(cudaStream_t stream, sp_cuda_gemm **out, sp_error *err);
void sp_cuda_gemm_free(sp_cuda_gemm *g);

/* C [M, N] row-major (fp32, or bf16 bit patterns when c_bf16), A [M, K] bf16, W [N, K] bf16
 * (uint16_t bit patterns). M, N, K must fit an int (asserted); M = 0 does nothing. beta 0
 * overwrites C (C may hold NaN: it is not read), beta 1 accumulates (the residual add). */
void sp_cuda_gemm_nt(sp_cuda_gemm *g, void *C, int c_bf16, const uint16_t *A, const uint16_t *W,
                     int64_t M, int64_t N, int64_t K, float beta);

/* Plans built so far (heuristic queries) — for tests and benchmarks. */
int64_t sp_cuda_gemm_plans_built(const sp_cuda_gemm *g);

#ifdef __cplusplus
}
#endif
#endif
