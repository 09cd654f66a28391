/* logsoftmax.cu — target log-probabilities of gathered logit rows (see logsoftmax.h). One block
 * per row: a strided max, a strided sum of expf(l - max) in fp32 (each thread adds ~V/threads
 * terms, then a tree), the target's value. Only [R] floats leave the kernel. */
#include "cuda_common.cuh"
#include "logsoftmax.h"

#define SP_LOGSOFTMAX_THREADS 512

__global__ void sp_logsoftmax_kernel(float *out, const float *logits, const int32_t *targets,
                                     int64_t V)
{
    __shared__ float sh[SP_WARP];
    const float *row = logits + (int64_t)blockIdx.x * V;
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, row[i]);
    mx = sp_block_reduce(mx, sh, 1);
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) sum += expf(row[i] - mx);
    sum = sp_block_reduce(sum, sh, 0);
    if (threadIdx.x == 0) out[blockIdx.x] = (row[targets[blockIdx.x]] - mx) - logf(sum);
}

extern "C" void sp_cuda_logsoftmax_gather(float *out, const float *logits, const int32_t *targets,
                                          int64_t R, int64_t V, int threads, cudaStream_t stream)
{
    if (threads == 0) threads = SP_LOGSOFTMAX_THREADS;
    SP_ASSERT_MSG(threads >= 32 && threads <= 1024 && threads % 32 == 0,
                  "logsoftmax: bad block size %d", threads);
    SP_ASSERT(R <= 0x7fffffff && V > 0);
    if (R == 0) return;
    sp_logsoftmax_kernel<<<(unsigned)R, threads, 0, stream>>>(out, logits, targets, V);
    SP_CUDA_CHECK_LAUNCH();
}
