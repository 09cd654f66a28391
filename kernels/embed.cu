/* embed.cu — embedding lookup, row gather and fp32 -> bf16 conversion (see embed.h). Plain
 * grid-stride element-wise kernels: one thread per output element, one launch configuration
 * (256 threads, grid from sp_grid_1d). */
#include "cuda_common.cuh"
#include "embed.h"

#define SP_EMBED_THREADS 256

__global__ void sp_embed_kernel(float *x, const __nv_bfloat16 *emb, const int32_t *tokens,
                                int64_t T, int64_t H)
{
    int64_t n = T * H;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t t = i / H, c = i - t * H;
        x[i] = __bfloat162float(emb[(int64_t)tokens[t] * H + c]);
    }
}

__global__ void sp_gather_rows_kernel(float *out, const float *x, const int64_t *rows, int64_t R,
                                      int64_t H)
{
    int64_t n = R * H;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i / H, c = i - r * H;
        out[i] = x[rows[r] * H + c];
    }
}

__global__ void sp_f32_to_bf16_kernel(__nv_bfloat16 *out, const float *in, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(in[i]);
}

extern "C" void sp_cuda_embed(float *x, const uint16_t *emb, const int32_t *tokens, int64_t T,
                              int64_t H, cudaStream_t stream)
{
    if (T * H == 0) return;
    sp_embed_kernel<<<sp_grid_1d(T * H, SP_EMBED_THREADS), SP_EMBED_THREADS, 0, stream>>>(
        x, reinterpret_cast<const __nv_bfloat16 *>(emb), tokens, T, H);
    SP_CUDA_CHECK_LAUNCH();
}

extern "C" void sp_cuda_gather_rows(float *out, const float *x, const int64_t *rows, int64_t R,
                                    int64_t H, cudaStream_t stream)
{
    if (R * H == 0) return;
    sp_gather_rows_kernel<<<sp_grid_1d(R * H, SP_EMBED_THREADS), SP_EMBED_THREADS, 0, stream>>>(
        out, x, rows, R, H);
    SP_CUDA_CHECK_LAUNCH();
}

extern "C" void sp_cuda_f32_to_bf16(uint16_t *out, const float *in, int64_t n, cudaStream_t stream)
{
    if (n == 0) return;
    sp_f32_to_bf16_kernel<<<sp_grid_1d(n, SP_EMBED_THREADS), SP_EMBED_THREADS, 0, stream>>>(
        reinterpret_cast<__nv_bfloat16 *>(out), in, n);
    SP_CUDA_CHECK_LAUNCH();
}
