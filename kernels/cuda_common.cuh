/* cuda_common.cuh — device helpers shared by the kernels (CUDA only): fp32 <-> bf16 loads and
 * stores (bf16 travels through C interfaces as uint16_t bit patterns), warp and block sums and
 * maxima, grid sizing. Reductions accumulate in fp32. */
#ifndef SP_CUDA_COMMON_CUH
#define SP_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <stdint.h>

#include "cuda_check.h"

#define SP_WARP 32

/* Loads/stores of fp32 or bf16 element i, computing in fp32. */
__device__ __forceinline__ float sp_ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float sp_ld(const __nv_bfloat16 *p, int64_t i)
{
    return __bfloat162float(p[i]);
}
__device__ __forceinline__ void sp_st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void sp_st(__nv_bfloat16 *p, int64_t i, float v)
{
    p[i] = __float2bfloat16_rn(v); /* round to nearest even, like sp_f32_to_bf16 */
}

__device__ __forceinline__ float sp_warp_sum(float v)
{
    for (int o = SP_WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float sp_warp_max(float v)
{
    for (int o = SP_WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Block-wide sum (is_max = 0) or max (is_max = 1); every thread gets the result. blockDim.x is a
 * multiple of 32, at most 1024. `sh` holds 32 floats; the call ends with a barrier so `sh` can
 * be reused. */
__device__ __forceinline__ float sp_block_reduce(float v, float *sh, int is_max)
{
    int lane = threadIdx.x % SP_WARP, warp = threadIdx.x / SP_WARP;
    int nw = blockDim.x / SP_WARP;
    v = is_max ? sp_warp_max(v) : sp_warp_sum(v);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float r = lane < nw ? sh[lane] : (is_max ? -INFINITY : 0.0f);
    r = is_max ? sp_warp_max(r) : sp_warp_sum(r);
    __syncthreads();
    return r;
}

/* Grid of ceil(n / threads) blocks for an element-wise kernel (grid-stride loops cover the
 * rest when the count is capped). */
static inline unsigned sp_grid_1d(int64_t n, int threads)
{
    int64_t g = (n + threads - 1) / threads;
    if (g < 1) g = 1;
    if (g > 65535LL * 16) g = 65535LL * 16;
    return (unsigned)g;
}

#endif
