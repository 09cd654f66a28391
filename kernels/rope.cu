/* rope.cu — rotary embedding in place on the fp32 q/k columns of the fused qkv activations (see
 * rope.h). One thread per (token, head, pair); the products are written with __fmul_rn so that
 * nvcc cannot contract them into FMAs, which keeps the result equal to the plain-C reference. */
#include "cuda_common.cuh"
#include "rope.h"

#define SP_ROPE_THREADS 256

__global__ void sp_rope_kernel(float *x, int64_t T, int64_t stride, int64_t n_heads, int64_t half,
                               const int32_t *pos, const float *cos_t, const float *sin_t)
{
    int64_t n = T * n_heads * half;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e % half, th = e / half, h = th % n_heads, t = th / n_heads;
        float *xh = x + t * stride + h * 2 * half;
        int64_t p = (int64_t)pos[t] * half + i;
        float c = cos_t[p], s = sin_t[p], x1 = xh[i], x2 = xh[i + half];
        xh[i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
        xh[i + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
    }
}

extern "C" void sp_cuda_rope_apply(float *x, int64_t T, int64_t stride, int64_t n_heads, int64_t D,
                                   const int32_t *pos, const float *cos_t, const float *sin_t,
                                   cudaStream_t stream)
{
    SP_ASSERT(D >= 2 && D % 2 == 0 && stride >= n_heads * D);
    int64_t n = T * n_heads * (D / 2);
    if (n == 0) return;
    sp_rope_kernel<<<sp_grid_1d(n, SP_ROPE_THREADS), SP_ROPE_THREADS, 0, stream>>>(
        x, T, stride, n_heads, D / 2, pos, cos_t, sin_t);
    SP_CUDA_CHECK_LAUNCH();
}
