/* gemm.c — C[M, N] = beta C + A W^T on the GPU through cublasGemmEx (see gemm.h). Row-major
 * C[M, N] is column-major C^T[N, M] = W A^T: W's rows (row-major [N, K]) read as a column-major
 * K x N matrix, transposed; A read as column-major K x M, not transposed. Compiled only with
 * CUDA (SP_HAVE_CUDA); host code, so gcc builds it. */
#ifdef SP_HAVE_CUDA
#include "gemm.h"

#include <limits.h>

#include "cuda_check.h"

void sp_cuda_gemm_nt(cublasHandle_t handle, float *C, const uint16_t *A, const uint16_t *W,
                     int64_t M, int64_t N, int64_t K, float beta)
{
    SP_ASSERT(M >= 0 && N > 0 && K > 0 && M <= INT_MAX && N <= INT_MAX && K <= INT_MAX);
    if (M == 0) return;
    const float alpha = 1.0f;
    SP_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha,
                                 W, CUDA_R_16BF, (int)K, A, CUDA_R_16BF, (int)K, &beta, C,
                                 CUDA_R_32F, (int)N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
#else
typedef int sp_gemm_built_without_cuda; /* keeps the translation unit non-empty */
#endif
