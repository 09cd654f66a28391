/* logsoftmax.h — CUDA launcher (C interface) of the head's scoring: for each of R rows of V
 * logits (the rows the caller asked for, already gathered), log softmax(logits[r])[targets[r]]
 * = (logit - max) - log(sum exp(logit_i - max)), as sp_ref_logsoftmax_at. One block per row;
 * `threads` (multiple of 32 in [32, 1024], 0 = 512) is the launch configuration. */
#ifndef SP_KERNELS_LOGSOFTMAX_H
#define SP_KERNELS_LOGSOFTMAX_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* logits [R, V] fp32, targets [R] int32 in [0, V), out [R] fp32. Device pointers. */
void sp_cuda_logsoftmax_gather(float *out, const float *logits, const int32_t *targets, int64_t R,
                               int64_t V, int threads, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
