/* rmsnorm.cu — RMSNorm over rows (see rmsnorm.h). One block per row: strided sum of squares in
 * fp32, block reduction, then the scaled write. Two instantiations (fp32 and bf16 output). */
#include "cuda_common.cuh"
#include "rmsnorm.h"

template <typename TO>
__global__ void sp_rmsnorm_kernel(TO *out, const float *x, const float *w, int64_t H, float eps)
{
    __shared__ float sh[SP_WARP];
    const float *xr = x + (int64_t)blockIdx.x * H;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < H; i += blockDim.x) ss += xr[i] * xr[i];
    ss = sp_block_reduce(ss, sh, 0);
    float r = 1.0f / sqrtf(ss / (float)H + eps);
    TO *yr = out + (int64_t)blockIdx.x * H;
    for (int64_t i = threadIdx.x; i < H; i += blockDim.x) sp_st(yr, i, w[i] * (xr[i] * r));
}

extern "C" int sp_cuda_rmsnorm_threads(int64_t H)
{
    return H <= 512 ? 64 : H <= 2048 ? 256 : 512;
}

template <typename TO>
static void sp_rmsnorm_launch(TO *out, const float *x, const float *w, int64_t T, int64_t H,
                              float eps, int threads, cudaStream_t stream)
{
    if (threads == 0) threads = sp_cuda_rmsnorm_threads(H);
    SP_ASSERT_MSG(threads >= 32 && threads <= 1024 && threads % 32 == 0,
                  "rmsnorm: bad block size %d", threads);
    SP_ASSERT(T <= 0x7fffffff && H > 0);
    if (T == 0) return;
    sp_rmsnorm_kernel<TO><<<(unsigned)T, threads, 0, stream>>>(out, x, w, H, eps);
    SP_CUDA_CHECK_LAUNCH();
}

extern "C" void sp_cuda_rmsnorm_f32(float *out, const float *x, const float *w, int64_t T,
                                    int64_t H, float eps, int threads, cudaStream_t stream)
{
    sp_rmsnorm_launch(out, x, w, T, H, eps, threads, stream);
}

extern "C" void sp_cuda_rmsnorm_bf16(uint16_t *out, const float *x, const float *w, int64_t T,
                                     int64_t H, float eps, int threads, cudaStream_t stream)
{
    sp_rmsnorm_launch(reinterpret_cast<__nv_bfloat16 *>(out), x, w, T, H, eps, threads, stream);
}
